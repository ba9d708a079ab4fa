"""Multi-symbol live configs: the shared limit split per symbol, overrides, and strict errors."""

import copy
import json
from pathlib import Path

import pytest

from passivbot.config import ConfigError, load_live_config
from passivbot.config.multi import load_multi_config, multi_config_from_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "live_settings" / "multi-example.json"


def example() -> dict:
    return json.loads(EXAMPLE.read_text())


def errors(d: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as e:
        multi_config_from_dict(d, "x.json")
    return {i.key: i.message for i in e.value.issues}


def test_one_symbol_config_means_what_it_means_today():
    one = load_live_config(ROOT / "live_settings" / "default.json")
    m = load_multi_config(ROOT / "live_settings" / "default.json")
    assert m.symbols == ("ETHUSDT",) and m.n_positions == 1 and not m.selecting
    assert m.configs["ETHUSDT"] == one
    assert m.total_wallet_exposure_limit == (0.5, 0.5)


def test_shared_limit_split_by_n_positions_and_overrides_applied():
    m = load_multi_config(EXAMPLE)
    assert m.n_positions == 3 and m.selecting and len(m.symbols) == 6
    for sym, c in m.configs.items():
        assert c.symbol == sym and c.leverage == 7
        assert c.long.wallet_exposure_limit == 1.5 / 3 == c.short.wallet_exposure_limit
        want = 0.003 if sym == "BTCUSDT" else 0.004
        assert c.long.min_markup == want and c.short.min_markup == want
        assert c.long.ddown_factor == 0.8


def test_n_positions_defaults_to_all_symbols():
    d = example()
    del d["n_positions"]
    m = multi_config_from_dict(d, "x.json")
    assert m.n_positions == 6 and not m.selecting
    assert m.configs["ETHUSDT"].long.wallet_exposure_limit == 1.5 / 6


def test_unknown_and_repeated_symbols_named():
    d = example()
    d["symbols"] = ["ETHUSDT", "eth/usdt", "ETHUSDT"]
    d["overrides"] = {"BTCUSDT": {"long": {"min_markup": 0.01}}}
    errs = errors(d)
    assert "unknown symbol" in errs["symbols[1]"]
    assert "listed twice" in errs["symbols[2]"]


def test_override_for_symbol_not_listed_suggests_the_close_one():
    d = example()
    d["overrides"] = {"BTCUSTD": {"long": {"min_markup": 0.01}}}
    assert "did you mean 'BTCUSDT'" in errors(d)["overrides.BTCUSTD"]


def test_overlapping_limit_keys_rejected():
    d = example()
    d["long"]["wallet_exposure_limit"] = 0.5
    d["overrides"]["SOLUSDT"] = {"short": {"wallet_exposure_limit": 0.2}}
    errs = errors(d)
    assert "total_wallet_exposure_limit.long" in errs["long.wallet_exposure_limit"]
    assert "overlaps" in errs["overrides.SOLUSDT.short.wallet_exposure_limit"]


def test_totals_above_leverage_rejected():
    d = example()
    d["total_wallet_exposure_limit"] = {"long": 8.0, "short": 1.0}
    assert "leverage (7)" in errors(d)["total_wallet_exposure_limit.long"]
    d["total_wallet_exposure_limit"] = {"long": 4.0, "short": 4.0}
    key = "total_wallet_exposure_limit.long + total_wallet_exposure_limit.short"
    assert "both sides" in errors(d)[key]


def test_bad_override_value_reported_under_the_override_key_and_all_at_once():
    d = example()
    d["overrides"]["SOLUSDT"] = {"long": {"min_markup": 7.0, "ddown_factr": 1.0}}
    d["n_positions"] = 9
    d["symbol"] = "ETHUSDT"
    errs = errors(d)
    assert "overrides.SOLUSDT.long.min_markup" in errs
    assert "did you mean 'ddown_factor'" in errs["overrides.SOLUSDT.long.ddown_factr"]
    assert "[1, 6]" in errs["n_positions"]
    assert "symbols" in errs["symbol"]


def test_config_cli_exits_2_naming_file_and_key(tmp_path):
    import subprocess
    import sys

    d = example()
    d["total_wallet_exposure_limit"] = {"long": 0.0, "short": 1.0}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    r = subprocess.run([sys.executable, "-m", "passivbot.config.multi", str(p)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert str(p) in r.stderr and "total_wallet_exposure_limit.long" in r.stderr
    assert "Traceback" not in r.stderr
    ok = subprocess.run([sys.executable, "-m", "passivbot.config.multi", str(EXAMPLE)], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "n_positions 3" in ok.stdout


def test_example_untouched_by_validation():
    d = example()
    before = copy.deepcopy(d)
    multi_config_from_dict(d, "x.json")
    assert d == before
