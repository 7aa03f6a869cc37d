"""Model-based testing of an actor: Hypothesis generates message sequences (faults among
them), runs each against the real actor under a supervisor on virtual time, and checks every
reply, and the actor's state, against a plain-Python model. A failure is shrunk to the
shortest sequence that still fails and reported as a numbered list."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from .._actor import Actor
from .._errors import ActorCrashed
from .._logging import short_repr
from .._runtime import open_runtime
from .._strategies import Child, OneForOne, Supervisor
from ._events import capture_events
from ._faults import crash
from .strategies import one_of_messages

__all__ = ["Crashes", "Fault", "ModelMismatch", "check_model"]


@attrs.frozen
class Fault:
    """A step that crashes the actor between two messages; its supervisor restarts it."""

    def __repr__(self) -> str:
        return "Fault()"


@attrs.frozen
class Crashes:
    """What a model returns for a message the actor's handler should raise on.

    ``Crashes(ValueError)`` expects an ``ActorCrashed`` whose cause is a ``ValueError``.
    """

    exc_type: type[BaseException] = Exception


@attrs.frozen
class _Poke:
    """The message a Fault step makes the actor crash on."""


class ModelMismatch(AssertionError):
    """The actor and its model disagreed. ``steps`` is the (shrunk) sequence that shows it,
    and ``index`` the step where they parted."""

    def __init__(self, report: str, steps: Sequence[Any], index: int) -> None:
        super().__init__(report)
        self.steps = list(steps)
        self.index = index


class _FunctionModel:
    """Adapts ``step(state, message) -> (reply, state)`` to the object form."""

    def __init__(self, step: Callable[[Any, Any], tuple[Any, Any]], initial: Any) -> None:
        self.step, self.initial, self.state = step, initial, initial

    def apply(self, message: Any) -> Any:
        reply, self.state = self.step(self.state, message)
        return reply

    def on_restart(self) -> None:
        self.state = self.initial


def _make_model(model: Any, initial: Any) -> Callable[[], Any]:
    if isinstance(model, type) or hasattr(model, "apply"):
        return model if isinstance(model, type) else lambda: model
    if callable(model):
        return lambda: _FunctionModel(model, initial)
    raise TypeError(
        "model= takes a class whose instances have apply(message), or a function "
        "step(state, message) -> (reply, new_state) together with initial="
    )


def _report(steps: Sequence[Any], outcomes: list[str], index: int, problem: str) -> str:
    lines = [f"the actor disagreed with its model at step {index + 1} of {len(steps)}:"]
    for number, (step, outcome) in enumerate(zip(steps, outcomes, strict=False), start=1):
        lines.append(f"  {number}. {short_repr(step, 80)}  {outcome}")
    lines.append(f"  -> {problem}")
    return "\n".join(lines)


async def _run_sequence(
    actor: type[Actor],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    new_model: Callable[[], Any],
    steps: Sequence[Any],
    invariant: Callable[[Any, Any], bool] | None,
) -> None:
    tree = Supervisor(
        "model-check",
        strategy=OneForOne(max_restarts=None),
        children=[Child(actor, args=args, kwargs=kwargs, name="actor-under-test")],
    )
    async with open_runtime() as rt:
        await rt.start(tree)
        ref = rt.lookup("actor-under-test")
        model = new_model()
        outcomes: list[str] = []
        for index, step in enumerate(steps):
            restarted = False
            if isinstance(step, Fault):
                crash(ref, on=_Poke)
                await ref.send(_Poke())
                restarted = True
                outcomes.append("(crash injected; the supervisor restarts the actor)")
            else:
                expected = model.apply(step)
                try:
                    actual: Any = await ref.ask(step, timeout=math.inf)
                except ActorCrashed as exc:
                    actual = Crashes(type(exc.__cause__)) if exc.__cause__ else Crashes()
                    restarted = True
                if isinstance(expected, Crashes):
                    agrees = isinstance(actual, Crashes) and issubclass(
                        actual.exc_type, expected.exc_type
                    )
                else:
                    agrees = not isinstance(actual, Crashes) and actual == expected
                outcomes.append(f"-> {short_repr(actual, 60)}")
                if not agrees:
                    problem = (
                        f"expected {short_repr(expected)}, the actor gave {short_repr(actual)}"
                    )
                    raise ModelMismatch(_report(steps, outcomes, index, problem), steps, index)
            if restarted:
                await trio.testing.wait_all_tasks_blocked()  # the restart has finished
                if hasattr(model, "on_restart"):
                    model.on_restart()
                else:
                    model = new_model()  # as documented: a restart means a fresh model
            if invariant is not None:
                instance = ref._cell.instance
                if not invariant(instance, model):
                    problem = "the invariant does not hold after this step"
                    raise ModelMismatch(_report(steps, outcomes, index, problem), steps, index)
        note(_report(steps, outcomes, len(steps) - 1, "all steps agreed") if steps else "")


def check_model(
    actor: type[Actor],
    model: Any,
    *,
    args: Sequence[Any] | Callable[[], Sequence[Any]] = (),
    kwargs: dict[str, Any] | None = None,
    messages: st.SearchStrategy[Any] | None = None,
    initial: Any = None,
    invariant: Callable[[Any, Any], bool] | None = None,
    faults: bool = False,
    max_steps: int = 20,
    settings_: settings | None = None,
    quiet: bool = True,
) -> None:
    """Check ``actor`` against ``model`` on generated message sequences; raise
    :class:`ModelMismatch`, with the shrunk sequence, if they ever disagree.

    Args:
        actor: the actor class; it runs under a one-for-one supervisor (never giving up).
        model: a class whose instances have ``apply(message) -> expected reply`` (returning
            :class:`Crashes` where the handler should raise) and, optionally,
            ``on_restart()`` (the state the actor should have after a supervisor restart;
            by default a fresh model); or a function ``step(state, message) -> (reply,
            new_state)`` with ``initial=`` (a restart returns to ``initial``).
        args: the actor's positional constructor arguments; or a function returning them,
            called for each sequence (for arguments with state of their own).
        kwargs: the actor's keyword constructor arguments.
        messages: the message strategy (default: ``one_of_messages(actor)``).
        invariant: ``invariant(actor_instance, model) -> bool``, checked after every step.
        faults: put :class:`Fault` steps (a crash between messages) into the sequences.
        max_steps: the longest sequence generated.
        settings_: Hypothesis settings (default: 100 examples, no deadline).
        quiet: drop the runtime's events while sequences run (hundreds of deliberate crashes
            would otherwise render their tracebacks); the mismatch report says what happened.

    Every ask is answered on Trio's virtual clock, so a sequence runs in microseconds.
    """
    new_model = _make_model(model, initial)
    step = messages if messages is not None else one_of_messages(actor)
    if faults:
        step = st.one_of(step, st.just(Fault()))
    config = settings_ or settings(
        max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )

    @config
    @given(steps=st.lists(step, max_size=max_steps))
    def run_sequences(steps: list[Any]) -> None:
        trio.run(
            _run_sequence,
            actor,
            tuple(args() if callable(args) else args),
            dict(kwargs or {}),
            new_model,
            steps,
            invariant,
            clock=trio.testing.MockClock(autojump_threshold=0),
        )

    if not quiet:
        run_sequences()
        return
    with capture_events():  # captured, then thrown away: nothing is rendered
        run_sequences()
