"""Config keys of the bounded-loss rules: off for old configs, ranges and the all-or-nothing
unstuck rule reported with file and key, exit 2 from the CLI, adapters in kernel index order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from passivbot import risk
from passivbot.config import PROJECT_ROOT, live_config_from_dict, live_config_to_dict
from passivbot.config.live import SIDE_NUMERIC_KEYS, TOP_FIELDS
from passivbot.config.risk import UNSTUCK_KEYS, stop_params, unstuck_params
from tests.test_config import issues, live

UNSTUCK_ON = dict(long__unstuck_threshold=0.8, long__unstuck_close_pct=0.1,
                  long__unstuck_ema_dist=0.005, long__unstuck_loss_allowance_pct=0.01)


def test_old_configs_have_both_rules_off_and_the_shipped_ones_what_docs_configs_defends():
    """A config without the keys has both rules off; the shipped configs turn on only what
    docs/configs.md ("In the shipped configs") measured: default.json the equity stop (0.1,
    1440 minutes), ETH-J1 nothing."""
    shipped = {"default": [0.1, 1440.0], "ETH-J1": [0.0, 0.0]}
    for name, stop in shipped.items():
        d = json.loads((PROJECT_ROOT / "live_settings" / f"{name}.json").read_text())
        cfg = live_config_from_dict(d, name)
        for s in (cfg.long, cfg.short):
            assert unstuck_params(s).tolist() == [0.0] * risk.N_RISK_PARAMS
        assert stop_params(cfg).tolist() == stop
        for k in ("equity_stop_drawdown", "equity_stop_cooldown_minutes"):
            d.pop(k, None)  # as written before the keys existed
        assert stop_params(live_config_from_dict(d, name)).tolist() == [0.0, 0.0]
    # and the kernels agree that zeros are off
    cfg = live_config_from_dict(live(), "x.json")
    assert risk.unstuck_close_nb(1, 1000.0, 1.0, 2000.0, 1.0, 2.0, 1.5, np.ones(12),
                                 unstuck_params(cfg.long), np.array([0.01, 0.001, 0.001, 5.0]),
                                 1000.0, 0.0, 0.0)[2] == risk.UNSTUCK_OFF
    assert risk.equity_stop_nb(1.0, 1000.0, 0, 0, stop_params(cfg))[0] == risk.STOP_OFF


def test_adapters_follow_the_kernel_indices():
    cfg = live_config_from_dict(live(**UNSTUCK_ON, equity_stop_drawdown=0.25,
                                     equity_stop_cooldown_minutes=1440), "x.json")
    u = unstuck_params(cfg.long)
    assert (u[risk.U_THRESHOLD], u[risk.U_CLOSE_PCT], u[risk.U_EMA_DIST],
            u[risk.U_LOSS_ALLOWANCE_PCT]) == (0.8, 0.1, 0.005, 0.01)
    assert unstuck_params(cfg.short).tolist() == [0.0] * 4
    s = stop_params(cfg)
    assert (s[risk.S_DRAWDOWN], s[risk.S_COOLDOWN_MINUTES]) == (0.25, 1440.0)
    d = live_config_to_dict(cfg)
    assert d["equity_stop_drawdown"] == 0.25 and d["long"]["unstuck_close_pct"] == 0.1
    assert live_config_from_dict(d, "again.json") == cfg


def test_out_of_range_values_name_file_key_and_range():
    got = issues(live(**dict(UNSTUCK_ON, long__unstuck_threshold=1.5),
                      short__unstuck_ema_dist=-0.5, equity_stop_drawdown=1.0,
                      equity_stop_cooldown_minutes=-1), "live_settings/x.json")
    assert any(g.startswith("long.unstuck_threshold") and "<= 1" in g
               and "share of wallet_exposure_limit" in g for g in got), got
    assert any(g.startswith("short.unstuck_ema_dist") and ">= -0.1" in g for g in got), got
    assert any(g.startswith("equity_stop_drawdown") and "< 1" in g for g in got), got
    assert any(g.startswith("equity_stop_cooldown_minutes") and ">= 0" in g for g in got), got
    assert len(got) == 4, got


def test_partly_set_unstuck_is_an_error_naming_what_is_missing():
    got = issues(live(long__unstuck_threshold=0.8, long__unstuck_close_pct=0.1))
    assert len(got) == 1, got
    assert got[0].startswith("long.unstuck_loss_allowance_pct")
    assert "unstuck_threshold, unstuck_close_pct is set" in got[0]


def test_risk_keys_are_kept_out_of_the_grid_params_but_searchable():
    """The unstuck keys are not in the engine's params array (SIDE_NUMERIC_KEYS) but the
    optimizer may bound them, like the equity stop's top-level keys."""
    from passivbot.config.backtest import SEARCHABLE_SIDE_KEYS, SEARCHABLE_TOP_KEYS

    assert not set(UNSTUCK_KEYS) & set(SIDE_NUMERIC_KEYS)
    assert set(UNSTUCK_KEYS) <= set(SEARCHABLE_SIDE_KEYS)
    assert {"equity_stop_drawdown", "equity_stop_cooldown_minutes"} <= set(SEARCHABLE_TOP_KEYS)


def test_cli_exits_2_on_a_bad_risk_key(tmp_path: Path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(live(**UNSTUCK_ON, equity_stop_drawdown="0.2")))
    r = subprocess.run([sys.executable, "-m", "passivbot.config", str(p)], cwd=PROJECT_ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "equity_stop_drawdown" in r.stderr and str(p) in r.stderr


def test_optimizer_bounds_on_risk_keys_are_accepted_and_checked_against_the_live_range():
    from passivbot.config import backtest_config_from_dict, load_backtest_config
    from passivbot.config.backtest import Bound, backtest_config_to_dict

    d = backtest_config_to_dict(load_backtest_config("demo"))
    d["optimize"]["bounds"].update({
        "equity_stop_drawdown": [0.05, 0.3],
        "long": {**d["optimize"]["bounds"].get("long", {}), "unstuck_threshold": [0.5, 1.0]},
    })
    bt = backtest_config_from_dict(d, "bt.json")
    assert bt.optimize.bounds["equity_stop_drawdown"] == Bound(0.05, 0.3)
    assert bt.optimize.bounds["long.unstuck_threshold"] == Bound(0.5, 1.0)
    d["optimize"]["bounds"]["equity_stop_drawdown"] = [0.05, 1.0]  # live range: < 1
    d["optimize"]["bounds"]["long"]["unstuck_threshold"] = [0.5, 1.5]  # live range: <= 1
    got = issues_of_backtest(d)
    assert len(got) == 2, got
    assert all("outside the live schema's range" in g for g in got), got
    assert {g.split(" = ")[0].split(":")[0] for g in got} == {
        "optimize.bounds.equity_stop_drawdown", "optimize.bounds.long.unstuck_threshold"}


def issues_of_backtest(d: dict) -> list[str]:
    import pytest

    from passivbot.config import ConfigError, backtest_config_from_dict

    with pytest.raises(ConfigError) as e:
        backtest_config_from_dict(d, "bt.json")
    return [i.line() for i in e.value.issues]
