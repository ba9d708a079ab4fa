"""The live bot's bounded-loss parts: the diff's reduce-only flag for every close kind, the
persisted risk state (atomic, loud on corruption), the per-cycle decisions."""

import dataclasses
import logging
import os

import numpy as np
import pytest

from passivbot import risk
from passivbot.config import load_live_config
from passivbot.live import risk_state as rs
from passivbot.live.bounded_loss import BoundedLoss
from passivbot.live.diff import wanted_from_arrays
from passivbot.live.state import BotState
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG,
    ORDER_COLS, SHORT,
)


def test_diff_unstuck_and_stop_closes_go_out_reduce_only_regression_kind_eq_close():
    # Regression: the diff used `kind == KIND_CLOSE`, so an unstuck close was sent as an entry
    # (a long "close" became a sell that opens a short on a one-way account).
    closes = np.array([[0.1, 2100.0, KIND_UNSTUCK_CLOSE], [0.2, 2200.0, KIND_CLOSE],
                       [0.3, 2000.0, KIND_STOP_CLOSE]])
    entries = np.array([[0.05, 1900.0, KIND_INITIAL_ENTRY], [0.1, 1800.0, KIND_REENTRY]])
    for side in (LONG, SHORT):
        w = wanted_from_arrays(side, entries, closes)
        assert [x.close for x in w] == [False, False, True, True, True]
        assert [x.kind for x in w] == [KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_UNSTUCK_CLOSE,
                                       KIND_CLOSE, KIND_STOP_CLOSE]
        # a long close sells, a short close buys
        assert w[2].is_buy == (side == SHORT)
    assert wanted_from_arrays(LONG, np.empty((0, ORDER_COLS)), np.empty((0, ORDER_COLS))) == []


# -- risk_state: persistence ------------------------------------------------------------------


def test_risk_state_round_trips_and_a_missing_file_is_a_fresh_state(tmp_path):
    p = tmp_path / "sub" / "r.json"
    assert rs.load_risk_state(p) == rs.RiskState()
    st = rs.RiskState(1100.5, [8.25, 0.0], 1050.0, 1_700_000_060_000, True)
    rs.save_risk_state(p, st)
    assert rs.load_risk_state(p) == st
    assert os.listdir(p.parent) == ["r.json"]  # no temp file left behind


def test_risk_state_write_is_atomic_a_failed_replace_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    old = rs.RiskState(peak_balance=1000.0, stop_until_ms=123)
    rs.save_risk_state(p, old)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(rs.os, "replace", boom)
    with pytest.raises(OSError):
        rs.save_risk_state(p, rs.RiskState(peak_balance=5.0))
    monkeypatch.undo()
    assert rs.load_risk_state(p) == old
    assert os.listdir(tmp_path) == ["r.json"]


@pytest.mark.parametrize("text,key", [
    ("{not json", "(file)"),
    ("[1, 2]", "(file)"),
    ('{"version": 9}', "version"),
    ('{"version": 1, "peak_balance": -1, "peak_equity": 0, "unstuck_loss": [0, 0], '
     '"stop_until_ms": 0, "close_pending": false}', "peak_balance"),
    ('{"version": 1, "peak_balance": 1, "peak_equity": 0, "unstuck_loss": [0], '
     '"stop_until_ms": 0, "close_pending": false}', "unstuck_loss"),
    ('{"version": 1, "peak_balance": 1, "peak_equity": 0, "unstuck_loss": [0, 0], '
     '"stop_until_ms": 1.5, "close_pending": false}', "stop_until_ms"),
    ('{"version": 1, "peak_balance": 1, "peak_equity": 0, "unstuck_loss": [0, 0], '
     '"stop_until_ms": 5}', "close_pending"),
])
def test_corrupt_risk_state_is_a_clear_error_naming_file_and_key_not_a_silent_reset(
        tmp_path, text, key):
    p = tmp_path / "r.json"
    p.write_text(text)
    with pytest.raises(rs.RiskStateError) as e:
        rs.load_risk_state(p)
    assert str(p) in str(e.value) and f": {key}:" in str(e.value)
    assert p.read_text() == text  # left as it was for a person to look at


def test_clear_equity_stop_keeps_the_unstuck_losses(tmp_path):
    p = tmp_path / "r.json"
    rs.save_risk_state(p, rs.RiskState(900.0, [3.0, 1.0], 800.0, int(risk.STOP_FOREVER), True))
    rs.clear_equity_stop(p)
    got = rs.load_risk_state(p)
    assert (got.stop_until_ms, got.close_pending, got.peak_equity) == (0, False, 0.0)
    assert (got.peak_balance, got.unstuck_loss) == (900.0, [3.0, 1.0])


# -- bounded_loss: the per-cycle decisions ----------------------------------------------------

CFG = load_live_config("ETH-J1")
T = 1_700_000_000_000 - 1_700_000_000_000 % 60_000


def state_at(cfg, balance, psize_long, pprice_long, close, ts):
    from passivbot.config import side_params
    st = BotState(params=np.stack([side_params(cfg.long), side_params(cfg.short)]))
    st.balance, st.close_price, st.last_closed_ts = balance, close, ts
    st.set_position(LONG, psize_long, pprice_long)
    return st


def test_equity_stop_fires_persists_before_closing_and_blocks_entries_for_the_cooldown(tmp_path):
    cfg = dataclasses.replace(CFG, equity_stop_drawdown=0.1, equity_stop_cooldown_minutes=30)
    p = tmp_path / "r.json"
    bl = BoundedLoss(cfg, p, logging.getLogger("t"), 0.0002)
    # equity 1000 -> peak 1000
    assert bl.before_cycle(state_at(cfg, 1000.0, 10.0, 100.0, 100.0, T)) == ""
    assert bl.st.peak_equity == 1000.0 and bl.st.peak_balance == 1000.0
    # close 99.1: equity 1000 + 10 x (99.1 - 100) = 991, 0.9 % down: trading
    assert bl.before_cycle(state_at(cfg, 1000.0, 10.0, 100.0, 99.1, T + 60_000)) == ""
    # close 89.95: equity 1000 - 100.5 = 899.5 < 1000 x 0.9: fire
    st = state_at(cfg, 1000.0, 10.0, 100.0, 89.95, T + 120_000)
    assert bl.before_cycle(st) == "fire"
    until = T + 120_000 + 60_000 + 30 * 60_000  # the candle's close + 30 minutes
    saved = rs.load_risk_state(p)  # persisted before the caller sends any order
    assert saved.stop_until_ms == until and saved.close_pending
    assert saved.peak_equity == pytest.approx(899.5)
    # the same candle is not checked twice; the position still open: close again
    assert bl.before_cycle(st) == "close"
    entries = np.array([[0.1, 90.0, KIND_INITIAL_ENTRY]])
    assert bl.entries(st, entries).shape[0] == 0
    # flat now, still cooling: no entries, close_pending cleared and saved
    st = state_at(cfg, 899.5, 0.0, 0.0, 90.0, T + 180_000)
    assert bl.before_cycle(st) == ""
    assert not rs.load_risk_state(p).close_pending
    assert bl.entries(st, entries).shape[0] == 0
    # a restart mid cool-down loads the stop: still no entries
    bl2 = BoundedLoss(cfg, p, logging.getLogger("t"), 0.0002)
    st = state_at(cfg, 899.5, 0.0, 0.0, 90.0, until - 2 * 60_000)
    assert bl2.before_cycle(st) == "" and bl2.entries(st, entries).shape[0] == 0
    # the candle that closes at `until`: entries again, from a fresh equity peak (no re-fire)
    st = state_at(cfg, 899.5, 0.0, 0.0, 90.0, until - 60_000)
    assert bl2.before_cycle(st) == "" and bl2.entries(st, entries).shape[0] == 1
    assert bl2.st.peak_equity == 899.5


def test_cooldown_zero_stays_stopped_across_restarts_until_cleared(tmp_path, caplog):
    cfg = dataclasses.replace(CFG, equity_stop_drawdown=0.1, equity_stop_cooldown_minutes=0)
    p = tmp_path / "r.json"
    bl = BoundedLoss(cfg, p, logging.getLogger("t"))
    bl.before_cycle(state_at(cfg, 1000.0, 10.0, 100.0, 100.0, T))
    with caplog.at_level(logging.ERROR):
        assert bl.before_cycle(state_at(cfg, 1000.0, 10.0, 100.0, 89.9, T + 60_000)) == "fire"
    loud = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert loud and loud[0].getMessage().startswith("EQUITY STOP: equity 899.00 is 10.10% below")
    assert "until cleared" in loud[0].getMessage()
    entries = np.array([[0.1, 90.0, KIND_INITIAL_ENTRY]])
    year = 365 * 24 * 60 * 60_000
    st = state_at(cfg, 899.0, 0.0, 0.0, 90.0, T + year)
    bl2 = BoundedLoss(cfg, p, logging.getLogger("t"))
    bl2.before_cycle(st)
    assert bl2.entries(st, entries).shape[0] == 0
    rs.clear_equity_stop(p)
    bl3 = BoundedLoss(cfg, p, logging.getLogger("t"))
    st = state_at(cfg, 899.0, 0.0, 0.0, 90.0, T + year + 60_000)
    assert bl3.before_cycle(st) == "" and bl3.entries(st, entries).shape[0] == 1


def test_unstuck_loss_is_added_from_close_fills_with_a_loss_and_persisted(tmp_path):
    side = dataclasses.replace(CFG.long, unstuck_threshold=0.5, unstuck_close_pct=0.1,
                               unstuck_ema_dist=0.0, unstuck_loss_allowance_pct=0.05)
    cfg = dataclasses.replace(CFG, long=side)
    p = tmp_path / "r.json"
    bl = BoundedLoss(cfg, p, logging.getLogger("t"), 0.0002)
    st = state_at(cfg, 1000.0, 2.0, 100.0, 95.0, T)
    bl.before_cycle(st)
    # a long close of 0.5 at 96: pnl 0.5 x (96 - 100) = -2, fee 0.0096: loss 2.0096
    bl.on_trade(LONG, True, 96.0, 0.5, 0.0096, st)
    # an entry, and a profitable take-profit, add nothing
    bl.on_trade(LONG, False, 90.0, 0.5, 0.01, st)
    bl.on_trade(LONG, True, 101.0, 0.5, 0.0101, st)
    assert bl.st.unstuck_loss == pytest.approx([2.0096, 0.0])
    assert rs.load_risk_state(p).unstuck_loss == pytest.approx([2.0096, 0.0])
    # the position closed in full before the trade was read: the last position price is used
    st.set_position(LONG, 0.0, 0.0)
    bl.on_trade(LONG, True, 99.0, 1.0, 0.0, st)
    assert bl.st.unstuck_loss[0] == pytest.approx(3.0096)


def test_decide_with_unstuck_places_a_reduce_only_unstuck_close_as_the_backtest(tmp_path):
    from passivbot.grid import ema_band_nb
    from passivbot.live.decide import ideal_orders
    side = dataclasses.replace(CFG.long, unstuck_threshold=0.5, unstuck_close_pct=0.1,
                               unstuck_ema_dist=0.0, unstuck_loss_allowance_pct=0.05)
    cfg = dataclasses.replace(CFG, long=side)
    bl = BoundedLoss(cfg, None, logging.getLogger("t"), 0.0002)
    market = np.array([0.01, 0.001, 0.001, 5.0])
    st = state_at(cfg, 1000.0, 4.5, 110.0, 100.0, T)  # exposure 0.495 > 0.5 x 0.5 limit
    st.emas[:] = 100.0
    bl.before_cycle(st)
    w = ideal_orders(st, market, bl)
    lo, hi = ema_band_nb(100.0, 100.0)
    exp, _ = risk.closes_with_unstuck_nb(LONG, 1000.0, 4.5, 110.0, lo, hi, 100.0, st.params[0],
                                         bl.rparams[0], market, 1000.0, 0.0, 0.0002)
    unstuck = [x for x in w if x.kind == KIND_UNSTUCK_CLOSE]
    assert len(unstuck) == 1 and unstuck[0].close and not unstuck[0].is_buy
    row = exp[exp[:, 2] == KIND_UNSTUCK_CLOSE][0]
    assert (unstuck[0].qty, unstuck[0].price) == (row[0], row[1])
    assert unstuck[0].price < 110.0  # below the position price: a loss, bounded
    assert sum(x.qty for x in w if x.side == LONG and x.close) == pytest.approx(4.5)


def test_clear_equity_stop_flag_clears_the_file_the_bot_reads(tmp_path):
    from passivbot.live.bounded_loss import prepare_risk_state
    from passivbot.live.main import build_parser
    args = build_parser().parse_args(["binance", "u1", "--clear-equity-stop"])
    assert args.clear_equity_stop
    assert not build_parser().parse_args(["binance", "u1"]).clear_equity_stop
    log = logging.getLogger("t")
    p = prepare_risk_state(tmp_path, "binance", "u1", "ETHUSDT", False, log)
    assert p == tmp_path / "binance-u1-ETHUSDT.risk.json" and not p.exists()
    rs.save_risk_state(p, rs.RiskState(1000.0, [1.0, 0.0], 900.0, int(risk.STOP_FOREVER), False))
    assert prepare_risk_state(tmp_path, "binance", "u1", "ETHUSDT", False, log) == p
    assert rs.load_risk_state(p).stop_until_ms == risk.STOP_FOREVER  # untouched without flag
    prepare_risk_state(tmp_path, "binance", "u1", "ETHUSDT", True, log)
    assert rs.load_risk_state(p).stop_until_ms == 0
    assert rs.load_risk_state(p).unstuck_loss == [1.0, 0.0]


def test_restart_between_the_fire_and_the_fill_closes_the_leftover_position(tmp_path):
    cfg = dataclasses.replace(CFG, equity_stop_drawdown=0.1, equity_stop_cooldown_minutes=30)
    p = tmp_path / "r.json"
    until = T + 31 * 60_000
    rs.save_risk_state(p, rs.RiskState(1000.0, [0.0, 0.0], 899.0, until, True))
    bl = BoundedLoss(cfg, p, logging.getLogger("t"))
    st = state_at(cfg, 1000.0, 10.0, 100.0, 89.9, T + 60_000)
    assert bl.before_cycle(st) == "close"  # cooling, the position still open: close it
    assert bl.entries(st, np.array([[0.1, 90.0, KIND_INITIAL_ENTRY]])).shape[0] == 0
    st.set_position(LONG, 0.0, 0.0)
    assert bl.before_cycle(st) == "" and not rs.load_risk_state(p).close_pending


def test_a_bot_with_a_corrupt_state_file_does_not_start(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"version": 1, "stop_until_ms": ')  # a truncated write by another tool
    with pytest.raises(rs.RiskStateError, match="r.json"):
        BoundedLoss(CFG, p, logging.getLogger("t"))
