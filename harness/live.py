"""Helpers for tests and the bench that run the live bot against the emulator in lockstep.

Part of the `harness` package (see its docstring): the bench and tests use it; the bot
itself never imports this module.
"""

from __future__ import annotations

import numpy as np

from harness.emulator import flat_candles
from passivbot.grid import emas_from_closes_nb, ema_band_nb, ideal_orders_nb
from passivbot.live.diff import Wanted, wanted_from_arrays
from passivbot.records import LONG, P_EMA_SPAN_0, P_EMA_SPAN_1, SHORT


def fall_then_rise(n_history: int = 1440, n_fall: int = 150, n_rise: int = 150,
                   price: float = 2000.0, fall: float = 0.12, rise: float = 0.16,
                   wick: float = 0.002) -> np.ndarray:
    """Flat history, then a steady fall by `fall`, then a rise by `rise` (fractions), with
    candles spanning +-wick around a path: re-entries fill on the way down, closes on the way up.
    """
    n = n_history + n_fall + n_rise + 5
    c = flat_candles(n, price, spread=price * 0.0002)
    path = np.concatenate([np.full(n_history, price),
                           price * (1 - fall * np.arange(1, n_fall + 1) / n_fall),
                           price * (1 - fall) * (1 + rise * np.arange(1, n_rise + 1) / n_rise),
                           np.full(5, price * (1 - fall) * (1 + rise))])
    prev = np.concatenate([[price], path[:-1]])
    c[:, 1] = prev
    c[:, 4] = path
    c[n_history:, 2] = np.maximum(prev, path)[n_history:] * (1 + wick)
    c[n_history:, 3] = np.minimum(prev, path)[n_history:] * (1 - wick)
    return np.round(c, 2)


def expected_orders(account, candles: np.ndarray, warm_from: int, params: np.ndarray,
                    market: np.ndarray) -> list[Wanted]:
    """The calculator's ideal orders for the emulator's account now, computed independently
    of the bot: EMAs from candles[warm_from:clock] (seeded on the first), last price the last
    closed close, wallet balance and positions from the emulator."""
    clock = account.clock
    closes = np.ascontiguousarray(candles[warm_from:clock, 4])
    last = float(candles[clock - 1, 4])
    out = []
    for j, side in enumerate((LONG, SHORT)):
        p = params[j]
        e0, e1 = emas_from_closes_nb(closes, p[P_EMA_SPAN_0], p[P_EMA_SPAN_1])
        lo, hi = ema_band_nb(e0, e1)
        pos = account.positions[side]
        ent, cls = ideal_orders_nb(side, account.balance, pos.size, pos.price, lo, hi, last, p,
                                   market)
        out += wanted_from_arrays(side, ent, cls)
    return out


def order_key(side: int, close: bool, qty: float, price: float) -> tuple:
    return (side, close, round(qty, 8), round(price, 8))


def emulator_book(account) -> list[tuple]:
    return sorted(order_key(o.side, o.close, o.qty, o.price)
                  for o in account.open_orders.values())


def wanted_book(wanted: list[Wanted]) -> list[tuple]:
    return sorted(order_key(w.side, w.close, w.qty, w.price) for w in wanted)


def state_caught_up(st, acc, candles: np.ndarray) -> bool:
    """A bot's state equals one emulator book's: last closed candle and its close (the
    calculator's price), wallet balance, both positions."""
    if st.last_closed_ts != int(candles[acc.clock - 1, 0]):
        return False
    if st.close_price != float(candles[acc.clock - 1, 4]):
        return False
    if abs(st.balance - acc.balance) > 1e-6:
        return False
    for j, side in enumerate((LONG, SHORT)):
        pos = acc.positions[side]
        if abs(st.psize[j] - pos.size) > 1e-9 or \
                (pos.size > 0 and abs(st.pprice[j] - pos.price) > 1e-6):
            return False
    return True


def caught_up(bot, emu) -> bool:
    """The bot's state equals the emulator's (`state_caught_up`)."""
    return state_caught_up(bot.state, emu.account, emu.candles)


async def settle(bot, emu, timeout: float = 10.0, idle_s: float = 0.01) -> None:
    """Lockstep barrier: the bot caught up with the emulator, no cycle pending or running,
    no request in flight and no stream message queued for `idle_s`. AssertionError after
    `timeout`. (127.0.0.1 delivers in well under a millisecond, so the parity harness uses
    1 ms; too short a window can only make the bot late for a minute, which shows as a
    mismatch, never hides one.)"""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await emu.wait_idle(idle_s, timeout)
        if caught_up(bot, emu) and await bot.wait_settled(timeout) and bot.settled():
            if await emu.wait_idle(idle_s, timeout) and bot.settled() and caught_up(bot, emu):
                return
        await asyncio.sleep(idle_s / 2)
    st, acc = bot.state, emu.account
    raise AssertionError(
        f"bot did not settle with the emulator in {timeout}s: settled={bot.settled()} "
        f"last_closed {st.last_closed_ts} vs {int(emu.candles[acc.clock - 1, 0])}, "
        f"time {st.exchange_time}, close {st.close_price} vs {emu.candles[acc.clock - 1, 4]}, "
        f"balance {st.balance} vs {acc.balance}, sizes {st.psize.tolist()} vs "
        f"{[acc.positions[s].size for s in (LONG, SHORT)]}, pending {sorted(st.pending)}")


def subscribed(emu) -> bool:
    """The bot's market and user streams are subscribed on the emulator (both protocols'
    topic names): advancing before that would publish a minute the bot never sees."""
    topics = [t for c in emu.conns for t in c.topics]
    user = any(c.kind == "user" for c in emu.conns) or "order" in topics
    return user and any("kline" in t for t in topics) and any("ticker" in t for t in topics)


async def wait_subscribed(emu, timeout: float = 10.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not subscribed(emu):
        if time.monotonic() > deadline:
            raise AssertionError("the bot did not subscribe its streams in time")
        await asyncio.sleep(0.01)
