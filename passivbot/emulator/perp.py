"""The emulator's funding clock: which funding events a candle settles, by the backtester's rule.

`passivbot.backtest.engine` settles, at the start of candle i (before its fills), every funding
event with time <= candle i's open time not yet charged, at the event's mark price or, where the
mark is unknown (NaN), at candle i's open; events at or before the open of the last candle the
account saw before trading (the backtest's seed candle, the emulator's `start_index - 1`) are
not the account's. `FundingClock` replays exactly that on the emulator's candle clock, so
`Account.step` charges the same events at the same candles with the same function
(`margin.funding_payment_nb` via `Account.settle_funding`).

Units: times int64 ms, rates per event (0.0001 = 0.01 %), marks in quote (NaN: candle open).
"""

from __future__ import annotations

import numpy as np


class FundingClock:
    """Funding events in time order and a cursor on the next one not yet settled."""

    def __init__(self, times_ms, rates, marks=None) -> None:
        t = np.asarray(times_ms, dtype=np.int64).reshape(-1)
        r = np.asarray(rates, dtype=np.float64).reshape(-1)
        m = np.full(len(t), np.nan) if marks is None else np.asarray(marks, np.float64).reshape(-1)
        if not len(t) == len(r) == len(m):
            raise ValueError(f"funding arrays differ in length: times {len(t)}, rates {len(r)}, "
                             f"marks {len(m)}")
        if len(t) > 1 and (np.diff(t) <= 0).any():
            raise ValueError("funding times must be strictly ascending")
        self.times, self.rates, self.marks = t, r, m
        self.next = 0

    @classmethod
    def of(cls, funding) -> "FundingClock | None":
        """From a `data.perp.FundingSeries`, a `backtest.runner.Funding`, a (times, rates[,
        marks]) tuple, or None (no funding)."""
        if funding is None:
            return None
        if isinstance(funding, FundingClock):
            return funding
        if hasattr(funding, "times_ms"):
            return cls(funding.times_ms, funding.rates, getattr(funding, "mark", None))
        if hasattr(funding, "times"):
            return cls(funding.times, funding.rates, getattr(funding, "marks", None))
        return cls(*funding)

    def skip_through(self, ms: float) -> None:
        """Events at or before `ms` are not the account's (before it started trading)."""
        while self.next < len(self.times) and self.times[self.next] <= ms:
            self.next += 1

    def due(self, open_ms: float, open_price: float) -> list[tuple[float, float]]:
        """(rate, mark) of each event due at a candle opening at `open_ms`; advances the
        cursor. A NaN mark reads as the candle's open, the backtester's fallback."""
        out = []
        while self.next < len(self.times) and self.times[self.next] <= open_ms:
            k = self.next
            mark = self.marks[k]
            out.append((float(self.rates[k]), open_price if np.isnan(mark) else float(mark)))
            self.next += 1
        return out

    def column_stack(self) -> np.ndarray:
        """float (n, 3): time ms, rate, mark (what the market-data routes serve)."""
        return np.column_stack([self.times.astype(np.float64), self.rates, self.marks])
