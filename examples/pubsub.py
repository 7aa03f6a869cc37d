"""Topics: a price feed published to subscribers, and a subscriber that drops out.

``rt.publish(topic, msg)`` sends ``msg`` to every actor subscribed to ``topic`` and returns how
many that was. An actor that stops is unsubscribed from everything by the runtime; a message
published to nobody is a dead letter. Run it with ``python examples/pubsub.py``.
"""

from __future__ import annotations

import attrs
import trio

import actorkit as ak

PRICES = "prices"


@attrs.frozen
class Price:
    symbol: str
    cents: int


@attrs.frozen
class History:
    pass


class Chart(ak.Actor):
    """Records every price it is sent."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def on_start(self) -> None:
        self.ctx.runtime.subscribe(PRICES, self.ctx.self)

    @ak.on(Price)
    async def price(self, msg: Price) -> None:
        self.seen.append(msg.cents)

    @ak.on(History)
    async def history(self, msg: History) -> tuple[int, ...]:
        return tuple(self.seen)


class Alert(ak.Actor):
    """Fires once, when a price goes above its limit, then stops itself."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def on_start(self) -> None:
        self.ctx.runtime.subscribe(PRICES, self.ctx.self)

    @ak.on(Price)
    async def price(self, msg: Price) -> None:
        if msg.cents > self.limit:
            print(f"alert: {msg.symbol} at {msg.cents} is above {self.limit}")
            self.ctx.stop()  # ends once this handler returns; the runtime unsubscribes it

    @ak.on(History)
    async def history(self, msg: History) -> tuple[int, ...]:
        return ()


async def main() -> None:
    async with ak.open_runtime() as rt:
        chart = await rt.spawn(Chart)
        alert = await rt.spawn(Alert, 110)
        # on_start subscribed both, and spawn returned after on_start: both are listening.

        assert await rt.publish(PRICES, Price("ACME", 100)) == 2
        assert await rt.publish(PRICES, Price("ACME", 115)) == 2  # above the alert's limit

        # Our ask reaches the alert after the 115 price (one sender, one receiver: in order).
        # The alert stops once it has handled that price, so the ask is never answered.
        try:
            await alert.ask(History(), timeout=1.0)
        except ak.ActorStopped:
            pass
        else:
            raise AssertionError("the alert should have stopped after the 115 price")
        assert not alert.alive

        # The stopped alert dropped out of the topic: only the chart gets the next price.
        assert await rt.publish(PRICES, Price("ACME", 120)) == 1
        assert await chart.ask(History(), timeout=1.0) == (100, 115, 120)

        # Unsubscribe the chart too: with no subscribers, a publish is a dead letter.
        rt.unsubscribe(PRICES, chart)
        assert await rt.publish(PRICES, Price("ACME", 125)) == 0

        stats = rt.stats()
        # The dead letters: the ask the alert never answered, and the price nobody received.
        assert stats.dead_letters == 2
        # Sent: 2 + 2 + 1 prices, 1 ask to the alert, 1 ask to the chart, 1 publish to nobody.
        assert stats.messages_processed + stats.messages_queued + stats.dead_letters == 8
        print(stats)


if __name__ == "__main__":
    ak.configure_logging("info")
    trio.run(main)
