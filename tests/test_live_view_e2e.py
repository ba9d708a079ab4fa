"""What the trader sees, end to end: the real bot (real ccxt) trading the emulator in lockstep,
with its journal, status page and alerts wired as start_bot wires them.

- every fill is on the console with maker/taker, fee and PnL, and in the journal with the
  emulator's own kind, quantity, price and realized PnL (the view's ledger is checked against
  the exchange's books, not against itself);
- the status page's JSON shows the bot's positions, orders and the same fills;
- a webhook stub receives the fill alerts and the stop;
- fills made while the bot was down are reported on restart ("while the bot was down"), from
  the exchange's trade history since the journal's last line, and journalled.
"""

import asyncio
import dataclasses
import io
import json

import aiohttp
import pytest

from passivbot.config import load_live_config
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import Redactor
from passivbot.exchanges.registry import make_adapter
from passivbot.live.alerts import Alerter
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.console import setup_logging
from passivbot.live.main import _snapshot
from passivbot.live.status_page import start_status_page
from harness.live import fall_then_rise, settle, wait_subscribed
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, LONG
from passivbot.report.journal import JournalWriter, read_journal
from tests.test_alerts import Stub, alerts_cfg, eventually

OPTS = BotOptions(use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01,
                  reconcile_every_s=1e9, status_every_s=1e9, orders_per_s=1000)
CFG = load_live_config("ETH-J1")
# What the trader sees is checked fill by fill against the emulator's own fills, one execution
# per fill: the minute mode (no partial executions, no intra-minute path). The realistic mode's
# partial fills and crosses are the realism and parity tests' subject.
REALISM = "minute"
KIND = {0: "initial_entry", 1: "reentry", 2: "close", 3: "close"}


async def new_bot(exchange, emu, journal_path, alerter=None, trades_page=None):
    ex = create_exchange(exchange, api_key="test-key", secret="test-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    out = io.StringIO()
    log, _ = setup_logging(f"view-{exchange}", Redactor(), "INFO", None, stream=out)
    adapter = make_adapter(exchange, ex, "ETHUSDT")
    if trades_page is not None:  # a small trade-history page: the restart must read them all
        adapter.caps = dataclasses.replace(adapter.caps, trades_page=trades_page)
    bot = LiveBot(adapter, CFG, log, options=OPTS)
    bot.view.mode = "paper"
    bot.view.journal = JournalWriter(journal_path)
    bot.journal_path = journal_path
    if alerter is not None:
        bot.view.alerter = alerter
        await alerter.start()
    await asyncio.wait_for(bot.start(), 20)
    await wait_subscribed(emu)
    await settle(bot, emu)
    return bot, out


async def stop_bot(bot):
    await bot.stop()
    bot.view.journal.close()
    if bot.view.alerter is not None:
        await bot.view.alerter.close()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_fills_console_journal_page_alerts_and_fills_while_down(exchange, tmp_path):
    emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=1440, realism=REALISM)
    await emu.start()
    stub = Stub()
    url = await stub.start()
    journal = tmp_path / f"{exchange}.journal"
    alerter = Alerter(alerts_cfg(url), "test", Redactor())
    try:
        bot, out = await new_bot(exchange, emu, journal, alerter)
        page = await start_status_page(lambda: _snapshot(bot), "127.0.0.1", 0)
        try:
            acc = emu.account
            while len(acc.fills) < 4:
                await emu.advance(1)
                await settle(bot, emu)
            await eventually(lambda: bot.view.fills == len(acc.fills))
            async with aiohttp.ClientSession() as s:
                async with s.get(page.url + "api/status") as r:
                    snap = await r.json()
        finally:
            await page.stop()
            await stop_bot(bot)
        text = out.getvalue()
        fill_lines = [ln for ln in text.splitlines() if " FILL " in ln]
        assert len(fill_lines) == len(acc.fills)
        assert all(" maker fee " in ln and " pnl " in ln for ln in fill_lines)
        assert "summary at shutdown" in text and "fills 4 (4 maker, 0 taker)" in text
        got = read_journal(journal)
        assert len(got["session"]) == 1 and got["session"][0]["mode"] == "paper"
        session = got["session"][0]
        assert session["symbol"] == "ETHUSDT" and session["exchange"] == exchange
        want = [(KIND[f["kind"]], round(f["qty"], 8), round(f["price"], 8), round(f["pnl"], 6))
                for f in acc.fills]
        have = [(f["kind"], round(f["qty"], 8), round(f["price"], 8), round(f["pnl"], 6))
                for f in got["fill"]]
        assert have == want
        assert got["fill"][0]["kind"] == KIND[KIND_INITIAL_ENTRY]
        assert abs(got["fill"][-1]["balance"] - acc.balance) < 1e-6
        assert got["equity"], "an equity line per market minute"
        assert snap["positions"][0]["size"] == pytest.approx(acc.positions[LONG].size)
        assert len(snap["recent_fills"]) == 4 and snap["mode"] == "paper" and snap["connected"]
        assert len(snap["open_orders"]) == len(acc.open_orders)
        events = [e["event"] for b in stub.bodies for e in b["events"]]
        assert events.count("fill") == 4 and events[-1] == "stop"

        # Down: the emulator keeps trading the resting grid; some orders fill meanwhile.
        n_before = len(acc.fills)
        while len(acc.fills) == n_before or acc.fills[-1]["kind"] != KIND_CLOSE:
            await emu.advance(1)
            assert emu.clock < len(emu.candles) - 1, "no fill while the bot was down"
        missed = acc.fills[n_before:]
        bot2, out2 = await new_bot(exchange, emu, journal)
        await stop_bot(bot2)
        text2 = out2.getvalue()
        lines = [ln for ln in text2.splitlines() if "FILL (while the bot was down" in ln]
        assert len(lines) == len(missed), text2
        assert f"{len(missed)} fill(s) while the bot was down" in text2
        assert "differ from the journal" not in text2
        got = read_journal(journal)
        assert len(got["session"]) == 2
        tail = got["fill"][-len(missed):]
        assert [(f["kind"], round(f["pnl"], 6)) for f in tail] == \
            [(KIND[f["kind"]], round(f["pnl"], 6)) for f in missed]
        types = [json.loads(ln)["type"] for ln in journal.read_text().splitlines()]
        last_session = len(types) - 1 - types[::-1].index("session")
        assert types[last_session - len(missed):last_session] == ["fill"] * len(missed)
    finally:
        await stub.stop()
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_dropped_connection_shows_disconnected_then_reconnected_and_alerts(
        exchange, tmp_path):
    emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=1440, realism=REALISM)
    await emu.start()
    stub = Stub()
    url = await stub.start()
    try:
        bot, out = await new_bot(exchange, emu, tmp_path / "j.journal",
                                 Alerter(alerts_cfg(url), "test", Redactor()))
        try:
            await emu.faults.drop_websockets()
            await eventually(lambda: bot.view.disconnected_since is not None)
            snap = _snapshot(bot)
            assert not snap.connected and snap.disconnected_since_ms == bot.view.disconnected_since
            await wait_subscribed(emu)
            # in lockstep the market moves only when the test advances it: a stream whose
            # reconnect (backoff with jitter) lands after a push hears nothing until the next
            # one, so advance minute by minute until every price stream is back (bounded)
            for _ in range(10):
                await emu.advance(1)
                await settle(bot, emu, timeout=15)
                if bot.view.disconnected_since is None:
                    break
            assert bot.view.disconnected_since is None, bot.view.down
            await eventually(lambda: any(e["event"] == "reconnected" for b in stub.bodies
                                         for e in b["events"]))
        finally:
            await stop_bot(bot)
        text = out.getvalue()
        assert "DISCONNECTED since" in text and "reconnected after" in text
        assert text.index("DISCONNECTED since") < text.index("reconnected after")
        events = [e["event"] for b in stub.bodies for e in b["events"]]
        assert events.index("disconnected") < events.index("reconnected")
        assert "disconnected since" in json.dumps(stub.bodies)
    finally:
        await stub.stop()
        await emu.stop()


async def test_a_first_entry_raised_to_the_exchange_minimum_is_warned_once_market_is_known(
        tmp_path):
    emu = Emulator("binance", "ETHUSDT", fall_then_rise(), start_index=1440,
                   starting_balance=200.0, realism=REALISM)
    await emu.start()
    try:
        bot, out = await new_bot("binance", emu, tmp_path / "j.journal")
        await stop_bot(bot)
        text = out.getvalue()
        # long: 200 x 0.5 x 0.02 = 2 USDT, below the emulator's Binance minimum (20 USDT)
        assert "warning: long: first entry 200 x 0.5 x 0.02 = 2 USDT is below the exchange " \
               "minimum (20 USDT) and will be raised to it (10x the configured size)" in text
        assert "warning: short: first entry 200 x 0.25 x 0.02 = 1 USDT" in text
        assert text.index("market ETH/USDT:USDT") < text.index("warning: long: first entry")
    finally:
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_fills_while_down_over_several_pages_of_trade_history_are_all_reported(
        exchange, tmp_path):
    """The restart read one page of the trade history (fetch_my_trades without paging: 500
    trades on Binance, 50 on Bybit), so fills beyond it were never reported. With a page of 2
    trades and 5 or more fills while down, every one is reported, journalled once, in order."""
    emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=1440, realism=REALISM)
    await emu.start()
    journal = tmp_path / "j.journal"
    try:
        bot, _ = await new_bot(exchange, emu, journal)
        acc = emu.account
        while not acc.fills:
            await emu.advance(1)
            await settle(bot, emu)
        await eventually(lambda: bot.view.fills == len(acc.fills))
        await stop_bot(bot)
        n_before = len(acc.fills)
        while len(acc.fills) < n_before + 5:  # the resting grid keeps filling while down
            await emu.advance(1)
            assert emu.clock < len(emu.candles) - 1, "too few fills while the bot was down"
        missed = acc.fills[n_before:]
        bot2, out2 = await new_bot(exchange, emu, journal, trades_page=2)
        await stop_bot(bot2)
        text = out2.getvalue()
        lines = [ln for ln in text.splitlines() if "FILL (while the bot was down" in ln]
        assert len(lines) == len(missed) >= 5, text
        assert f"{len(missed)} fill(s) while the bot was down" in text
        assert "differ from the journal" not in text
        tail = read_journal(journal)["fill"][n_before:]
        assert [(round(f["qty"], 8), round(f["price"], 8)) for f in tail] == \
            [(round(f["qty"], 8), round(f["price"], 8)) for f in missed]
    finally:
        await emu.stop()


async def test_a_paper_bot_stops_with_a_message_when_the_emulator_is_gone(tmp_path, monkeypatch):
    """The emulator exits at the end of its candles: the paper bot's streams stay down, and after
    PAPER_GONE_S it stops with a message saying why (start_bot's wiring: `view.on_gone` ->
    `bot.fail`), instead of logging `cycle failed` forever. A live bot never stops for that."""
    from passivbot.exchanges.errors import StopError
    from passivbot.live import view as view_mod

    monkeypatch.setattr(view_mod, "PAPER_GONE_S", 0.5)
    emu = Emulator("binance", "ETHUSDT", fall_then_rise(), start_index=1440, realism=REALISM)
    await emu.start()
    bot, out = await new_bot("binance", emu, tmp_path / "j.journal")
    bot.view.venue = f"127.0.0.1:{emu.port}"
    bot.view.on_gone = lambda why: bot.fail(StopError(why))
    try:
        await emu.stop()  # what `--at-end exit` does
        await eventually(lambda: bot.stopping.is_set(), timeout=20)
    finally:
        await asyncio.wait_for(stop_bot(bot), 60)
    text = out.getvalue()
    assert "DISCONNECTED since" in text
    assert f"stopping: the emulator at 127.0.0.1:{emu.port} has been unreachable for" in text
    assert "paper session over" in str(bot.stop_error)

