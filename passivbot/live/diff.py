"""Ideal orders vs open orders -> the actions that turn one into the other (pure, no IO).

Only the bot's own orders (client id prefix `pb`) take part; anything else on the symbol
(a user's manual order) is left alone. An open order matches an ideal one when position side,
direction (entry/close), price and qty agree within half a step (i.e. they are the same stepped
value); the price compared is the calculator's price the order was placed for (`ideal_price`,
when a post-only price was moved behind the book, as long as the calculator's price would still
cross the book), and the qty is what remains (a partially
filled order whose remainder is still ideal keeps resting). Matched orders are left
alone, unmatched open orders are cancelled, unmatched ideal orders are created. Cancels come
first (they free margin and remove stale levels), nearest to the last price first, because
the nearest orders are the next to fill; at most `max_actions` actions per cycle, the rest
is left for the next cycle (`truncated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from passivbot.fills import is_close_kind_nb
from passivbot.records import LONG, O_KIND, O_PRICE, O_QTY

MATCH_TOL_STEPS = 0.5
CLIENT_ID_PREFIX = "pb"


def is_ours(client_id: str | None) -> bool:
    """Orders the bot placed carry its client-id prefix; only those are ever touched."""
    return str(client_id or "").startswith(CLIENT_ID_PREFIX)


@dataclass(frozen=True)
class Wanted:
    """One order the calculator wants resting."""

    side: int  # position side, LONG / SHORT
    close: bool  # reduces the position
    qty: float
    price: float
    kind: int  # KIND_*

    @property
    def is_buy(self) -> bool:
        return (self.side == LONG) != self.close


@dataclass(frozen=True)
class OpenOrder:
    """One order resting on the exchange, as the bot knows it."""

    id: str
    client_id: str
    side: int | None  # position side; None if the exchange did not say (cancelled as foreign)
    close: bool
    qty: float  # remaining
    price: float
    ideal_price: float | None = None  # the calculator's price, when it differs from `price`

    @property
    def is_buy(self) -> bool:
        return (self.side == LONG) != self.close

    @property
    def wanted_price(self) -> float:
        return self.price if self.ideal_price is None else self.ideal_price


@dataclass
class Plan:
    cancels: list[OpenOrder] = field(default_factory=list)
    creates: list[Wanted] = field(default_factory=list)
    truncated: bool = False
    matched: int = 0

    @property
    def empty(self) -> bool:
        return not self.cancels and not self.creates


def wanted_from_arrays(side: int, entries: np.ndarray, closes: np.ndarray) -> list[Wanted]:
    """grid.ideal_orders_nb's (entries, closes) arrays as Wanted records."""
    out = []
    for arr in (entries, closes):
        for r in range(arr.shape[0]):
            kind = int(arr[r, O_KIND])
            # Every close kind (take-profit, unstuck, stop) is reduce-only: one predicate,
            # shared with the fill rule, so an unstuck close never goes out as an entry.
            out.append(Wanted(side, bool(is_close_kind_nb(kind)), float(arr[r, O_QTY]),
                              float(arr[r, O_PRICE]), kind))
    return out


def crosses_book(w: Wanted, bid: float, ask: float) -> bool:
    """Whether `w` at the calculator's price would take liquidity at this top of book (a buy
    at or above the ask, a sell at or below the bid); an unknown book (0) never does."""
    if bid <= 0.0 or ask <= 0.0:
        return False
    return w.price >= ask if w.is_buy else w.price <= bid


def same(w: Wanted, o: OpenOrder, price_step: float, qty_step: float, bid: float = 0.0,
         ask: float = 0.0) -> bool:
    """`o` is `w`. An order moved behind the book (`ideal_price` set) stands for `w` only
    while `w`'s own price would still cross the book: once the book has moved away it is
    re-placed at the calculator's price (left behind, it would rest more passively than the
    calculator and the backtest for as long as that price holds)."""
    if o.ideal_price is not None and (bid > 0.0 and ask > 0.0) and not crosses_book(w, bid, ask):
        return False
    return (o.side == w.side and o.close == w.close
            and abs(o.wanted_price - w.price) < MATCH_TOL_STEPS * price_step
            and abs(o.qty - w.qty) < MATCH_TOL_STEPS * qty_step)


def diff_orders(ideal: list[Wanted], open_orders: list[OpenOrder], price_step: float,
                qty_step: float, last_price: float, max_actions: int, bid: float = 0.0,
                ask: float = 0.0) -> Plan:
    """The cancels and creates that make `open_orders` equal `ideal` (see module doc);
    `bid`/`ask`: the top of book now (0: unknown), for orders moved behind it."""
    plan = Plan()
    unmatched = [o for o in open_orders if is_ours(o.client_id)]
    missing: list[Wanted] = []
    for w in ideal:
        for i, o in enumerate(unmatched):
            if same(w, o, price_step, qty_step, bid, ask):
                del unmatched[i]
                plan.matched += 1
                break
        else:
            missing.append(w)
    dist = lambda x: abs(x.price - last_price)  # noqa: E731
    unmatched.sort(key=dist)
    missing.sort(key=dist)
    budget = max(0, max_actions)
    plan.cancels = unmatched[:budget]
    budget -= len(plan.cancels)
    plan.creates = missing[:budget]
    plan.truncated = len(plan.cancels) < len(unmatched) or len(plan.creates) < len(missing)
    return plan
