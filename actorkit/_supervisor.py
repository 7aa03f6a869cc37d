"""Running supervision trees: the supervisor actor, its children's records, and its decisions.

A supervisor is an ordinary actor: its ``on_start`` starts the children in order and its
``on_stop`` stops them in reverse order. Decisions about a failed child are made synchronously
in the child's own task (``_ChildRecord.on_failure``), so a one-for-one restart is a plain
loop iteration there, with no round trip through the supervisor. Only the strategies that
restart siblings (one-for-all, rest-for-one) and escalations involve the supervisor's task.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._actor import Actor, control_handler, on
from ._cell import Action, Cell, Supervision
from ._circuit import Circuit, CircuitState
from ._errors import ActorkitError, ActorNotFound, ActorStopped, SupervisorGaveUp, TooManyChildren
from ._handlers import SystemMessage
from ._ref import ActorRef
from ._strategies import (
    Child,
    CircuitBreak,
    Directive,
    Escalate,
    OneForAll,
    Restart,
    RestForOne,
    Supervisor,
)

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["RootSupervision", "SupervisorActor", "SupervisorRef", "spawn_child"]


@attrs.frozen
class _StartChild:
    spec: Child | Supervisor


@attrs.frozen
class _StopChild:
    name: str


class _ChildFailed(SystemMessage):
    """A child of a one-for-all / rest-for-one supervisor waits to be restarted with siblings."""

    __slots__ = ("record", "restarts")

    def __init__(self, record: _ChildRecord, restarts: int) -> None:
        self.record = record
        self.restarts = restarts  # the child's restart count when it failed

    def __repr__(self) -> str:
        cell = self.record.cell
        return f"ChildFailed({cell.path if cell is not None else '?'})"


class _ChildEscalated(SystemMessage):
    """A child ended and its supervisor must fail (intensity exceeded, or escalation)."""

    __slots__ = ("cause", "record")

    def __init__(self, record: _ChildRecord, cause: BaseException) -> None:
        self.record = record
        self.cause = cause

    def __repr__(self) -> str:
        cell = self.record.cell
        where = cell.path if cell is not None else "?"
        return f"ChildEscalated({where}, {type(self.cause).__name__}: {self.cause})"


class SupervisorRef(ActorRef):
    """The ref of a supervisor: an ActorRef that can also start and stop dynamic children."""

    __slots__ = ()

    async def start_child(self, child: Child | Supervisor) -> ActorRef:
        """Start ``child`` under this supervisor (after the others); return its ref.

        Raises:
            TooManyChildren: the supervisor's ``max_children`` is reached.
            NameTaken: the child's name is in use.
            StartFailed: the child's ``__init__`` or ``on_start`` raised.
        """
        if not isinstance(child, Child | Supervisor):
            raise TypeError(f"start_child takes an ak.Child or ak.Supervisor, not {child!r}")
        result = await self.ask(_StartChild(child), timeout=None)
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    async def stop_child(self, name: str) -> None:
        """Stop the child named ``name`` for good (it is not restarted); wait until it ended.

        Raises :class:`ActorNotFound` if this supervisor has no such child.
        """
        result = await self.ask(_StopChild(name), timeout=None)
        if isinstance(result, BaseException):
            raise result


class _ChildRecord:
    """A supervisor's record of one child: spec, cell, crash history. The child's Supervision."""

    __slots__ = ("attempts", "cell", "circuit", "delay", "last_failure", "owner", "spec", "why")

    def __init__(self, owner: SupervisorActor, spec: Child | Supervisor) -> None:
        self.owner = owner
        self.spec = spec
        self.cell: Cell | None = None
        self.attempts = 0
        self.last_failure = -float("inf")
        self.delay = 0.0  # the backoff before a coordinated restart
        self.why = ""
        strategy = owner.spec.strategy
        self.circuit: Circuit | None = None
        if isinstance(strategy, CircuitBreak):
            self.circuit = Circuit(
                strategy.failures,
                strategy.within,
                strategy.reset_after,
                strategy.factor,
                strategy.max_reset,
            )

    def on_failure(self, cell: Cell, exc: BaseException | None) -> tuple[Action, float]:
        return self.owner._decide(self, exc)

    def on_restarted(self, cell: Cell) -> None:
        pass

    def on_probation_passed(self, cell: Cell) -> None:
        circuit = self.circuit
        if (
            circuit is not None
            and circuit.record_success(trio.current_time()) is CircuitState.CLOSED
        ):
            cell.runtime._event("info", "circuit_closed", cell, path=cell.path)

    def on_coordinated_failure(self, cell: Cell, exc: BaseException | None) -> None:
        self.owner.ctx._cell.enqueue_control(_ChildFailed(self, cell.restarts))

    def on_ended(self, cell: Cell, reason: BaseException | None, escalate: bool) -> None:
        if self in self.owner.records:
            self.owner.records.remove(self)
        if escalate:
            # A PERMANENT child that keeps stopping normally escalates too, with no exception.
            cause = reason if reason is not None else ActorStopped(cell.path)
            self.owner.ctx._cell.enqueue_control(_ChildEscalated(self, cause))


class RootSupervision:
    """The runtime's side of a tree's root: if the root fails, the runtime gives up."""

    def __init__(self, on_give_up: Any) -> None:
        self._on_give_up = on_give_up

    def on_failure(self, cell: Cell, exc: BaseException | None) -> tuple[Action, float]:
        return (Action.STOP, 0.0) if exc is None else (Action.ESCALATE, 0.0)

    def on_restarted(self, cell: Cell) -> None:
        pass

    def on_probation_passed(self, cell: Cell) -> None:
        pass

    def on_coordinated_failure(self, cell: Cell, exc: BaseException | None) -> None:
        pass

    def on_ended(self, cell: Cell, reason: BaseException | None, escalate: bool) -> None:
        if escalate and reason is not None:
            self._on_give_up(reason)


async def spawn_child(
    runtime: Runtime, parent: Cell | None, spec: Child | Supervisor, supervision: Supervision
) -> ActorRef:
    """Spawn the actor a spec describes, under ``parent``, supervised by ``supervision``."""
    if isinstance(spec, Supervisor):
        actor_class: type[Actor] = SupervisorActor
        args: tuple[Any, ...] = (spec,)
        kwargs: dict[str, Any] = {}
        mailbox = None
    else:
        actor_class, args, kwargs, mailbox = spec.actor, spec.args, dict(spec.kwargs), spec.mailbox
    return await runtime._spawn(
        actor_class,
        args,
        kwargs,
        spec.name,
        mailbox,
        parent,
        supervision=supervision,
        shutdown=spec.shutdown,
    )


class SupervisorActor(Actor):
    """The actor that runs an :class:`ak.Supervisor` spec."""

    _ak_ref_class = SupervisorRef

    def __init__(self, spec: Supervisor) -> None:
        self.spec = spec
        self.records: list[_ChildRecord] = []
        self._restart_times: deque[float] = deque()

    def _ak_kind(self) -> str:
        return f"Supervisor:{type(self.spec.strategy).__name__}"

    async def on_start(self) -> None:
        for child in self.spec.children:
            await self._start_child(child)

    async def on_stop(self, reason: BaseException | None) -> None:
        for record in reversed(list(self.records)):
            if record.cell is not None:
                await record.cell.stop()
        self.records.clear()

    async def _start_child(self, spec: Child | Supervisor) -> ActorRef:
        record = _ChildRecord(self, spec)
        self.records.append(record)
        try:
            ref = await spawn_child(self.ctx.runtime, self.ctx.self._cell, spec, record)
        except BaseException:
            if record in self.records:
                self.records.remove(record)
            raise
        record.cell = ref._cell
        return ref

    # -- decisions (run in the failing child's task) -----------------------------------------

    def _decide(self, record: _ChildRecord, exc: BaseException | None) -> tuple[Action, float]:
        strategy = self.spec.strategy
        now = trio.current_time()
        if exc is None:
            if record.spec.restart is not Restart.PERMANENT:
                return Action.STOP, 0.0
        else:
            if isinstance(strategy, Escalate):
                record.why = "its strategy escalates every failure"
                return Action.ESCALATE, 0.0
            directive = strategy.directive_for(exc)
            if directive is Directive.RESUME:
                return Action.RESUME, 0.0
            if directive is Directive.STOP:
                return Action.STOP, 0.0
            if directive is Directive.ESCALATE:
                record.why = f"decide= escalates {type(exc).__name__}"
                return Action.ESCALATE, 0.0
            if record.spec.restart is Restart.TEMPORARY:
                return Action.STOP, 0.0
            circuit = record.circuit
            if circuit is not None and circuit.record_failure(now) is CircuitState.OPEN:
                return Action.CIRCUIT_OPEN, circuit.retry_at - now
        if not self._allow_restart(now):
            record.why = (
                f"restart intensity exceeded ({strategy.max_restarts} restarts "
                f"within {strategy.within} s)"
            )
            return Action.ESCALATE, 0.0
        delay = self._backoff_delay(record, now)
        if isinstance(strategy, OneForAll | RestForOne):
            record.delay = delay  # the supervisor waits it out, then restarts the group
            return Action.COORDINATE, delay
        return Action.RESTART, delay

    def _allow_restart(self, now: float) -> bool:
        strategy = self.spec.strategy
        if strategy.max_restarts is None:
            return True
        times = self._restart_times
        while times and times[0] <= now - strategy.within:
            times.popleft()
        if len(times) >= strategy.max_restarts:
            return False
        times.append(now)
        return True

    def _backoff_delay(self, record: _ChildRecord, now: float) -> float:
        backoff = self.spec.strategy.backoff
        if backoff is None:
            return 0.0
        if now - record.last_failure > backoff.quiet_period:
            record.attempts = 0
        record.last_failure = now
        record.attempts += 1
        return backoff.delay(record.attempts)

    # -- messages from children and from SupervisorRef ---------------------------------------

    @on(_ChildFailed)
    @control_handler
    async def _restart_together(self, msg: _ChildFailed) -> None:
        failed = msg.record
        if failed not in self.records or failed.cell is None:
            return
        if failed.cell.restarts != msg.restarts:
            return  # an earlier group restart (for a sibling's failure) already restarted it
        start = 0 if isinstance(self.spec.strategy, OneForAll) else self.records.index(failed)
        group = self.records[start:]
        for record in reversed(group):
            if record is not failed and record.cell is not None:
                await record.cell.pause()
        if failed.delay > 0:
            for record in group:
                if record.cell is not None:
                    record.cell.status = "backing-off"
            await trio.sleep(failed.delay)
        for record in group:
            if record.cell is not None:
                await record.cell.resume()

    @on(_ChildEscalated)
    @control_handler
    async def _give_up(self, msg: _ChildEscalated) -> None:
        cell = msg.record.cell
        supervisor, why = self.ctx.name, msg.record.why
        path = cell.path if cell is not None else "?"
        cause = msg.cause
        self.ctx.runtime._event(
            "error",
            "supervisor_escalated",
            supervisor=supervisor,
            why=why,
            child=path,
            error=f"{type(cause).__name__}: {cause}",
        )
        # Report the supervisor that gave up first and the original failure as the cause,
        # however deep in the tree they were.
        while isinstance(cause, SupervisorGaveUp) and cause.__cause__ is not None:
            supervisor, why, path = cause.supervisor, cause.why, cause.path
            cause = cause.__cause__
        raise SupervisorGaveUp(supervisor, why, path, cause) from cause

    @on(_StartChild)
    async def _on_start_child(self, msg: _StartChild) -> ActorRef | BaseException:
        limit = self.spec.max_children
        if limit is not None and len(self.records) >= limit:
            return TooManyChildren(self.ctx.name, limit)
        try:
            return await self._start_child(msg.spec)
        except ActorkitError as exc:
            return exc

    @on(_StopChild)
    async def _on_stop_child(self, msg: _StopChild) -> BaseException | None:
        for record in self.records:
            if record.cell is not None and record.cell.name == msg.name:
                self.records.remove(record)
                await record.cell.stop()
                return None
        return ActorNotFound(msg.name)
