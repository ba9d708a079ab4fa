"""Restart: the fills made while the bot was down, from the journal's last line and the
exchange's trade history (`report_missed_fills`, called by the bot at setup; funding settled
while down: `live.funding.FundingLedger.startup`)."""

from __future__ import annotations

import time
from pathlib import Path

from passivbot.live.state import MINUTE_MS
from passivbot.report.trades import fetch_trades


def resume_point(path: Path) -> tuple[int, list[float], list[float], float] | None:
    """(since_ms, psize, pprice, balance) after the journal's last line, or None when there is
    no journal (or it cannot be read: the caller warns)."""
    from passivbot.report.journal import read_journal

    if not path.is_file() or path.stat().st_size == 0:
        return None
    j = read_journal(path)
    rows = sorted(j["session"] + j["fill"] + j["equity"], key=lambda r: r["ts_ms"])
    if not rows:
        return None
    psize, pprice, balance = [0.0, 0.0], [0.0, 0.0], 0.0
    for r in rows:
        if r["type"] == "equity":
            psize = [r["psize_long"], r["psize_short"]]
            pprice = [r["pprice_long"], r["pprice_short"]]
            balance = r["balance"]
        elif r["type"] == "fill":
            k = 0 if r["side"] == "long" else 1
            psize[k], pprice[k], balance = r["psize"], r["pprice"], r["balance"]
        else:
            balance = r["balance"]
    return int(rows[-1]["ts_ms"]) + 1, psize, pprice, float(balance)


async def report_missed_fills(view, adapter, rest, journal_path: Path) -> int:
    """Fills made while the bot was down: the exchange's trade history since the journal's
    last line (every page: `report.trades.fetch_trades`), reported ("while the bot was down")
    and journalled. Returns how many."""
    from passivbot.live.view import ymdhm
    from passivbot.report.journal import JournalError

    try:
        point = resume_point(journal_path)
    except (JournalError, OSError) as e:
        view.log.warning("journal unreadable (%s): fills made while the bot was down are not "
                         "reported", e)
        return 0
    if point is None:
        return 0
    since, psize, pprice, balance = point
    view.psize, view.pprice, view.balance = list(psize), list(pprice), balance
    sym = adapter.symbol
    now = int(view.state.exchange_time or time.time() * 1000)
    got = await fetch_trades(adapter.ex, sym, since, now + MINUTE_MS, adapter.caps.trades_page,
                             adapter.caps.trades_cursor, rest)
    trades = [t for t in got if t.get("symbol") == sym]
    for t in trades:
        side = adapter.order_side(t)
        if side is None:
            side = view.state.order_sides.get(str(t.get("order")))
        if side is None and t.get("order"):
            try:  # Bybit's executions do not say the position side; the order does
                o = await rest(lambda: adapter.ex.fetch_order(str(t["order"]), sym,
                                                              {"acknowledged": True}))
                side = adapter.order_side(o)
            except Exception:  # noqa: BLE001 - reported as side "?" below
                side = None
        view.on_trade(t, side, t.get("side") == "buy", missed=True)
    st = view.state
    if trades:
        view.log.info("%d fill(s) while the bot was down (since %s UTC), listed above",
                      len(trades), ymdhm(since))
    else:
        view.log.info("no fills while the bot was down (since %s UTC)", ymdhm(since))
    if any(abs(view.psize[j] - st.psize[j]) > 1e-9 for j in range(2)):
        view.log.warning("positions now (long %g, short %g) differ from the journal plus the "
                         "trade history (long %g, short %g): changed by hand or by a fill the "
                         "history no longer lists", st.psize[0], st.psize[1], *view.psize)
    view.resync(force=True)
    return len(trades)
