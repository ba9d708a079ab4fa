"""Funding paid or received, shown live: the real bot (real ccxt) against the emulator charging a
funding series, read back from the venue's history (Binance income, Bybit funding executions)
once after each whole hour, each event once, with the emulator's own amount and sign; the
session total, the status line, the summary and the status page; a restart reports the funding
settled while the bot was down exactly once; the journal carries it into the report's stats.
The pure parts (side inference, the rate a payment implies, the read schedule, de-duplication)
are checked with hand-computed numbers."""

import asyncio
import io
import logging

import numpy as np
import pytest

from passivbot.config import load_live_config
from passivbot.emulator import Emulator
from passivbot.exchanges.adapter import FundingEvent
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import Redactor
from passivbot.exchanges.registry import make_adapter
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.console import setup_logging, status_line
from passivbot.live.funding import HOUR_MS, next_read_ms
from passivbot.live.snapshot import bot_snapshot
from passivbot.live.state import BotState
from passivbot.live.status_page import render_html
from passivbot.live.view import LiveView
from passivbot.records import LONG, N_PARAMS, SHORT
from passivbot.report.funding import derived_rate, infer_sides
from passivbot.report.journal import JournalWriter, read_journal
from passivbot.report.session import session_result
from harness.emulator import eventually
from harness.live import fall_then_rise, settle, wait_subscribed

OPTS = BotOptions(use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01,
                  reconcile_every_s=1e9, status_every_s=1e9, orders_per_s=1000)
CFG = load_live_config("ETH-J1")
H0 = 1_699_920_000_000  # 2023-11-14 00:00 UTC: candle k opens at H0 + k minutes
START = 1440  # trading starts at candle 1440 (24:00), the fall's first minute
# Funding at whole hours while the grid holds its long (the fall and the rise: 1440..1740):
# index (minutes after H0) -> rate per event
RATES = {1500: 0.0001, 1560: -0.00005, 1620: 0.0002, 1680: 0.0001, 1740: -0.0001}


def hourly_candles() -> np.ndarray:
    c = fall_then_rise()
    c[:, 0] = H0 + 60_000 * np.arange(len(c))
    return c


def funded(exchange: str) -> Emulator:
    times = [H0 + k * 60_000 for k in RATES]
    return Emulator(exchange, "ETHUSDT", hourly_candles(), start_index=START, realism="minute",
                    funding=(times, list(RATES.values())))


# -- pure parts, hand-checked ----------------------------------------------------------------
def ev(amount: float, side=None, rate=None, ts: int = HOUR_MS, fid: str = "x") -> FundingEvent:
    return FundingEvent(ts, "ETHUSDT", side, amount, rate, fid)


def test_sides_are_inferred_from_the_sizes_held_when_the_venue_does_not_say():
    # long 1.0 and short 0.5 at mark 2000, rate +0.01 %: long pays 0.2 (-0.2), short gets 0.1
    assert infer_sides([ev(-0.2), ev(0.1)], (1.0, 0.5)) == [LONG, SHORT]
    assert infer_sides([ev(0.1), ev(-0.2)], (1.0, 0.5)) == [SHORT, LONG]
    # rate -0.02 %: long receives 0.4, short pays 0.2
    assert infer_sides([ev(0.4), ev(-0.2)], (1.0, 0.5)) == [LONG, SHORT]
    assert infer_sides([ev(-0.2)], (0.0, 0.5)) == [SHORT]  # only the short was open
    assert infer_sides([ev(-0.2), ev(0.2)], (1.0, 1.0)) == [None, None]  # equal sizes: unknown
    assert infer_sides([ev(-0.2)], None) == [None]  # the bot was not running then
    assert infer_sides([ev(-0.2, SHORT)], (1.0, 0.0)) == [SHORT]  # the venue's side is kept


def test_the_rate_a_payment_implies():
    # long 1.0 at 2000 paid 0.2 -> 0.2 / 2000 = 0.0001; short 0.5 at 2000 received 0.1 -> same
    assert derived_rate(LONG, -0.2, 1.0, 2000.0) == pytest.approx(0.0001)
    assert derived_rate(SHORT, 0.1, 0.5, 2000.0) == pytest.approx(0.0001)
    assert derived_rate(SHORT, -0.1, 0.5, 2000.0) == pytest.approx(-0.0001)
    assert derived_rate(None, -0.2, 1.0, 2000.0) is None


def test_reads_are_due_a_minute_after_each_whole_hour():
    assert next_read_ms(0) == 60_000
    assert next_read_ms(60_000) == HOUR_MS + 60_000
    assert next_read_ms(HOUR_MS + 59_999) == HOUR_MS + 60_000
    assert next_read_ms(5 * HOUR_MS + 61_000) == 6 * HOUR_MS + 60_000


def test_a_payment_of_a_fraction_of_a_cent_is_not_shown_as_none():
    log, _ = setup_logging("funding-small", Redactor(), "INFO", None, stream=io.StringIO())
    st = BotState(params=np.zeros((2, N_PARAMS)))
    st.balance, st.last_price, st.exchange_time = 1000.0, 2000.0, H0
    view = LiveView(st, log, "ETHUSDT", "binance")
    view.started(H0)
    assert view.funding.report([ev(-0.0003, LONG, 0.0001, fid="s")]) == 1
    assert "funding session -0.0003 USDT (long -0.0003; 1 event," in view.funding.text()
    assert "funding session -0.0003 USDT" in view.pnl_text()


def test_each_event_is_reported_once_and_the_session_total_is_their_sum(tmp_path):
    out = io.StringIO()
    log, _ = setup_logging("funding-unit", Redactor(), "INFO", None, stream=out)
    st = BotState(params=np.zeros((2, N_PARAMS)))
    st.balance, st.last_price, st.exchange_time = 1000.0, 2000.0, H0
    view = LiveView(st, log, "ETHUSDT", "bybit")
    view.journal = JournalWriter(tmp_path / "j.journal")
    view.started(H0)
    ledger = view.funding
    a = [ev(-0.2, LONG, 0.0001, fid="a"), ev(0.1, SHORT, 0.0001, fid="b"),
         ev(0.42, LONG, -0.0002, ts=2 * HOUR_MS, fid="c")]
    assert ledger.report(a) == 3
    assert ledger.report(a + [ev(-0.21, SHORT, -0.0002, ts=2 * HOUR_MS, fid="d")]) == 1
    assert ledger.events == 4
    assert ledger.total == pytest.approx(-0.2 + 0.1 + 0.42 - 0.21)  # 0.11 received
    assert ledger.by_side == {LONG: pytest.approx(0.22), SHORT: pytest.approx(-0.11)}
    lines = [ln for ln in out.getvalue().splitlines() if " funding ETHUSDT" in ln]
    assert len(lines) == 4
    assert "funding ETHUSDT long paid 0.2000 USDT at rate 0.0100 % | session funding " \
           "-0.2000 USDT" in lines[0]
    assert "funding ETHUSDT long received 0.4200 USDT at rate -0.0200 %" in lines[2]
    assert "funding session +0.1100 USDT (long +0.2200, short -0.1100; 4 events" in \
           "\n".join(view.summary_lines())
    assert "funding session +0.1100 USDT" in view.pnl_text()
    view.journal.close()
    rows = read_journal(tmp_path / "j.journal")["funding"]
    assert [(r["side"], r["amount"], r["rate"], r["id"]) for r in rows] == [
        ("long", -0.2, 0.0001, "a"), ("short", 0.1, 0.0001, "b"),
        ("long", 0.42, -0.0002, "c"), ("short", -0.21, -0.0002, "d")]


def test_the_report_counts_journalled_funding_as_the_backtest_does(tmp_path):
    path = tmp_path / "j.journal"
    j = JournalWriter(path)
    j.session(H0, "binance", "ETHUSDT", "paper", 1000.0, 0.0002, 0.0005, CFG_DICT())
    j.fill(H0 + 60_000, "long", "initial_entry", 0.1, 2000.0, 0.04, 0.0, 0.1, 2000.0, 999.96, True)
    j.funding(H0 + HOUR_MS, "long", -0.02, 0.0001, 2000.0, 0.1, 999.94, "t1")
    j.funding(H0 + 2 * HOUR_MS, "long", 0.03, -0.00015, 2000.0, 0.1, 999.97, "t2")
    j.funding(H0 + 2 * HOUR_MS, "", -0.005, 0.0, 0.0, 0.0, 999.965, "t3")  # side unknown
    j.equity(H0 + 3 * HOUR_MS, 999.965, 999.965, 2000.0, 0.1, 2000.0, 0.0, 0.0)
    j.close()
    res, _ = session_result(read_journal(path))
    s = res.stats
    # paid 0.02 + 0.005 = 0.025, received 0.03, net +0.005; two funding times
    assert s["funding_paid"] == pytest.approx(0.025)
    assert s["funding_received"] == pytest.approx(0.03)
    assert s["funding_net"] == pytest.approx(0.005)
    assert s["funding_modelled"] == 1.0
    assert s["n_fills"] == 1.0  # funding rows are not fills
    kinds = [int(k) for k in res.fills["kind"]]
    assert kinds == [0, 4, 4]  # the entry, then the two funding rows of a known side
    assert list(res.fills["pnl"][1:]) == [-0.02, 0.03]
    # python3 -m passivbot.report shows them where the backtest's summary does
    import contextlib

    from passivbot.report.__main__ import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([str(path), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    text = buf.getvalue()
    lines = [ln.split() for ln in text.splitlines()]
    assert ["funding", "paid", "0.03"] in lines and ["funding", "received", "0.03"] in lines
    assert "funding NOT modelled" not in text


def CFG_DICT():
    from passivbot.config import live_config_to_dict

    return live_config_to_dict(CFG)


# -- end to end: the real bot against the emulator -------------------------------------------
async def new_bot(exchange, emu, journal_path):
    ex = create_exchange(exchange, api_key="test-key", secret="test-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    out = io.StringIO()
    log, _ = setup_logging(f"funding-{exchange}", Redactor(), "INFO", None, stream=out)
    adapter = make_adapter(exchange, ex, "ETHUSDT")
    calls = []
    fetch = ex.fetch_funding_history

    async def counted(*a, **kw):  # every funding read is one ccxt call = one GET
        calls.append((emu.account.now_ms(), kw.get("since")))
        return await fetch(*a, **kw)

    ex.fetch_funding_history = counted
    bot = LiveBot(adapter, CFG, log, options=OPTS)
    bot.view.mode = "paper"
    bot.view.journal = JournalWriter(journal_path)
    bot.journal_path = journal_path
    await asyncio.wait_for(bot.start(), 20)
    await wait_subscribed(emu)
    await settle(bot, emu)
    return bot, out, calls


async def stop_bot(bot):
    await bot.stop()
    bot.view.journal.close()


async def run_to(bot, emu, index: int) -> None:
    """Advance minute by minute to candle `index`, letting the bot's once-a-second view tick
    run after each funding hour's read time (polled, not slept)."""
    while emu.clock < index:
        await emu.advance(1)
        await settle(bot, emu)
        led = bot.view.funding
        if led.next_read_ms is not None and bot.view.market_ms() >= led.next_read_ms:
            due = led.next_read_ms
            await eventually(lambda: led.next_read_ms != due and (
                led._task is None or led._task.done()), timeout=10)


def charged(emu, upto_ms: int | None = None) -> list[tuple]:
    return [(e["time"], e["side"], round(-e["pay"], 10)) for e in emu.account.funding_log
            if upto_ms is None or e["time"] <= upto_ms]


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_the_bot_shows_each_funding_event_once_with_the_emulators_amount(exchange,
                                                                                tmp_path):
    emu = funded(exchange)
    await emu.start()
    journal = tmp_path / "j.journal"
    try:
        bot, out, calls = await new_bot(exchange, emu, journal)
        try:
            await run_to(bot, emu, 1690)  # through the funding of 1500, 1560, 1620, 1680
            await eventually(lambda: bot.view.funding.events == len(emu.account.funding_log),
                             timeout=10)
            status = status_line(bot.state, bot.brackets, bot.mmr_add, bot.view)
            summary = "\n".join(bot.view.summary_lines())
            page = render_html(bot_snapshot(bot))
        finally:
            await stop_bot(bot)
        log = emu.account.funding_log
        assert len({e["time"] for e in log}) >= 3, "the grid held a position at 3 of the hours"
        want = charged(emu)
        text = out.getvalue()
        lines = [ln for ln in text.splitlines() if " funding ETHUSDT " in ln]
        assert len(lines) == len(want), text
        rows = read_journal(journal)["funding"]
        got = [(r["ts_ms"], LONG if r["side"] == "long" else SHORT if r["side"] else None,
                round(r["amount"], 10)) for r in rows]
        assert got == want  # every event once, the emulator's time, side, amount and sign
        total = sum(a for _, _, a in want)
        assert bot.view.funding.total == pytest.approx(total, abs=1e-9)
        assert total == pytest.approx(-sum(p for _, _, p in emu.account.funding_paid))
        for e, ln in zip(log, lines):  # each line: the side, paid/received, the rate
            word = "paid" if e["pay"] > 0 else "received"
            side = "long" if e["side"] == LONG else "short"
            assert f"funding ETHUSDT {side} {word} {abs(e['pay']):.4f} USDT at rate " in ln
            approx = "≈" if exchange == "binance" else ""
            assert f"at rate {approx}{e['rate'] * 100:.4f} %" in ln
        assert f"funding session {total:+.4f} USDT" in status
        assert f"funding session {total:+.4f} USDT" in summary
        assert "funding (session)" in page and f"{total:+,.4f}" in page
        # one read at start, then one after each whole hour the bot saw (1500 .. 1680: the
        # hours 25:00 .. 28:00 after H0): at most one GET per hour, never per cycle
        hours = (bot.view.market_ms() - (H0 + START * 60_000)) // HOUR_MS + 1
        assert 1 <= len(calls) <= hours + 1, calls
    finally:
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_a_restart_reports_the_funding_settled_while_down_exactly_once(exchange, tmp_path):
    emu = funded(exchange)
    await emu.start()
    journal = tmp_path / "j.journal"
    try:
        bot, out, _ = await new_bot(exchange, emu, journal)
        await run_to(bot, emu, 1570)  # the funding of 1500 and 1560 read and shown
        await eventually(lambda: bot.view.funding.events == len(emu.account.funding_log),
                         timeout=10)
        await stop_bot(bot)
        n_before = len(emu.account.funding_log)
        assert n_before >= 2
        await emu.advance(1630 - emu.clock)  # down over the funding of 1620
        assert len(emu.account.funding_log) > n_before, "no funding while the bot was down"
        bot2, out2, calls2 = await new_bot(exchange, emu, journal)
        await stop_bot(bot2)
        text2 = out2.getvalue()
        down = [ln for ln in text2.splitlines() if " funding ETHUSDT " in ln
                and "(while the bot was down, at " in ln]
        missed = emu.account.funding_log[n_before:]
        assert len(down) == len(missed), text2
        assert f"{len(missed)} funding event(s) while the bot was down" in text2
        assert bot2.view.funding.total == pytest.approx(-sum(e["pay"] for e in missed))
        rows = read_journal(journal)["funding"]
        got = [(r["ts_ms"], round(r["amount"], 10)) for r in rows]
        assert got == [(t, a) for t, _, a in charged(emu)]  # each once, over both runs
        assert len(calls2) == 1  # the restart's one read
        res, _ = session_result(read_journal(journal))
        net = -sum(e["pay"] for e in emu.account.funding_log)
        assert res.stats["funding_net"] == pytest.approx(net, abs=1e-9)
    finally:
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_the_report_from_the_exchange_history_has_the_funding_charged(exchange, tmp_path):
    """`python3 -m passivbot.report --exchange`: the journal built from the venue's history
    carries its funding, sides inferred from the trades where the venue does not say (Binance):
    long 1.0 and short 0.5 opened at 2000 (tests/test_emulator_funding.py's hand-checked
    charges: long -0.2 / short +0.1 at +0.01 %, long +0.42 / short -0.21 at -0.02 %)."""
    from passivbot.report.exchange import history_journal
    from tests.test_emulator_funding import CHARGED, charged_venue

    emu, ex = await charged_venue(exchange)
    try:
        a = make_adapter(exchange, ex, "ETHUSDT")
        t0 = int(emu.account.candles[0, 0])
        path = tmp_path / "h.journal"
        info = await history_journal(a, CFG, t0, None, path, "live", balance=10_000.0)
        assert info.n_trades == 2
    finally:
        await ex.close()
        await emu.stop()
    rows = read_journal(path)["funding"]
    names = {LONG: "long", SHORT: "short"}
    assert sorted((r["side"], round(r["amount"], 10)) for r in rows) == \
        sorted((names[s], a) for s, a, _ in CHARGED)
    if exchange == "bybit":  # the venue's rate; Binance's is derived from the last fill price
        assert sorted(round(r["rate"], 10) for r in rows) == sorted(r for _, _, r in CHARGED)
    res, _ = session_result(read_journal(path))
    assert res.stats["funding_net"] == pytest.approx(0.11)  # -0.2 + 0.1 + 0.42 - 0.21
    assert res.stats["funding_paid"] == pytest.approx(0.41)


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_several_symbols_each_view_reads_its_own_symbols_funding(exchange):
    """MultiBot (live/multi.py, unchanged): one LiveBot and one view per symbol on one account;
    each view reads its own symbol's funding, the emulator's charges of that symbol's book,
    none of the other's (ETH +0.01 % then +0.03 %, BTC -0.02 % then +0.05 %, at whole hours
    inside the fall, where every long holds)."""
    from harness.parity import lockstep_options
    from harness.parity_multi import busy_multi_dict, settle as settle_multi, subscribed
    from passivbot.config.multi import multi_config_from_dict
    from passivbot.live.multi import MultiBot
    from passivbot.markets import market_spec

    syms = ["ETHUSDT", "BTCUSDT"]
    candles = []
    for s, px in zip(syms, (2000.0, 50_000.0)):
        x = fall_then_rise(n_history=30, n_fall=150, n_rise=30, price=px, fall=0.15, rise=0.05)
        step = market_spec(exchange, s).price_step
        x[:, 1:5] = np.round(np.round(x[:, 1:5] / step) * step, 6)
        x[:, 0] = H0 + 60_000 * np.arange(len(x))
        candles.append(x)
    times = [H0 + 60 * 60_000, H0 + 120 * 60_000]
    rates = {"ETHUSDT": [0.0001, 0.0003], "BTCUSDT": [-0.0002, 0.0005]}
    emu = Emulator(exchange, syms, candles, start_index=1, realism="minute",
                   funding=[(times, rates[s]) for s in syms])
    await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    cfg = multi_config_from_dict(busy_multi_dict(syms, 2), "funding")
    log = logging.getLogger(f"test.funding.multi.{exchange}")
    mb = MultiBot(exchange, ex, cfg, log, options=lockstep_options())
    try:
        await asyncio.wait_for(mb.start(), 60)
        await eventually(lambda: subscribed(emu, 2), timeout=20)
        await settle_multi(mb, emu)
        while emu.clock < 125:
            await emu.advance(1)
            await settle_multi(mb, emu)
            for bot in mb.bots.values():
                led = bot.view.funding
                if led.next_read_ms is not None and bot.view.market_ms() >= led.next_read_ms:
                    due = led.next_read_ms
                    await eventually(lambda: led.next_read_ms != due and (
                        led._task is None or led._task.done()), timeout=10)
        for s in syms:
            acc = emu.accounts[s]
            await eventually(lambda: mb.bots[s].view.funding.events == len(acc.funding_log),
                             timeout=10)
    finally:
        await mb.stop()
        await emu.stop()
    for s in syms:
        log_ = emu.accounts[s].funding_log
        assert {e["time"] for e in log_} == set(times), f"{s}: a long held at both hours"
        led = mb.bots[s].view.funding
        assert led.total == pytest.approx(-sum(e["pay"] for e in log_), abs=1e-9)
        assert {k[1] for k in led.seen} == {s}  # its own symbol's rows only
        assert led.events == len(log_)


async def test_a_failed_read_is_a_warning_and_the_next_hour_reads_the_span_again():
    """The venue answers an error at 01:01: one warning, nothing shown, no stop; the 02:01 read
    starts where the failed one did, so the 01:00 settlement is shown then; the 03:01 read
    (looking back one hour) lists it again and it is not shown twice."""
    import ccxt

    out = io.StringIO()
    log, _ = setup_logging("funding-fail", Redactor(), "INFO", None, stream=out)
    st = BotState(params=np.zeros((2, N_PARAMS)))
    st.balance, st.last_price, st.exchange_time = 1000.0, 2000.0, H0 + 60_000
    st.psize[0], st.pprice[0] = 1.0, 2000.0
    view = LiveView(st, log, "ETHUSDT", "binance")
    asked = []

    class Venue:  # the adapter's fetch_funding: fails once, then lists the 01:00 payment
        symbol_id = "ETHUSDT"

        async def fetch_funding(self, since, until, rest):
            asked.append((since, until))
            if len(asked) == 1:
                raise ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")
            return [ev(-0.2, ts=H0 + HOUR_MS, fid="t1")]

    led = view.funding
    led.attach(Venue(), None)
    await led.startup(None)  # no journal: nothing read; from now on, hourly
    assert led.next_read_ms == H0 + HOUR_MS + 60_000
    led._marks[H0 + HOUR_MS] = (1.0, 0.0, 2000.0)  # the long held at 01:00
    for hour in (1, 2, 3):
        st.exchange_time = H0 + hour * HOUR_MS + 60_000
        await led.read(view.now_ms())
    text = out.getvalue()
    assert text.count("funding not read (ExchangeNotAvailable") == 1
    assert asked[1][0] == asked[0][0] == H0 + 60_000  # the failed span is read again
    assert asked[2][0] == H0 + HOUR_MS  # then from one hour before the last whole hour
    assert led.events == 1 and led.total == pytest.approx(-0.2)
    # Binance names neither side nor rate: the long was the only side open; 0.2 / (1 x 2000)
    assert "funding ETHUSDT long paid 0.2000 USDT at rate ≈0.0100 %" in text


def test_the_status_page_shows_the_sessions_funding_per_side_and_for_the_account():
    from passivbot.live.snapshot import AccountSnapshot, StatusSnapshot
    from passivbot.live.status_page import render_account_html

    eth = StatusSnapshot("binance", "ETHUSDT", "paper", H0, 2000.0, 1000.0, 1000.0,
                         session_funding=-0.79, session_funding_long=-0.85,
                         session_funding_short=0.06, funding_events=4)
    btc = StatusSnapshot("binance", "BTCUSDT", "paper", H0, 50_000.0, 1000.0, 1000.0,
                         session_funding=0.25, session_funding_long=0.25, funding_events=1)
    page = render_html(eth)
    assert "funding (session)" in page and "-0.7900" in page
    assert "(long -0.8500, short +0.0600)" in page
    assert StatusSnapshot.from_dict(eth.to_dict()).session_funding_short == 0.06
    account = render_account_html(AccountSnapshot("binance", "paper", H0, 1000.0, (eth, btc)))
    assert account.count("funding (session)") == 3  # the account's card, then each symbol's
    assert "-0.5400" in account  # -0.79 + 0.25
