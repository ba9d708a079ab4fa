"""The realistic mode's market inside a candle: a seeded price path consistent with its OHLC, a
top of book around it, and which stream topics are due at each point (each exchange's cadence).

Why a path at all: the real venues tick many times a minute and quote a spread, and a PostOnly
order is checked against the best opposite price *now*, not against the last minute's close. The
path drives what clients see (prices, book, timing, PostOnly crossing); resting orders still fill
once per candle by the shared rule (`passivbot.fills`) at its close, so a backtest over the same
candles stays the reference (docs/emulator.md, "Realistic mode").

Units: prices in quote, time in ms from the candle's open (0 .. 59_999).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from passivbot.numeric import round_nb

CANDLE_MS = 60_000
# Stream cadences in emulated ms (0: on every change). Binance USDT-M: kline pushes every 250 ms,
# @miniTicker / @ticker about every second, @bookTicker and trades in real time. Bybit v5:
# tickers every 100 ms, orderbook.1 every 10 ms on change, kline every second (confirm: false).
CADENCE_MS = {
    "binance": {"kline": 250, "miniticker": 1000, "ticker": 1000, "bookticker": 0, "trade": 0},
    "bybit": {"kline": 1000, "tickers": 100, "orderbook": 0, "trade": 0},
}
FINEST_MS = 100  # a path point at most every 100 emulated ms (Bybit's ticker cadence)


@dataclass(frozen=True)
class Realism:
    """The emulator's realism knobs (docs/emulator.md).

    mode: "full" (default: intra-candle path, spread, PostOnly against the book, partial fills,
      signed-request clock checks, rate limits as the venues answer) or "minute" (one closed
      kline and one ticker a minute, no spread: faster, the older emulator).
    seed: seeds every path (with the candle index) and the partial-fill draws.
    lockstep_points: path points per candle in `Emulator.advance` (lockstep tests, parity).
    min_wall_step_s: real time (`run_realtime`): at most one path point per this many wall
      seconds (the cadences are scaled by --speed and coarsened to this floor).
    spread_ticks: best ask - best bid, in price steps (>= 1).
    partial_fills: split a seeded share of fills into 2-3 executions (PARTIALLY_FILLED first).
    partial_share: probability that a fill is split.
    check_clock: signed requests outside recvWindow of the server clock are refused.
    rate_limits: request weights per window, 429 / 418 bans (Binance), 10006 / 403 (Bybit).
    """

    mode: str = "full"
    seed: int = 0
    lockstep_points: int = 8
    min_wall_step_s: float = 0.01
    spread_ticks: int = 1
    partial_fills: bool = True
    partial_share: float = 0.3
    check_clock: bool = True
    rate_limits: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("full", "minute"):
            raise ValueError(f"realism mode must be 'full' or 'minute', not {self.mode!r}")
        if self.lockstep_points < 4:
            raise ValueError("lockstep_points must be >= 4 (open, two extremes, close)")
        if self.spread_ticks < 1:
            raise ValueError("spread_ticks must be >= 1")
        if not 0.0 <= self.partial_share <= 1.0:
            raise ValueError("partial_share must be in [0, 1]")

    @property
    def full(self) -> bool:
        return self.mode == "full"


MINUTE = Realism(mode="minute", partial_fills=False, check_clock=False, rate_limits=False)


def realism_of(value: "Realism | str | None") -> Realism:
    """Realism from a Realism, "full", "minute" or None (the default: full)."""
    if value is None:
        return Realism()
    if isinstance(value, Realism):
        return value
    if value == "minute":
        return MINUTE
    return Realism(mode=value)


def point_times(n: int) -> np.ndarray:
    """Offsets (ms from the candle's open) of `n` path points: the open at 0, the close at
    59_999, the others evenly between."""
    t = np.linspace(0.0, CANDLE_MS - 1, n)
    return np.round(t).astype(np.int64)


def candle_path(candle: np.ndarray, index: int, seed: int, n: int,
                price_step: float) -> np.ndarray:
    """`n` prices for the candle (open, high, low, close at cols 1-4): starts at the open, ends
    at the close, reaches the high and the low exactly once each in a seeded order, never leaves
    [low, high]; the points between follow straight lines plus seeded noise, on the price step.
    """
    o, h, lo, c = (float(x) for x in candle[1:5])
    rng = np.random.default_rng([seed & 0xFFFFFFFF, index])
    high_first = bool(rng.integers(0, 2))
    a = 1 + int(rng.integers(0, max(1, (n - 2) // 2)))
    b = a + 1 + int(rng.integers(0, max(1, n - 2 - a)))
    b = min(b, n - 2)
    xs = [0, a, b, n - 1]
    ys = [o, h if high_first else lo, lo if high_first else h, c]
    k = np.arange(n)
    path = np.interp(k, xs, ys)
    noise = rng.normal(0.0, 0.15, n) * (h - lo)
    path = np.clip(path + noise, lo, h)
    path = np.array([round_nb(p, price_step) for p in path])
    path = np.clip(path, lo, h)
    path[0], path[a], path[b], path[-1] = ys
    return path


def book_at(price: float, prev: float, prev_bid_side: bool, spread: float,
            price_step: float) -> tuple[float, float, bool]:
    """(bid, ask, trade_at_bid) around a last trade at `price`: a down-tick traded at the bid
    (bid = price), an up-tick at the ask (ask = price); unchanged keeps the side before."""
    at_bid = prev_bid_side if price == prev else price < prev
    if at_bid:
        return price, round_nb(price + spread, price_step), True
    return round_nb(price - spread, price_step), price, False


def due(exchange: str, t_prev: int, t_now: int, changed: bool, book_changed: bool) -> set[str]:
    """Topics due at a point at `t_now` (previous point at `t_prev`; -1 at a candle's first):
    periodic topics once per cadence window, real-time ones on a change."""
    out = set()
    for topic, every in CADENCE_MS[exchange].items():
        if every == 0:
            if (topic in ("bookticker", "orderbook") and book_changed) or (
                    topic == "trade" and changed):
                out.add(topic)
        elif t_prev < 0 or t_now // every != t_prev // every:
            out.add(topic)
    return out


def wall_points(speed: float, min_wall_step_s: float) -> int:
    """Path points per candle in real time at `speed` candles/minute: the finest cadence
    (100 ms) unless that would be more often than `min_wall_step_s` of wall time; >= 4."""
    candle_wall_s = 60.0 / speed
    n = int(min(CANDLE_MS // FINEST_MS, candle_wall_s / max(min_wall_step_s, 1e-4)))
    return max(4, n)
