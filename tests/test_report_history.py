"""The trade history, every page: the emulator pages `/fapi/v1/userTrades` and
`/v5/execution/list` by the venues' rules (7-day windows, page limits, Binance ascending with
`fromId`, Bybit newest first with a cursor), and `report.trades.fetch_trades` reads every trade
exactly once through real ccxt, across windows, a quiet week and a page of one millisecond."""

from __future__ import annotations

import pytest

from harness.emulator import emulated_venue, flat_candles
from passivbot.emulator.history import WEEK_MS, PageError, binance_page, bybit_page
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
    venue = emulated_venue(exchange, candles, start_index=20, realism="minute")
    async with venue as (emu, ex, a):
        emu.account.fills.extend(history())
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


# -- the --exchange CLI: mistakes are a message and exit 2; an unreachable exchange exit 1 ----
def run_report(argv):
    import contextlib
    import io

    from passivbot.cli import run_cli
    from passivbot.report.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with pytest.raises(SystemExit) as e:
            run_cli(main, argv)
    return int(e.value.code or 0), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("args,message", [
    ([], "give a JOURNAL file or --exchange"),
    (["x.journal", "--exchange", "binance"], "not both"),
    (["--exchange", "binance", "--user", "u"], "--exchange needs --user NAME and --since DATE"),
    (["--exchange", "binance", "--user", "u", "--since", "yesterday"], "--since: 'yesterday'"),
    (["--exchange", "binance", "--user", "u", "--since", "9999-12-31"], "years 2017-2100"),
    (["--exchange", "binance", "--user", "u", "--since", "2025-05-05", "--until", "2025-05-01"],
     "must be after --since"),
    (["--exchange", "binance", "--user", "u", "--since", "2025-05-05", "--balance", "-5"],
     "--balance must be a positive number"),
    (["--exchange", "binance", "--user", "u", "--since", "2025-05-05", "--emulator", "x y"],
     "--emulator must be HOST:PORT"),
    (["--exchange", "binance", "--user", "nobody", "--since", "2025-05-05", "--api-keys",
      "/nonexistent/keys.json"], "key file not found"),
    (["--exchange", "binance", "--user", "nobody", "--since", "2025-05-05", "--emulator",
      "127.0.0.1:1"], "nobody"),  # no live_settings/nobody.json
])
def test_report_history_cli_mistakes_exit_2_with_a_message(args, message, tmp_path):
    code, out, err = run_report(args + ["--out", str(tmp_path / "r")])
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err


def test_report_history_from_an_unreachable_exchange_exits_1_with_its_message(tmp_path):
    code, out, err = run_report(["--exchange", "bybit", "--user", "paper", "--config", "ETH-J1",
                                 "--emulator", "127.0.0.1:9", "--since", "2025-05-05",
                                 "--out", str(tmp_path / "r")])
    assert code == 1 and "stopped: cannot read the trade history" in err
    assert "Traceback" not in err and "paper-trading-secret" not in err


def test_a_partially_filled_initial_entry_is_journaled_as_one_kind_in_every_part() -> None:
    """The exchange and the backtest name an order once (flat at its fill: initial entry); its
    later executions must not turn into re-entries because the first part opened the side."""
    from passivbot.report.trades import EntryKinds, ledger_step

    psize, pprice, kinds = [0.0, 0.0], [0.0, 0.0], EntryKinds()
    got = []
    for oid, qty in (("7", 0.4), ("7", 0.6), ("8", 1.0)):
        _, kind = ledger_step(psize, pprice, 0, False, qty, 2000.0, kinds.get(oid))
        kinds.remember(oid, kind)
        got.append(kind)
    assert got == ["initial_entry", "initial_entry", "reentry"]
    assert psize[0] == 2.0 and pprice[0] == 2000.0
