"""Funding settlements as a venue's history lists them, turned into what a report needs: which
position paid (Binance's income rows do not say) and at what rate. Pure and shared by the live
view (`live/funding.py`) and the report from the exchange's history (`report/exchange.py`), as
`trades.ledger_step` is for fills.

Rule of both venues (`margin.funding_payment_nb`): a position of `size` at mark `mark` pays
side x size x mark x rate (side +1 long, -1 short), so with rate > 0 the long pays and the short
receives. Amounts here are received positive (the backtest's funding row `pnl`).
"""

from __future__ import annotations

from typing import Any

from passivbot.records import LONG, SHORT


def infer_sides(events: list[Any], sizes: tuple[float, float] | None
                ) -> list[int | None]:
    """The position side of each event settled at one time. A venue-given side is kept; else
    from the sizes held then: one event and one side open -> that side; two events and both
    sides open -> the assignment whose payments are in the ratio of the sizes (long pays
    size_long x mark x rate, short receives size_short x mark x rate: a x size_short + b x
    size_long = 0 when a is the long's), None when the sizes cannot tell (equal sizes)."""
    out = [e.side for e in events]
    if all(s is not None for s in out) or sizes is None:
        return out
    sl, ss = sizes
    open_ = [s for s, q in ((LONG, sl), (SHORT, ss)) if q > 0]
    if len(events) == 1 and len(open_) == 1:
        return [open_[0]]
    if len(events) == 2 and len(open_) == 2:
        a, b = events[0].amount, events[1].amount
        first_long, first_short = abs(a * ss + b * sl), abs(a * sl + b * ss)
        if first_long < 0.5 * first_short:
            return [LONG, SHORT]
        if first_short < 0.5 * first_long:
            return [SHORT, LONG]
    return out


def derived_rate(side: int | None, amount: float, size: float, price: float) -> float | None:
    """The funding rate a payment implies: amount = -side x size x mark x rate (received
    positive), the mark read as `price`; None when side or size is unknown."""
    if side is None or size <= 0 or price <= 0:
        return None
    return -amount / (side * size * price)
