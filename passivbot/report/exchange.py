"""A session journal built from the exchange's own trade history (`python3 -m passivbot.report
--exchange binance --user NAME --since DATE`), for a session whose journal is lost or for
trades made outside the bot; the report then runs on it exactly as on the bot's journal.

What the trade history gives and what it does not:
- every execution of the symbol between `since` and `until`, all pages (`trades.fetch_trades`),
  with its price, qty, fee and maker/taker flag, each journalled as one fill (a partial fill's
  executions are separate lines, as the bot journals them);
- the position side: from the trade (Binance `positionSide`), else from its order (Bybit
  executions do not carry it: one `fetch_order` per order);
- positions and PnL: replayed through `trades.ledger_step` from flat at `since` (pick a `since`
  when the bot was flat; a difference with the exchange's positions now is reported);
- funding: the funding history (`ExchangeAdapter.fetch_funding`), each settlement a journal
  `funding` line (its side from the venue, else from the replayed positions at its time:
  `report.funding.infer_sides`), so the report's funding figures are the exchange's;
- the starting balance: `--balance`, else the wallet balance now minus the realized PnL and fees
  of the trades and the funding received (paid counts negative);
- equity: one sample per fill (balance plus unrealized PnL at the fill's price); no liquidation
  price (the report's closest liquidation is then 100 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from passivbot.config import LiveConfig, live_config_to_dict
from passivbot.records import LONG, SHORT
from passivbot.report.funding import derived_rate, infer_sides
from passivbot.report.journal import JournalWriter
from passivbot.report.trades import EntryKinds, fetch_trades, ledger_step, trade_fields


@dataclass(frozen=True)
class HistoryInfo:
    n_trades: int
    start_balance: float
    balance_inferred: bool
    end_positions: tuple[float, float]  # the ledger's sizes (long, short) after the last trade
    exchange_positions: tuple[float, float]  # the exchange's sizes now
    since_ms: int
    until_ms: int

    @property
    def positions_match(self) -> bool:
        return all(abs(a - b) <= 1e-9 for a, b in zip(self.end_positions,
                                                        self.exchange_positions))


async def _sides(adapter, trades: list[dict]) -> list[int | None]:
    """Each trade's position side: the trade's own, else its order's (fetched once per order)."""
    by_order: dict[str, int | None] = {}
    out = []
    for t in trades:
        side = adapter.order_side(t)
        oid = str(t.get("order") or "")
        if side is None and oid:
            if oid not in by_order:
                try:
                    o = await adapter.ex.fetch_order(oid, adapter.symbol, {"acknowledged": True})
                    by_order[oid] = adapter.order_side(o)
                except Exception:  # noqa: BLE001 - the fill is then listed with side "?"
                    by_order[oid] = None
            side = by_order[oid]
        out.append(side)
    return out


async def history_journal(adapter, cfg: LiveConfig, since_ms: int, until_ms: int | None,
                          path: Path, mode: str, balance: float | None = None) -> HistoryInfo:
    """Read the trade history of `adapter`'s symbol and write it to `path` as a journal (see
    module doc). `until_ms` None: the exchange's time now."""
    ex = adapter.ex
    await adapter.load_market()
    now = int(await ex.fetch_time())
    until = now if until_ms is None else min(int(until_ms), now)
    caps = adapter.caps
    trades = await fetch_trades(ex, adapter.symbol, since_ms, until, caps.trades_page,
                                caps.trades_cursor)
    sides = await _sides(adapter, trades)
    wallet = adapter.wallet_balance(await ex.fetch_balance())
    pos = adapter.positions(await ex.fetch_positions([adapter.symbol]))
    psize, pprice = [0.0, 0.0], [0.0, 0.0]
    kinds = EntryKinds()
    rows = []
    for t, side in zip(trades, sides):
        qty, price, fee, maker, ts = trade_fields(t)
        if side is None:
            continue
        j = 0 if side == LONG else 1
        close = (side == LONG) != (t.get("side") == "buy")
        oid = str(t.get("order") or "")
        pnl, kind = ledger_step(psize, pprice, j, close, qty, price, kinds.get(oid))
        kinds.remember(oid, kind)
        rows.append((ts, j, kind, qty, price, fee, pnl, psize[j], pprice[j], maker is not False,
                     str(t.get("order") or ""), list(psize), list(pprice)))
    funding = await _funding(adapter, since_ms, until, rows)
    inferred = balance is None
    start = float(balance) if balance is not None else \
        float(wallet or 0.0) - sum(r[6] - r[5] for r in rows) - sum(f[2] for f in funding)
    m = adapter.market if isinstance(adapter.market, dict) else {}
    j_ = JournalWriter(path)
    try:
        j_.session(since_ms, caps.name, adapter.symbol_id, mode, start,
                   float(m.get("maker") or 0.0), float(m.get("taker") or 0.0),
                   live_config_to_dict(cfg))
        j_.equity(since_ms, start, start, rows[0][4] if rows else 0.0, 0, 0, 0, 0, 0.0)
        bal = start
        k = 0
        for ts, j, kind, qty, price, fee, pnl, ps, pp, maker, oid, sizes, prices in rows:
            while k < len(funding) and funding[k][0] < ts:
                bal += funding[k][2]
                j_.funding(*funding[k][:6], bal, *funding[k][6:])
                k += 1
            bal += pnl - fee
            j_.fill(ts, ("long", "short")[j], kind, qty, price, fee, pnl, ps, pp, bal, maker, oid)
            upnl = sizes[0] * (price - prices[0]) + sizes[1] * (prices[1] - price)
            j_.equity(ts, bal, bal + upnl, price, sizes[0], prices[0], sizes[1], prices[1], 0.0)
        for f in funding[k:]:
            bal += f[2]
            j_.funding(*f[:6], bal, *f[6:])
    finally:
        j_.close()
    return HistoryInfo(len(rows), start, inferred, (psize[0], psize[1]),
                       (pos.get(LONG, (0.0, 0.0))[0], pos.get(SHORT, (0.0, 0.0))[0]),
                       int(since_ms), int(until))


async def _funding(adapter, since_ms: int, until_ms: int, rows: list) -> list[tuple]:
    """The funding history as journal fields (ts, side name, amount, rate, price, psize, id,
    symbol), sides inferred from the positions replayed from the trades where the venue does
    not name them; the rate, where the venue does not give it, from the payment and the last
    fill price before it (0: unknown)."""
    async def direct(fn):
        return await fn()

    events = await adapter.fetch_funding(since_ms, until_ms, direct)
    out: list[tuple] = []
    by_ts: dict[int, list] = {}
    for e in events:
        by_ts.setdefault(e.ts_ms, []).append(e)
    for ts in sorted(by_ts):
        before = [r for r in rows if r[0] <= ts]
        sizes = tuple(before[-1][11]) if before else (0.0, 0.0)
        price = before[-1][4] if before else 0.0
        for e, side in zip(by_ts[ts], infer_sides(by_ts[ts], sizes)):
            size = sizes[0 if side == LONG else 1] if side is not None else 0.0
            rate = e.rate if e.rate is not None else derived_rate(side, e.amount, size, price)
            out.append((ts, {LONG: "long", SHORT: "short"}.get(side, ""), e.amount,
                        0.0 if rate is None else rate, price if side is not None else 0.0,
                        size, e.id, e.symbol_id))
    return out
