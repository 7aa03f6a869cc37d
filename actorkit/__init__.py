"""actorkit: a Trio-native actor runtime with supervision and encrypted peer links.

This module is the public face: it re-exports, and defines nothing.
"""

from ._actor import Actor as Actor
from ._actor import on as on
from ._backoff import Backoff as Backoff
from ._cell import Context as Context
from ._circuit import CircuitState as CircuitState
from ._errors import ActorCrashed as ActorCrashed
from ._errors import ActorkitError as ActorkitError
from ._errors import ActorNotFound as ActorNotFound
from ._errors import ActorStopped as ActorStopped
from ._errors import AskTimeout as AskTimeout
from ._errors import BatchResultMismatch as BatchResultMismatch
from ._errors import CircuitOpen as CircuitOpen
from ._errors import HandlerTimeout as HandlerTimeout
from ._errors import InvalidTransition as InvalidTransition
from ._errors import MailboxFull as MailboxFull
from ._errors import NameTaken as NameTaken
from ._errors import RuntimeClosed as RuntimeClosed
from ._errors import StartFailed as StartFailed
from ._errors import SupervisorGaveUp as SupervisorGaveUp
from ._errors import TooManyChildren as TooManyChildren
from ._errors import UnhandledMessage as UnhandledMessage
from ._handlers import Batch as Batch
from ._logging import configure_logging as configure_logging
from ._mailbox import Mailbox as Mailbox
from ._mailbox import Overflow as Overflow
from ._messages import EVENTS as EVENTS
from ._messages import DeadLetter as DeadLetter
from ._messages import RuntimeEvent as RuntimeEvent
from ._messages import Terminated as Terminated
from ._messages import register_immutable as register_immutable
from ._ref import ActorRef as ActorRef
from ._resilience import CircuitBreaker as CircuitBreaker
from ._resilience import RetryPolicy as RetryPolicy
from ._runtime import Runtime as Runtime
from ._runtime import RuntimeStats as RuntimeStats
from ._runtime import open_runtime as open_runtime
from ._statemachine import EventTimeout as EventTimeout
from ._statemachine import StateMachine as StateMachine
from ._statemachine import StateTimeout as StateTimeout
from ._statemachine import UnreachableStateWarning as UnreachableStateWarning
from ._strategies import Child as Child
from ._strategies import CircuitBreak as CircuitBreak
from ._strategies import Directive as Directive
from ._strategies import Escalate as Escalate
from ._strategies import OneForAll as OneForAll
from ._strategies import OneForOne as OneForOne
from ._strategies import Restart as Restart
from ._strategies import RestForOne as RestForOne
from ._strategies import Strategy as Strategy
from ._strategies import Supervisor as Supervisor
from ._supervisor import SupervisorRef as SupervisorRef
from ._tree import Tree as Tree
from ._tree import TreeNode as TreeNode

__version__ = "0.1.0"
