"""The trade history, every page: the emulator pages `/fapi/v1/userTrades` and
`/v5/execution/list` by the venues' rules (7-day windows, page limits, Binance ascending with
`fromId`, Bybit newest first with a cursor), and `report.trades.fetch_trades` reads every trade
exactly once through real ccxt, across windows, a quiet week and a page of one millisecond."""

from __future__ import annotations

import pytest

from harness.emulator import flat_candles
from passivbot.emulator import Emulator
from passivbot.emulator.history import WEEK_MS, PageError, binance_page, bybit_page
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.registry import make_adapter
from passivbot.records import KIND_REENTRY, LONG, SHORT
from passivbot.report.trades import fetch_trades, ledger_step

T0 = 1_700_000_000_000
DAY = 86_400_000


def fill(n: int, ts: int, side: int = LONG, kind: int = KIND_REENTRY) -> dict:
    return {"minute": 0, "timestamp": ts, "side": side, "kind": kind, "qty": 0.01 * (n + 1),
            "price": 2000.0 + n, "fee": 0.0004 * (n + 1), "pnl": 0.0, "psize": 0.0,
            "pprice": 0.0, "balance": 1000.0, "order_id": 10_000 + n, "taker": False, "cum": 0.0,
            "n": n}


def history() -> list[dict]:
    """12 fills on day 0 (three in one millisecond), none in days 1-15 (a quiet week and more),
    25 on days 16-20."""
    ts = [T0 + 60_000 * i for i in range(9)] + [T0 + 600_000] * 3
    ts += [T0 + 16 * DAY + 3_600_000 * i for i in range(25)]
    return [fill(n, t, LONG if n % 2 else SHORT) for n, t in enumerate(ts)]


# -- the venues' paging rules (pure) -------------------------------------------------------
def test_binance_pages_ascending_within_seven_days_and_refuses_longer_or_mixed_queries():
    f = history()
    now = T0 + 20 * DAY
    page = binance_page(f, {"startTime": T0, "limit": 5}, now)
    assert [x["n"] for x in page] == [0, 1, 2, 3, 4]  # the first 5 of the window, oldest first
    # only startTime: startTime .. +7 days (day 16 is outside)
    assert len(binance_page(f, {"startTime": T0, "limit": 1000}, now)) == 12
    # neither: the last 7 days, the most recent `limit`
    assert [x["n"] for x in binance_page(f, {"limit": 3}, now)] == [34, 35, 36]
    assert len(binance_page(f, {}, now)) == 25  # default limit 500
    assert [x["n"] for x in binance_page(f, {"fromId": 11, "limit": 2}, now)] == [10, 11]
    with pytest.raises(PageError) as e:
        binance_page(f, {"startTime": T0, "endTime": T0 + WEEK_MS + 1}, now)
    assert e.value.kind == "interval"
    with pytest.raises(PageError) as e:
        binance_page(f, {"startTime": T0, "fromId": 3}, now)
    assert e.value.kind == "combination"
    assert len(binance_page(f, {"startTime": T0, "limit": 5000}, now)) == 12  # capped at 1000


def test_bybit_pages_newest_first_with_a_cursor_and_at_most_100():
    f = history()
    now = T0 + 20 * DAY
    p = {"startTime": T0 + 14 * DAY, "endTime": T0 + 21 * DAY - 1, "limit": 10}
    rows, cursor = bybit_page(f, p, now)
    assert [x["n"] for x in rows] == list(range(36, 26, -1)) and cursor
    rows2, cursor2 = bybit_page(f, {**p, "cursor": cursor}, now)
    assert [x["n"] for x in rows2] == list(range(26, 16, -1)) and cursor2
    rows3, cursor3 = bybit_page(f, {**p, "cursor": cursor2}, now)
    assert [x["n"] for x in rows3] == [16, 15, 14, 13, 12] and cursor3 == ""
    assert len(bybit_page(f, {**p, "limit": 500}, now)[0]) == 25  # capped at 100
    assert len(bybit_page(f, {"endTime": now}, now)[0]) == 25  # default 50, last 7 days
    assert bybit_page(f, {**p, "execType": "Funding"}, now) == ([], "")
    with pytest.raises(PageError):
        bybit_page(f, {"startTime": T0, "endTime": T0 + 8 * DAY}, now)


# -- every trade through real ccxt ----------------------------------------------------------
@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_fetch_trades_reads_every_page_of_every_window_once(exchange):
    candles = flat_candles(40, 2000.0, 1.0, t0=T0 + 20 * DAY)
    emu = Emulator(exchange, "ETHUSDT", candles, start_index=20, realism="minute")
    emu.account.fills.extend(history())
    await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    try:
        a = make_adapter(exchange, ex, "ETHUSDT")
        await a.load_market()
        calls = []
        async def rest(fn):
            calls.append(1)
            return await fn()
        # a page of 4: three pages on day 0 (one of them the same millisecond), empty windows
        # over the quiet days, seven pages on days 16-20
        got = await fetch_trades(ex, a.symbol, T0, T0 + 21 * DAY, 4, a.caps.trades_cursor, rest)
        assert [float(t["amount"]) for t in got] == pytest.approx(
            [0.01 * (n + 1) for n in range(37)])
        assert len({t["id"] for t in got}) == 37
        assert [t["timestamp"] for t in got] == sorted(t["timestamp"] for t in got)
        assert len(calls) >= 37 // 4 + 2  # paged, and the quiet week did not end the history
        # the venue's own page size: one page per window
        got = await fetch_trades(ex, a.symbol, T0, T0 + 21 * DAY, a.caps.trades_page,
                                 a.caps.trades_cursor)
        assert len(got) == 37
        assert a.caps.trades_page == (1000 if exchange == "binance" else 100)
        # a window in the middle: only its trades
        got = await fetch_trades(ex, a.symbol, T0 + 16 * DAY + 3_600_000, T0 + 16 * DAY
                                 + 3 * 3_600_000, 2, a.caps.trades_cursor)
        assert [round(float(t["amount"]), 2) for t in got] == [0.14, 0.15, 0.16]
    finally:
        await ex.close()
        await emu.stop()


def test_ledger_step_books_entries_at_the_mean_and_realizes_closes_by_side():
    psize, pprice = [0.0, 0.0], [0.0, 0.0]
    assert ledger_step(psize, pprice, 0, False, 1.0, 100.0) == (0.0, "initial_entry")
    assert ledger_step(psize, pprice, 0, False, 1.0, 90.0) == (0.0, "reentry")
    assert (psize[0], pprice[0]) == (2.0, 95.0)
    pnl, kind = ledger_step(psize, pprice, 0, True, 0.5, 99.0)
    assert (pnl, kind) == (pytest.approx(2.0), "close") and psize[0] == 1.5  # 0.5 x (99 - 95)
    ledger_step(psize, pprice, 1, False, 2.0, 100.0)
    pnl, _ = ledger_step(psize, pprice, 1, True, 2.0, 97.0)  # short: 2 x (100 - 97)
    assert pnl == pytest.approx(6.0) and (psize[1], pprice[1]) == (0.0, 0.0)
