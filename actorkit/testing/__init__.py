"""Tools for testing actors: probes, fault injection, event capture, and Hypothesis support
(message strategies, model-based checks, async stateful machines) — all on Trio's clock.

The pytest plugin (fixtures ``runtime`` and ``probe``) is registered when actorkit is
installed; see :mod:`actorkit.testing.plugin`.
"""

import trio as _trio
from hypothesis import register_random as _register_random

from . import strategies as strategies
from ._events import EventLog as EventLog
from ._events import capture_events as capture_events
from ._faults import InjectedFault as InjectedFault
from ._faults import crash as crash
from ._faults import fill_mailbox as fill_mailbox
from ._faults import hang as hang
from ._model import Crashes as Crashes
from ._model import Fault as Fault
from ._model import ModelMismatch as ModelMismatch
from ._model import check_model as check_model
from ._probe import Probe as Probe
from ._probe import ProbeFailure as ProbeFailure
from ._stateful import TrioStateMachine as TrioStateMachine

# Trio picks the order of ready tasks with this Random. Registered with Hypothesis (as
# pytest-trio and Trio's own Hypothesis plugin also do), it is seeded for every example: with
# the same seed by default, so an example replays exactly; with a drawn one when the test
# draws ``st.random_module()``, which makes the schedule of concurrent actors part of what
# Hypothesis explores, shrinks and replays.
_register_random(_trio._core._run._r)
