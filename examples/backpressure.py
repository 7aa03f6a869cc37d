"""Backpressure: a fast producer, a slow consumer, and a small mailbox.

Every mailbox is bounded; its overflow policy says what a send does when it is full. Here the
same burst of 20 jobs goes to a worker with room for 4, first with ``DROP_OLDEST`` (the sender
never waits; old jobs become dead letters) and then with ``BLOCK`` (the sender waits for room;
nothing is lost). Run it with ``python examples/backpressure.py``.
"""

from __future__ import annotations

import attrs
import trio
import trio.testing

import actorkit as ak

JOBS = 20
CAPACITY = 4


@attrs.frozen
class Job:
    number: int


@attrs.frozen
class DoneSoFar:
    pass


class Worker(ak.Actor):
    """Handles jobs one at a time, and says which ones it has done."""

    def __init__(self) -> None:
        self.done: list[int] = []

    @ak.on(Job)
    async def work(self, job: Job) -> None:
        await trio.lowlevel.checkpoint()  # stands in for real work that awaits (I/O, say)
        self.done.append(job.number)

    @ak.on(DoneSoFar)
    async def report(self, msg: DoneSoFar) -> tuple[int, ...]:
        return tuple(self.done)


async def drop_oldest(rt: ak.Runtime) -> None:
    """A full DROP_OLDEST mailbox keeps the newest messages: right for "latest value wins"."""
    worker = await rt.spawn(Worker, mailbox=ak.Mailbox(CAPACITY, ak.Overflow.DROP_OLDEST))
    for number in range(JOBS):
        # A send that finds room does not yield to the scheduler, so the worker does not get
        # to run during this burst: after the 4th job, each send pushes out the oldest one.
        await worker.send(Job(number))
    stats = rt.stats()
    assert stats.messages_queued == CAPACITY
    assert stats.dead_letters == JOBS - CAPACITY  # each one also logged as a dead_letter event

    # Let the worker catch up before asking: an ask is a message too, and a full DROP_OLDEST
    # mailbox would push out a job to make room for it. (This waits until every task is idle.)
    await trio.testing.wait_all_tasks_blocked()
    assert rt.stats().messages_queued == 0
    done = await worker.ask(DoneSoFar(), timeout=1.0)
    assert done == (16, 17, 18, 19), done
    print(f"DROP_OLDEST: the worker did {done}; {stats.dead_letters} jobs were dead letters")
    await worker.stop()


async def block(rt: ak.Runtime) -> None:
    """A full BLOCK mailbox (the default policy) makes the sender wait: backpressure."""
    dead_before = rt.stats().dead_letters
    worker = await rt.spawn(Worker, mailbox=ak.Mailbox(CAPACITY, ak.Overflow.BLOCK))
    for number in range(JOBS):
        # From the 5th job on, send waits until the worker has taken one out.
        await worker.send(Job(number))
    # The ask queues behind the last job (same sender, same receiver: in order).
    done = await worker.ask(DoneSoFar(), timeout=1.0)
    assert done == tuple(range(JOBS)), done
    assert rt.stats().dead_letters == dead_before  # nothing was lost
    print(f"BLOCK: the worker did all {len(done)} jobs, in order")

    # send_nowait never waits: on a full BLOCK mailbox it raises MailboxFull instead.
    for number in range(CAPACITY):
        worker.send_nowait(Job(number))  # fills the mailbox (the worker has not run yet)
    try:
        worker.send_nowait(Job(CAPACITY))
    except ak.MailboxFull as exc:
        print(f"send_nowait refused: {exc}")
    else:
        raise AssertionError("the 5th send_nowait should find the mailbox full")
    await worker.stop()  # the 4 jobs still queued become dead letters (reason "stopped")


async def main() -> None:
    async with ak.open_runtime() as rt:
        await drop_oldest(rt)
        await block(rt)
        stats = rt.stats()
        # Sent (accepted): 20 jobs + 1 ask to each worker, and 4 more jobs to the second one.
        # The send_nowait that raised MailboxFull was refused, so it was never sent.
        sent = JOBS + 1 + JOBS + 1 + CAPACITY
        assert stats.messages_processed + stats.messages_queued + stats.dead_letters == sent
        assert stats.dead_letters == (JOBS - CAPACITY) + CAPACITY
        print(stats)


if __name__ == "__main__":
    # Warnings and errors only: at "info", each of the 20 dead letters would be logged.
    ak.configure_logging("warning")
    trio.run(main)
