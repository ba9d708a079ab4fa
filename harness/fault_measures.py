"""What the fault campaign measures on the emulator's book at every poll: is it the calculator's
ideal, how many duplicates and orphans, how much entry exposure rests beyond the ideal; and the
bot-side helpers it needs (warm-up length, a SIGKILL-like stop). Split from fault_campaign.py
to keep each module on one screen's worth of responsibility."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

from passivbot.records import P_EMA_SPAN_0, P_EMA_SPAN_1


def _keys(orders) -> Counter:
    from harness.live import order_key

    return Counter(order_key(o.side, o.close, o.qty, o.price) for o in orders)


def book_check(bot, emu, warm_from: int) -> tuple[bool, int, int]:
    """(book == ideal, duplicates, orphans) for the emulator's state now."""
    from harness.live import expected_orders

    ideal = _keys(expected_orders(emu.account, emu.candles, warm_from, bot.state.params,
                                  bot.market))
    book = _keys(emu.account.open_orders.values())
    dups = sum(n - max(ideal.get(k, 0), 1) for k, n in book.items() if n > max(ideal.get(k, 0), 1))
    orphans = sum((book - ideal).values())
    return book == ideal, dups, orphans


def excess_exposure(bot, emu, warm_from: int) -> float:
    """The worst side's resting entry quantity beyond the calculator's ideal entries, valued at
    the last price (quote). An entry resting at a stale price with the ideal quantity is not an
    excess; a second entry on a side is."""
    from harness.live import expected_orders

    ideal = expected_orders(emu.account, emu.candles, warm_from, bot.state.params, bot.market)
    worst = 0.0
    for side in (-1, 1):
        want = sum(w.qty for w in ideal if w.side == side and not w.close)
        rest = sum(o.qty for o in emu.account.open_orders.values()
                   if o.side == side and not o.close)
        worst = max(worst, (rest - want) * emu.account.last_price)
    return worst


def warmup_len(bot) -> int:
    """Candles the bot warms its EMAs on (LiveBot.warm_up's rule)."""
    p = bot.state.params
    span = float(max(p[:, P_EMA_SPAN_0].max(), p[:, P_EMA_SPAN_1].max()))
    return int(min(bot.opt.max_warmup_candles, max(2, math.ceil(span * bot.opt.warmup_span_mult))))


async def hard_kill(bot) -> None:
    """What a SIGKILL leaves: tasks gone, sockets closed, no shutdown code, orders resting."""
    bot.stopping.set()
    for t in bot._tasks:
        t.cancel()
    await asyncio.gather(*bot._tasks, return_exceptions=True)
    await bot.adapter.ex.close()
