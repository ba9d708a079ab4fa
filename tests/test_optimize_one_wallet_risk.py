"""A one-wallet search scores a candidate with bounded-loss rules on the account (the
multi-symbol backtest applies them: docs/optimize.md, "One wallet"); it is not refused as an
invalid config, and its stats are the multi-symbol backtest's with those rules."""

from pathlib import Path

import pytest

from passivbot.backtest.multi_runner import backtest_multi_config
from passivbot.config import (
    backtest_config_from_dict, backtest_config_to_dict, live_config_to_dict,
    load_backtest_config, load_live_config,
)
from passivbot.config.multi import multi_config_from_dict
from passivbot.optimize.candles import load_candles
from passivbot.optimize.objective import evaluate, one_wallet_dict
from passivbot.optimize.run import eval_context

ROOT = Path(__file__).resolve().parents[1]
SYMS = ["ETHUSDT", "BTCUSDT"]


def test_a_one_wallet_candidate_with_an_equity_stop_is_scored_with_the_stop_on_the_account():
    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(start_date="2025-05-10", end_date="2025-05-13", symbols=SYMS)
    d["optimize"]["one_wallet"] = True
    bt = backtest_config_from_dict(d, "bt.json", root=ROOT)
    candles = {s: load_candles(bt, s) for s in SYMS}
    ctx = eval_context(bt, candles)
    plain = live_config_to_dict(load_live_config("ETH-J1"))
    plain.update(equity_stop_drawdown=0.0, equity_stop_cooldown_minutes=0)
    stopped = {**plain, "equity_stop_drawdown": 0.002, "equity_stop_cooldown_minutes": 60}

    got = evaluate(ctx, stopped)
    assert got["error"] is None, got["error"]
    assert got["stats"]["n_equity_stops"] >= 1  # the rule ran, on the account
    want = backtest_multi_config(multi_config_from_dict(one_wallet_dict(stopped, SYMS), "c"),
                                 bt, candles=candles)
    assert got["stats"] == pytest.approx(want.stats["account"], rel=1e-12, abs=1e-12)
    off = evaluate(ctx, plain)
    assert off["error"] is None and off["stats"]["n_equity_stops"] == 0
    assert off["stats"]["n_fills"] != got["stats"]["n_fills"]


def test_the_one_wallet_config_keeps_the_bounded_loss_keys():
    cand = live_config_to_dict(load_live_config("ETH-J1"))
    cand.update(equity_stop_drawdown=0.05, equity_stop_cooldown_minutes=30)
    cand["long"].update(unstuck_threshold=0.5, unstuck_close_pct=0.1,
                        unstuck_loss_allowance_pct=0.01)
    mc = multi_config_from_dict(one_wallet_dict(cand, SYMS), "c")
    for sym in SYMS:
        c = mc.configs[sym]
        assert c.equity_stop_drawdown == 0.05 and c.equity_stop_cooldown_minutes == 30
        assert (c.long.unstuck_threshold, c.long.unstuck_close_pct,
                c.long.unstuck_loss_allowance_pct) == (0.5, 0.1, 0.01)
