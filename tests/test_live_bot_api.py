"""The LiveBot's small public API for harnesses (the fault campaign): how many candles its
warm-up reads, which of its background tasks ended, and a kill that runs no shutdown code."""

import asyncio
import logging
from types import SimpleNamespace

from passivbot.config import load_live_config
from passivbot.exchanges import binance
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.records import P_EMA_SPAN_0, P_EMA_SPAN_1


def bot(**options) -> LiveBot:
    adapter = SimpleNamespace(caps=binance.CAPS)  # nothing is called on it here
    return LiveBot(adapter, load_live_config("ETH-J1"), logging.getLogger("test.bot.api"),
                   options=BotOptions(**options))


def spans(b: LiveBot, long: tuple[float, float], short: tuple[float, float]) -> None:
    """Set the EMA spans of the bot's kernel params (row 0 long, row 1 short)."""
    for row, (s0, s1) in enumerate((long, short)):
        b.state.params[row, P_EMA_SPAN_0], b.state.params[row, P_EMA_SPAN_1] = s0, s1


def test_warmup_candles_is_the_largest_span_times_the_multiplier_within_bounds():
    b = bot(warmup_span_mult=3.0, max_warmup_candles=20_000)
    spans(b, (100.0, 250.5), (40.0, 60.0))
    assert b.warmup_candles() == 752  # ceil(250.5 x 3)
    spans(b, (10.0, 20.0), (40.0, 300.0))
    assert b.warmup_candles() == 900  # the short side's span counts too
    spans(b, (0.1, 0.2), (0.1, 0.2))
    assert b.warmup_candles() == 2  # ceil(0.6) = 1, raised to 2
    b = bot(warmup_span_mult=3.0, max_warmup_candles=500)
    spans(b, (100.0, 250.5), (40.0, 60.0))
    assert b.warmup_candles() == 500  # capped


async def test_ended_tasks_names_the_finished_ones_and_kill_tasks_ends_all_without_stop():
    b = bot()
    done = asyncio.Event()

    async def forever():
        await asyncio.Event().wait()

    async def until_done():
        await done.wait()

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(forever(), name="cycle"),
             loop.create_task(until_done(), name="stream-user")]
    b._tasks.extend(tasks)  # what start() creates, without an exchange
    await asyncio.sleep(0)
    assert b.ended_tasks() == []
    done.set()
    await asyncio.wait_for(tasks[1], 5)
    assert b.ended_tasks() == ["stream-user"]
    await b.kill_tasks()
    assert b.stopping.is_set() and all(t.done() for t in tasks)
    assert sorted(b.ended_tasks()) == ["cycle", "stream-user"]
    assert tasks[0].cancelled()
