"""The resilience toolkit (issue #4): RetryPolicy and CircuitBreaker, on Trio's virtual clock.

The async tests request the ``autojump_clock`` fixture, so every delay is asserted exactly; the
Hypothesis properties run each example in its own ``trio.run`` on a MockClock.
"""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import actorkit as ak

SETTINGS = settings(max_examples=50, deadline=None)
CLOSED, OPEN, HALF_OPEN = ak.CircuitState.CLOSED, ak.CircuitState.OPEN, ak.CircuitState.HALF_OPEN


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run one example on an autojumping virtual clock."""
    return trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


class Flaky:
    """An async callable that raises the given exceptions in turn, then returns ``result``."""

    def __init__(self, *errors: BaseException, result: Any = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls: list[tuple[float, tuple[Any, ...], dict[str, Any]]] = []

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((trio.current_time(), args, kwargs))
        if self.errors:
            raise self.errors.pop(0)
        return self.result

    @property
    def times(self) -> list[float]:
        return [t for t, _, _ in self.calls]


EXACT = ak.Backoff(initial=1.0, maximum=10.0, factor=2.0, jitter=0.0)


# -- RetryPolicy -------------------------------------------------------------------------------


async def test_retry_succeeds_after_failures_at_exact_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two retryable failures, then success: three attempts at t=0, 1, 3 and the result."""
    policy = ak.RetryPolicy(max_attempts=3, backoff=EXACT, retry_on=(ConnectionError, TimeoutError))
    fn = Flaky(ConnectionError("down"), TimeoutError("slow"))
    with capture_logs() as logs:
        assert "ok" == await policy.call(fn, 1, key="v")
    assert [0.0, 1.0, 3.0] == fn.times
    assert [((1,), {"key": "v"})] * 3 == [(a, k) for _, a, k in fn.calls]
    assert [
        (1, 1.0, "ConnectionError: down"),
        (2, 2.0, "TimeoutError: slow"),
    ] == [(e["attempt"], e["retry_in"], e["error"]) for e in events(logs, "retry_attempt_failed")]
    assert [] == events(logs, "retry_gave_up")


async def test_retry_gives_up_with_the_last_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When the attempts run out, the last exception itself is raised and retry_gave_up logged."""
    last = ConnectionError("third")
    fn = Flaky(ConnectionError("first"), TimeoutError("second"), last)
    policy = ak.RetryPolicy(max_attempts=3, backoff=EXACT)
    with capture_logs() as logs, pytest.raises(ConnectionError) as info:
        await policy.call(fn)
    assert last is info.value
    assert [0.0, 1.0, 3.0] == fn.times
    assert 3.0 == trio.current_time()
    assert [1, 2] == [e["attempt"] for e in events(logs, "retry_attempt_failed")]
    assert [(3, "ConnectionError: third")] == [
        (e["attempts"], e["error"]) for e in events(logs, "retry_gave_up")
    ]


async def test_retry_delays_grow_and_are_capped(autojump_clock: trio.testing.MockClock) -> None:
    """Delays follow initial x factor^(n-1), capped at maximum."""
    policy = ak.RetryPolicy(
        max_attempts=5,
        backoff=ak.Backoff(initial=1.0, maximum=5.0, factor=3.0, jitter=0.0),
        retry_on=ConnectionError,
    )
    fn = Flaky(*(ConnectionError(str(n)) for n in range(4)))
    assert "ok" == await policy.call(fn)
    assert [0.0, 1.0, 4.0, 9.0, 14.0] == fn.times


async def test_non_retryable_exception_passes_after_one_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An exception outside retry_on is raised at once, with no retry and no retry event."""
    error = ValueError("bad input")
    fn = Flaky(error)
    with capture_logs() as logs, pytest.raises(ValueError) as info:
        await ak.RetryPolicy(max_attempts=5, backoff=EXACT).call(fn)
    assert error is info.value
    assert [0.0] == fn.times
    assert [] == [e for e in logs if e["event"].startswith("retry_")]


async def test_retry_policy_as_decorator(autojump_clock: trio.testing.MockClock) -> None:
    """@policy wraps an async def: every call goes through the policy, arguments included."""
    calls: list[float] = []

    @ak.RetryPolicy(max_attempts=4, backoff=EXACT, retry_on=(OSError,))
    async def fetch(url: str, *, tries_before_success: int) -> str:
        """Fetch a URL."""
        calls.append(trio.current_time())
        if len(calls) <= tries_before_success:
            raise OSError("unreachable")
        return f"body of {url}"

    assert "fetch" == fetch.__name__
    assert "Fetch a URL." == fetch.__doc__
    assert "body of x" == await fetch("x", tries_before_success=2)
    assert [0.0, 1.0, 3.0] == calls


async def test_single_attempt_policy_gives_up_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """max_attempts=1 never waits: the first failure is final."""
    fn = Flaky(ConnectionError("down"))
    with capture_logs() as logs, pytest.raises(ConnectionError):
        await ak.RetryPolicy(max_attempts=1, backoff=EXACT).call(fn)
    assert 0.0 == trio.current_time()
    assert ["retry_gave_up"] == [e["event"] for e in logs]


@pytest.mark.parametrize("attempts", [0, -1])
def test_retry_policy_needs_an_attempt(attempts: int) -> None:
    """RetryPolicy(max_attempts=0) (or less) raises ValueError naming the argument."""
    with pytest.raises(ValueError, match="max_attempts"):
        ak.RetryPolicy(max_attempts=attempts)


def test_retry_on_takes_exception_classes_only() -> None:
    """retry_on accepts one class or a tuple of them; anything else raises TypeError."""
    assert (KeyError,) == ak.RetryPolicy(retry_on=KeyError).retry_on
    with pytest.raises(TypeError):
        ak.RetryPolicy(retry_on=("ConnectionError",))  # type: ignore[arg-type]


@SETTINGS
@given(
    max_attempts=st.integers(1, 6),
    initial=st.floats(0.01, 5.0),
    factor=st.floats(1.0, 3.0),
    extra=st.floats(0.0, 50.0),
    jitter=st.floats(0.0, 1.0),
    failures=st.integers(0, 8),
)
def test_retry_attempts_and_delays_follow_the_policy(
    max_attempts: int, initial: float, factor: float, extra: float, jitter: float, failures: int
) -> None:
    """Attempts are min(failures+1, max_attempts); each delay lies within base x (1 +- jitter)."""
    backoff = ak.Backoff(initial=initial, maximum=initial + extra, factor=factor, jitter=jitter)
    policy = ak.RetryPolicy(max_attempts=max_attempts, backoff=backoff)
    fn = Flaky(*(ConnectionError(str(n)) for n in range(failures)))

    async def scenario() -> Any:
        try:
            return await policy.call(fn)
        except ConnectionError as exc:
            return exc

    with capture_logs() as logs:
        outcome = run(scenario)
    attempts = min(failures + 1, max_attempts)
    assert attempts == len(fn.calls)
    if failures < max_attempts:
        assert "ok" == outcome
    else:
        assert isinstance(outcome, ConnectionError)
        assert str(attempts - 1) == str(outcome)
    delays = [b - a for a, b in zip(fn.times, fn.times[1:], strict=False)]
    announced = [e["retry_in"] for e in events(logs, "retry_attempt_failed")]
    assert len(delays) == len(announced)
    for n, (delay, retry_in) in enumerate(zip(delays, announced, strict=True), start=1):
        base = min(backoff.maximum, initial * factor ** (n - 1))
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
        assert abs(delay - retry_in) <= 1e-6 + 1e-9 * delay


# -- CircuitBreaker ----------------------------------------------------------------------------


async def fail() -> None:
    raise ConnectionError("down")


async def succeed() -> str:
    return "ok"


async def test_breaker_opens_after_threshold_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """threshold failures open the circuit: calls then raise CircuitOpen without calling."""
    breaker = ak.CircuitBreaker(failure_threshold=3, reset_timeout=10.0, name="db")
    assert CLOSED == breaker.state
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await breaker.call(fail)
            await trio.sleep(1)
        assert CLOSED == breaker.state
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
        assert OPEN == breaker.state
        await trio.sleep(4)
        fn = Flaky()
        with pytest.raises(ak.CircuitOpen) as info:
            await breaker.call(fn)
    assert [] == fn.calls
    assert (12.0, 6.0) == (info.value.retry_at, info.value.retry_in)
    assert isinstance(breaker.state, ak.CircuitState)
    assert [{"event": "circuit_opened", "breaker": "db", "retry_in": 10.0}] == [
        {k: e[k] for k in ("event", "breaker", "retry_in")} for e in events(logs, "circuit_opened")
    ]


async def test_failures_older_than_window_do_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Only failures within the last ``window`` seconds count toward the threshold."""
    breaker = ak.CircuitBreaker(failure_threshold=3, reset_timeout=10.0, window=10.0)
    for at in (0.0, 5.0, 10.5):
        await trio.sleep_until(at)
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert CLOSED == breaker.state
    await trio.sleep_until(12.0)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    assert OPEN == breaker.state


async def test_half_open_trial_success_closes(autojump_clock: trio.testing.MockClock) -> None:
    """At exactly reset_timeout the circuit is half-open; a successful trial closes it."""
    changes: list[tuple[ak.CircuitState, ak.CircuitState, float]] = []
    breaker = ak.CircuitBreaker(
        failure_threshold=1,
        reset_timeout=10.0,
        name="api",
        on_state_change=lambda old, new: changes.append((old, new, trio.current_time())),
    )
    with capture_logs() as logs:
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
        await trio.sleep(9.5)
        assert OPEN == breaker.state
        await trio.sleep(0.5)
        assert HALF_OPEN == breaker.state
        assert "ok" == await breaker.call(succeed)
        assert CLOSED == breaker.state
    assert [(CLOSED, OPEN, 0.0), (OPEN, HALF_OPEN, 10.0), (HALF_OPEN, CLOSED, 10.0)] == changes
    assert [
        ("circuit_opened", "api"),
        ("circuit_half_open", "api"),
        ("circuit_closed", "api"),
    ] == [(e["event"], e["breaker"]) for e in logs if e["event"].startswith("circuit_")]


async def test_half_open_allows_one_trial_call(autojump_clock: trio.testing.MockClock) -> None:
    """While the trial call runs, a concurrent call gets CircuitOpen without being made."""
    breaker = ak.CircuitBreaker(failure_threshold=1, reset_timeout=10.0)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    await trio.sleep(10)
    trial_started = trio.Event()
    results: list[Any] = []

    async def slow_trial() -> str:
        trial_started.set()
        await trio.sleep(2)
        return "trial-ok"

    async def trial() -> None:
        results.append(await breaker.call(slow_trial))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trial)
        await trial_started.wait()
        other = Flaky()
        with pytest.raises(ak.CircuitOpen) as info:
            await breaker.call(other)
        assert [] == other.calls
        assert HALF_OPEN == breaker.state
    assert (10.0, 0.0) == (info.value.retry_at, info.value.retry_in)
    assert ["trial-ok"] == results
    assert 12.0 == trio.current_time()
    assert CLOSED == breaker.state


async def test_failed_trials_reopen_for_growing_capped_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each failed trial reopens for reset x factor, up to max_reset; closing starts over."""
    breaker = ak.CircuitBreaker(failure_threshold=1, reset_timeout=10.0, factor=2.0, max_reset=30.0)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    retry_ats = []
    for _ in range(4):
        with pytest.raises(ak.CircuitOpen) as info:
            await breaker.call(succeed)
        retry_ats.append(info.value.retry_at)
        await trio.sleep_until(info.value.retry_at)
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert [10.0, 30.0, 60.0, 90.0] == retry_ats
    with pytest.raises(ak.CircuitOpen) as info:
        await breaker.call(succeed)
    assert 120.0 == info.value.retry_at
    await trio.sleep_until(120.0)
    assert "ok" == await breaker.call(succeed)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    with pytest.raises(ak.CircuitOpen) as info:
        await breaker.call(succeed)
    assert 130.0 == info.value.retry_at


async def test_max_reset_defaults_to_ten_times_reset_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Without max_reset, growth stops at ten times reset_timeout."""
    breaker = ak.CircuitBreaker(failure_threshold=1, reset_timeout=1.0, factor=100.0)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    await trio.sleep(1)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    with pytest.raises(ak.CircuitOpen) as info:
        await breaker.call(succeed)
    assert 11.0 == info.value.retry_at


async def test_breaker_as_async_context_manager(autojump_clock: trio.testing.MockClock) -> None:
    """``async with breaker:`` counts failures of its body and refuses entry when open."""
    breaker = ak.CircuitBreaker(failure_threshold=2, reset_timeout=5.0)
    async with breaker:
        pass
    for _ in range(2):
        with pytest.raises(ConnectionError):
            async with breaker:
                raise ConnectionError("down")
    assert OPEN == breaker.state
    entered = False
    with pytest.raises(ak.CircuitOpen):
        async with breaker:
            entered = True
    assert not entered
    await trio.sleep(5)
    async with breaker:
        assert HALF_OPEN == breaker.state
    assert CLOSED == breaker.state


async def test_call_timeout_cancels_slow_call_and_counts_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A call slower than call_timeout is cancelled at exactly that time and raises TimeoutError,
    counted as a failure."""
    breaker = ak.CircuitBreaker(failure_threshold=2, reset_timeout=10.0, call_timeout=2.0)
    finished: list[float] = []

    async def slow() -> None:
        await trio.sleep(100)
        finished.append(trio.current_time())

    with pytest.raises(TimeoutError):
        await breaker.call(slow)
    assert 2.0 == trio.current_time()
    assert CLOSED == breaker.state
    assert "ok" == await breaker.call(succeed)
    with pytest.raises(TimeoutError):
        async with breaker:
            await trio.sleep(100)
    assert 4.0 == trio.current_time()
    assert OPEN == breaker.state
    assert [] == finished


async def test_exceptions_outside_failure_on_pass_uncounted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An exception not in failure_on passes through and does not count as a failure."""
    breaker = ak.CircuitBreaker(failure_threshold=2, failure_on=ConnectionError)
    for _ in range(5):
        with pytest.raises(KeyError):
            await breaker.call(Flaky(KeyError("k")))
    assert CLOSED == breaker.state
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert OPEN == breaker.state


async def test_breaker_can_be_nested_in_one_task(autojump_clock: trio.testing.MockClock) -> None:
    """A call through the breaker may itself make a call through the same breaker."""
    breaker = ak.CircuitBreaker(failure_threshold=2, call_timeout=5.0)

    async def outer() -> str:
        return "outer+" + await breaker.call(succeed)

    assert "outer+ok" == await breaker.call(outer)
    async with breaker, breaker:
        await trio.sleep(1)
    assert CLOSED == breaker.state
    assert 1.0 == trio.current_time()


def test_breaker_validates_its_arguments() -> None:
    """Nonsense thresholds and timeouts raise ValueError when the breaker is made."""
    with pytest.raises(ValueError):
        ak.CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        ak.CircuitBreaker(reset_timeout=0)
    with pytest.raises(ValueError):
        ak.CircuitBreaker(call_timeout=0)
    with pytest.raises(TypeError):
        ak.CircuitBreaker(failure_on="ConnectionError")  # type: ignore[arg-type]


# -- CircuitBreaker against a reference model --------------------------------------------------


class ModelBreaker:
    """The breaker as the spec describes it: closed / open / half-open, on plain numbers."""

    def __init__(
        self, threshold: int, reset: float, window: float, factor: float, cap: float | None
    ) -> None:
        self.threshold, self.base, self.window, self.factor = threshold, reset, window, factor
        self.cap = 10 * reset if cap is None else cap
        self.state = CLOSED
        self.failures: list[float] = []
        self.reset = reset
        self.retry_at = 0.0
        self.changes: list[tuple[ak.CircuitState, ak.CircuitState]] = []

    def _move(self, new: ak.CircuitState) -> None:
        self.changes.append((self.state, new))
        self.state = new

    def _open(self, now: float, reset: float) -> None:
        self.reset = reset
        self.retry_at = now + reset
        self.failures = []
        self._move(OPEN)

    def observe(self, now: float) -> ak.CircuitState:
        if self.state is OPEN and now >= self.retry_at:
            self._move(HALF_OPEN)
        return self.state

    def call(self, now: float, ok: bool) -> Any:
        state = self.observe(now)
        if state is OPEN:
            return ("refused", self.retry_at)
        if state is HALF_OPEN:
            if ok:
                self.failures = []
                self._move(CLOSED)
            else:
                self._open(now, min(self.cap, self.reset * self.factor))
        elif not ok:
            self.failures = [t for t in self.failures if t > now - self.window] + [now]
            if len(self.failures) >= self.threshold:
                self._open(now, self.base)
        return "ok" if ok else "failed"


OPERATIONS = st.lists(
    st.one_of(st.just("ok"), st.just("fail"), st.integers(1, 12)), min_size=1, max_size=40
)


@SETTINGS
@given(
    threshold=st.integers(1, 4),
    reset=st.integers(1, 10),
    window=st.integers(1, 10),
    factor=st.sampled_from([1.0, 1.5, 2.0, 3.0]),
    cap_extra=st.one_of(st.none(), st.integers(0, 30)),
    operations=OPERATIONS,
)
def test_breaker_matches_reference_model(
    threshold: int,
    reset: int,
    window: int,
    factor: float,
    cap_extra: int | None,
    operations: list[Any],
) -> None:
    """For any sequence of successes, failures and waits, the breaker agrees with the model:
    the outcome of each call, the state after each step, and every change reported."""
    cap = None if cap_extra is None else reset + cap_extra
    model = ModelBreaker(threshold, float(reset), float(window), factor, cap)
    changes: list[tuple[ak.CircuitState, ak.CircuitState]] = []
    breaker = ak.CircuitBreaker(
        failure_threshold=threshold,
        reset_timeout=float(reset),
        window=float(window),
        factor=factor,
        max_reset=None if cap is None else float(cap),
        failure_on=ConnectionError,
        on_state_change=lambda old, new: changes.append((old, new)),
    )

    async def scenario() -> list[tuple[Any, Any]]:
        steps = []
        for op in operations:
            if isinstance(op, int):
                await trio.sleep(op)
                steps.append((None, breaker.state))
                continue
            try:
                outcome: Any = await breaker.call(succeed if op == "ok" else fail)
            except ConnectionError:
                outcome = "failed"
            except ak.CircuitOpen as exc:
                outcome = ("refused", exc.retry_at)
            steps.append((outcome, breaker.state))
        return steps

    with capture_logs():
        steps = run(scenario)
    now = 0.0
    expected = []
    for op in operations:
        if isinstance(op, int):
            now += op
            expected.append((None, model.observe(now)))
        else:
            outcome = model.call(now, op == "ok")
            expected.append((outcome, model.observe(now)))
    assert expected == steps
    assert model.changes == changes
