"""A paper session on the realistic emulator (intra-minute path, one-tick book, PostOnly against
it, partial fills), end to end, as a trader reads it:

- grid closes are post-only like entries: no grid fill pays the taker fee, so the fees of the
  session report (from the bot's journal and from the exchange's trade history) equal the
  backtest's fees for the same candles, where every grid fill is a maker fill;
- a partial fill is shown and journalled once per execution (docs/live.md, "Fills"): the
  console has one FILL line per execution, the journal one fill line per execution with the
  position after it as the exchange booked it, and an order's executions sum to the backtest's
  fill;
- a close that would cross is refused (Binance -5022) or cancelled (Bybit), never filled as a
  taker.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from harness.emulator import emulated_venue
from harness.live import settle, wait_subscribed
from harness.parity import busy_config, lockstep_options
from passivbot.backtest.engine import run_backtest
from passivbot.cli import run_cli
from passivbot.config import live_config_to_dict, side_params
from passivbot.data.bundled import load_bundled
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import Redactor
from passivbot.exchanges.registry import make_adapter
from passivbot.live.bot import LiveBot
from passivbot.live.console import setup_logging
from passivbot.markets import DEFAULT_FEES, market_spec
from passivbot.records import KIND_CLOSE, KIND_FUNDING, KIND_NAMES, LONG, SHORT
from passivbot.report.__main__ import main as report_main
from passivbot.report.journal import JournalWriter, read_journal

CFG = busy_config()
MINUTES = 480  # the realistic parity window of tests/test_parity.py: ~23 fills, both sides
BALANCE = 10_000.0


def run_report(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_cli(report_main, argv)
        except SystemExit as e:
            return int(e.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def backtest_fills(exchange: str, candles: np.ndarray) -> np.ndarray:
    """The backtest of the same candles, balance, fees and market spec (harness.parity's call)."""
    spec, fees = market_spec(exchange, CFG.symbol), DEFAULT_FEES[exchange]
    fills, _, _ = run_backtest(candles, side_params(CFG.long), side_params(CFG.short),
                               spec.market_array(), spec.brackets_array(), BALANCE,
                               fees["maker_fee"], fees["taker_fee"], spec.mmr_add,
                               leverage=float(CFG.leverage))
    return fills[fills["kind"] != KIND_FUNDING]


async def paper_session(exchange: str, candles: np.ndarray, journal: Path):
    """The bot (start_bot's pieces: view in paper mode, journal) trading the realistic emulator
    in lockstep over candles[1:]; returns (emulator, console text). The emulator keeps serving
    (the caller stops it)."""
    extra = candles[-1:].copy()
    extra[0, 0] += 60_000
    fees = DEFAULT_FEES[exchange]
    emu = Emulator(exchange, CFG.symbol, np.concatenate([candles, extra]), start_index=1,
                   starting_balance=BALANCE, realism="full", **fees)
    await emu.start()
    ex = create_exchange(exchange, api_key="paper-key", secret="paper-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    out = io.StringIO()
    log, _ = setup_logging(f"realistic-{exchange}", Redactor(), "INFO", None, stream=out)
    bot = LiveBot(make_adapter(exchange, ex, CFG.symbol), CFG, log, Redactor(),
                  lockstep_options())
    bot.view.mode = "paper"
    bot.view.journal = JournalWriter(journal)
    try:
        await asyncio.wait_for(bot.start(), 30)
        await wait_subscribed(emu)
        await settle(bot, emu)
        while emu.clock < len(candles):
            await emu.advance(1, idle_s=0.001)
            await settle(bot, emu, timeout=10.0, idle_s=0.001)
    finally:
        await bot.stop()
        bot.view.journal.close()
    return emu, out.getvalue()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_paper_session_on_the_realistic_emulator_pays_the_backtests_fees(exchange,
                                                                              tmp_path):
    candles = np.array(load_bundled("ETHUSDT")[:MINUTES])
    journal = tmp_path / "paper.journal"
    emu, text = await paper_session(exchange, candles, journal)
    try:
        acc = emu.account
        bt = backtest_fills(exchange, candles)
        closes = [f for f in acc.fills if f["kind"] == KIND_CLOSE]
        assert len(closes) >= 5 and {f["side"] for f in acc.fills} == {LONG, SHORT}, \
            "a busy window: closes on both sides"
        assert [f for f in acc.fills if f["taker"]] == [], "no grid fill paid the taker fee"
        parts = defaultdict(list)
        for f in acc.fills:
            parts[f["order_id"]].append(f)
        assert any(len(p) > 1 for p in parts.values()), "the window has partial fills"

        # The console: one FILL line per execution, all maker, the summary's counts.
        lines = [ln for ln in text.splitlines() if " FILL " in ln]
        assert len(lines) == len(acc.fills)
        assert all(" maker fee " in ln and "[market " in ln for ln in lines)
        assert f"fills {len(acc.fills)} ({len(acc.fills)} maker, 0 taker)" in text

        # The journal: one line per execution with the exchange's own numbers, the position
        # after it as the exchange booked it (also between a partial fill's parts).
        got = read_journal(journal)["fill"]
        assert len(got) == len(acc.fills)
        for j, f in zip(got, acc.fills):
            kind = "close" if f["kind"] == KIND_CLOSE else KIND_NAMES[f["kind"]]
            assert (j["kind"], j["side"]) == (kind, "long" if f["side"] == LONG else "short")
            assert j["qty"] == pytest.approx(f["qty"], abs=1e-9)
            assert j["price"] == pytest.approx(f["price"], abs=1e-9)
            assert j["pnl"] == pytest.approx(f["pnl"], abs=1e-6)
            assert j["psize"] == pytest.approx(f["psize"], abs=1e-9)
            assert j["pprice"] == pytest.approx(f["pprice"], rel=1e-9)
            assert j["balance"] == pytest.approx(f["balance"], abs=1e-6)
            assert j["maker"] is True
        # an order's executions sum to the backtest's fill (same order, price, qty)
        merged: list[list] = []
        for j in got:
            if merged and merged[-1][3] == j["order_id"]:
                merged[-1][2] += j["qty"]
            else:
                merged.append([j["side"], j["price"], j["qty"], j["order_id"]])
        assert [(m[0], round(m[1], 8), round(m[2], 8)) for m in merged] == \
            [("long" if b["side"] == LONG else "short", round(float(b["price"]), 8),
              round(float(b["qty"]), 8)) for b in bt]

        # The session report from the journal: the backtest's fees, no taker fill.
        bt_fees = float(bt["fee"].sum())
        code, out, err = await asyncio.to_thread(
            run_report, [str(journal), "--out", str(tmp_path / "rep"), "--no-plots"])
        assert code == 0, err
        folder = Path(out.strip().splitlines()[-1].split("report: ")[1])
        stats = json.loads((folder / "stats.json").read_text())
        assert stats["fees_paid"] == pytest.approx(bt_fees, abs=1e-6)
        assert f"maker / taker fills  {len(acc.fills)} / 0" in out
        assert "paid the taker fee" not in out

        # The same report from the exchange's trade history (every page, through ccxt).
        cfg_path = tmp_path / "busy.json"
        cfg_path.write_text(json.dumps(live_config_to_dict(CFG)))
        since = np.datetime_as_string(np.datetime64(int(candles[0, 0]), "ms"), unit="m")
        code, out, err = await asyncio.to_thread(run_report, [
            "--exchange", exchange, "--user", "paper", "--config", str(cfg_path),
            "--emulator", f"127.0.0.1:{emu.port}", "--since", since,
            "--out", str(tmp_path / "hist"), "--no-plots"])
        assert code == 0, err
        assert f": {len(acc.fills)} fills -> " in out and "starting balance 10,000.0000" in out
        assert "differ from the history" not in out
        folder = Path(out.strip().splitlines()[-1].split("report: ")[1])
        hstats = json.loads((folder / "stats.json").read_text())
        assert hstats["fees_paid"] == pytest.approx(bt_fees, abs=1e-6)
        assert hstats["final_balance"] == pytest.approx(acc.balance, abs=1e-6)
        assert f"maker / taker fills  {len(acc.fills)} / 0" in out
    finally:
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_a_close_that_would_cross_is_refused_not_filled_as_a_taker(exchange):
    """The adapter sends grid closes post-only: a long close (sell) priced below the best bid
    is refused (Binance -5022) or cancelled (Bybit) on the realistic book; no fill."""
    import ccxt

    from passivbot.exchanges.errors import Action, classify

    candles = np.array(load_bundled("ETHUSDT")[:40])
    venue = emulated_venue(exchange, candles, start_index=20, realism="full")
    async with venue as (emu, ex, a):
        await a.set_hedge_mode()
        acc = emu.account
        await emu.advance(1)
        step = float(a.market["precision"]["price"])
        pos = {a.caps.position_param: a.caps.position_values[0]}
        await ex.create_order(a.symbol, "market", "buy", 0.05, None, pos)  # a long to close
        assert acc.positions[LONG].size == pytest.approx(0.05) and acc.bid > 0
        n_fills = len(acc.fills)
        below_bid = round(acc.bid - 2 * step, 2)
        try:
            res = await a.create_order(LONG, True, 0.05, below_bid, "pblc-c1")
            assert exchange == "bybit", "Binance refuses a crossing post-only order"
            o = acc.find(int(res["id"]))
            assert o.status == "CANCELED" and o.post_only and o.filled == 0
        except ccxt.BaseError as e:  # the executor's decision: hold it back, retry later
            assert exchange == "binance" and classify(e, "create") is Action.CROSSED, e
        assert len(acc.fills) == n_fills and acc.positions[LONG].size == 0.05
