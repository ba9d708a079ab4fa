"""Several symbols on one emulated account: one wallet, one minute settled by the multi-symbol
backtest's rules (`passivbot.backtest.multi_nb` documents them; this is the emulator's side).

Every symbol has its own `core.Account` (candles, spec, funding, positions, orders); `join`
puts them on one `core.Wallet`, after which their `balance` is the one balance and their
margin checks see every position (cross margin). `step_wallet` settles one minute of all of
them in the backtest's order:

1. if exactly one symbol holds positions and its candle opens past its liquidation price (the
   hedged price with the whole balance, as before this minute's funding), nothing trades;
2. the funding due at the minute's open, symbol by symbol (in the wallet's order);
3. each symbol's resting orders by the shared fill rule, symbol by symbol; an entry fills only
   if the account's available margin (all positions, unrealized pnl at each symbol's previous
   close) carries it;
4. liquidation: one symbol holding positions - its hedged liquidation price with the whole
   balance (the one-symbol rule); two or more - the account's equity with every position at its
   candle's worse extreme against the sum of the maintenance margins there; every position then
   closes at that price (taker fee) and what margin is left is lost;
5. every symbol's clock moves on and its kline is published.

The candles of all symbols share one minute axis (equal timestamps row by row): the caller
aligns them (`align_candles` below: the CLI and `harness.parity_multi` use it).
"""

from __future__ import annotations

from passivbot.emulator.core import Account, Wallet, end_in_liquidation
from passivbot.margin import is_liquidated_nb, maintenance_margin_nb, worst_extreme_nb
from passivbot.records import LONG, SHORT


def join(books: list[Account], balance: float) -> Wallet:
    """One wallet of `balance` for `books` (in settlement order); returns it."""
    w = Wallet(balance)
    for b in books:
        b.__dict__["wallet"] = w
        w.books.append(b)
    return w


def holders(books: list[Account]) -> list[Account]:
    return [b for b in books if any(p.size > 0.0 for p in b.positions.values())]


def open_minute(wallet: Wallet) -> None:
    """Settle the open of the minute in progress, once: whether it opens past the liquidation
    price (exactly one symbol holding positions: its hedged price with the whole balance, as
    before this minute's funding), then the funding due at its open. `step_wallet` does it
    first; an order that fills at once during the minute (a market order: the equity stop's
    close) does it before its fill, so that it pays the funding due at the open as the
    backtest charges it (funding, then the stop's close at the open) and as the venue does (at
    the funding instant, before any later order)."""
    books = wallet.books
    i = books[0].clock
    if wallet.opened == i or any(i >= len(b.candles) for b in books):
        return
    hold = holders(books)
    blocked = False
    if len(hold) == 1:  # liquidated at the open: a gap through the price
        liq, direction = hold[0].liq_price()
        op = float(hold[0].candles[i, 1])
        blocked = direction != 0 and is_liquidated_nb(liq, direction, op, op)
    wallet.opened, wallet.blocked = i, blocked
    for b in books:
        b.fund(i)


def step_wallet(wallet: Wallet) -> list:
    """Settle the next minute of every symbol on `wallet` (see the module; one symbol alone is
    the one-symbol backtest's minute: `Account.step` calls this); returns the fills in
    settlement order."""
    books = wallet.books
    i = books[0].clock
    if any(b.clock != i for b in books):
        raise RuntimeError("the symbols of one wallet are on different minutes")
    if any(i >= len(b.candles) for b in books):
        raise IndexError("out of candles")
    open_minute(wallet)
    fills: list = []
    if not wallet.blocked:
        wallet.marks = {id(b): float(b.candles[max(i - 1, 0), 4]) for b in books}
        try:
            for b in books:
                fills += b.fill_resting(i)
        finally:
            wallet.marks = None
    hold = holders(books)
    if len(hold) == 1:
        c = hold[0].candles[i]
        fills += hold[0]._check_liquidation(float(c[3]), float(c[2]))
    elif len(hold) > 1:
        fills += _cross_liquidation(wallet, hold, i)
    for b in books:
        b.end_candle(i)
    return fills


def _worst(b: Account, i: int) -> tuple[float, float]:
    """(unrealized pnl, price) of symbol b's positions at its candle's worse extreme
    (`margin.worst_extreme_nb`, the backtest's rule)."""
    lp, sp = b.positions[LONG], b.positions[SHORT]
    return worst_extreme_nb(lp.size, lp.price, sp.size, sp.price, float(b.candles[i, 3]),
                            float(b.candles[i, 2]))


def _cross_liquidation(wallet: Wallet, hold: list[Account], i: int) -> list:
    """Two or more symbols hold positions: liquidate the account when its worst-case equity
    falls to the maintenance margin (multi_nb's rule, exact tiers)."""
    worst, mm, prices = wallet.balance, 0.0, []
    for b in hold:
        u, p = _worst(b, i)
        worst += u
        prices.append(p)
    for b, p in zip(hold, prices):
        br = b.spec.brackets_array()
        mm += maintenance_margin_nb(b.positions[LONG].size, p, br, b.spec.mmr_add) \
            + maintenance_margin_nb(b.positions[SHORT].size, p, br, b.spec.mmr_add)
    if worst > mm:
        return []
    for b in wallet.books:
        b.cancel_all()
    fills: list = []
    for b, p in zip(hold, prices):
        fills += b.close_all_at(p)
    return end_in_liquidation(wallet, fills, hold)


def align_candles(arrays: list) -> list:
    """Several symbols' 1m candles (float (n, 6) each) on one minute axis: the minutes all of
    them cover (latest first minute .. earliest last minute); a minute missing from one
    symbol's data becomes a flat candle at its previous close with volume 0 (the exchange had
    no trade). Raises ValueError when the spans do not overlap."""
    import numpy as np

    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    t0 = max(int(a[0, 0]) for a in arrays)
    t1 = min(int(a[-1, 0]) for a in arrays)
    if t1 < t0:
        raise ValueError("the symbols' candles do not overlap in time")
    axis = np.arange(t0, t1 + 60_000, 60_000, dtype=np.int64)
    out = []
    for a in arrays:
        ts = a[:, 0].astype(np.int64)
        a = a[(ts >= t0) & (ts <= t1)]
        ts = a[:, 0].astype(np.int64)
        idx = np.searchsorted(axis, ts)
        c = np.full((len(axis), 6), np.nan)
        c[idx] = a[:, :6]
        c[:, 0] = axis
        for i in np.flatnonzero(np.isnan(c[:, 4])):
            prev = c[i - 1, 4] if i > 0 else a[0, 1]
            c[i, 1:5] = prev
            c[i, 5] = 0.0
        out.append(c)
    return out
