"""Config validation: every bad-input class gives a message naming key, value and what is
allowed; problems are reported together; shipped configs validate; adapters keep key order."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from passivbot.config import (
    PROJECT_ROOT, Bound, ConfigError, LiveConfig, backtest_config_from_dict,
    backtest_config_to_dict, live_config_from_dict, live_config_to_dict, load_backtest_config,
    load_live_config, side_params,
)
from passivbot.config.docs import render
from passivbot.records import N_PARAMS, P_DDOWN_FACTOR, P_ENABLED, P_N_CLOSE_ORDERS, PARAM_KEYS

SIDE = {"enabled": True, "wallet_exposure_limit": 0.5, "ema_span_0": 240, "ema_span_1": 720,
        "initial_qty_pct": 0.02, "initial_eprice_ema_dist": 0.003, "ddown_factor": 0.8,
        "rentry_pprice_dist": 0.02, "rentry_pprice_dist_wallet_exposure_weighting": 1.0,
        "min_markup": 0.004, "markup_range": 0.012, "n_close_orders": 5}
LIVE = {"config_version": 1, "symbol": "ETHUSDT", "leverage": 7, "long": SIDE,
        "short": dict(SIDE, wallet_exposure_limit=0.25)}


def live(**changes) -> dict:
    """LIVE with dotted-key changes; value None deletes the key."""
    d = copy.deepcopy(LIVE)
    for k, v in changes.items():
        *path, last = k.split("__")
        tgt = d
        for p in path:
            tgt = tgt[p]
        if v is None:
            del tgt[last]
        else:
            tgt[last] = v
    return d


def issues(d: dict, source: str = "cfg.json") -> list[str]:
    with pytest.raises(ConfigError) as e:
        live_config_from_dict(d, source)
    return [i.line() for i in e.value.issues]


def test_valid_config_parses_typed_and_frozen():
    cfg = live_config_from_dict(LIVE, "x.json")
    assert isinstance(cfg, LiveConfig) and cfg.leverage == 7 and cfg.long.n_close_orders == 5
    assert isinstance(cfg.long.ema_span_0, float) and cfg.source == "x.json"
    with pytest.raises(AttributeError):
        cfg.leverage = 3  # type: ignore[misc]


def test_missing_key_names_key_and_allowed():
    assert issues(live(long__ddown_factor=None)) == [
        "long.ddown_factor: missing required key (a number > 0 and <= 10; "
        "re-entry qty = position size x ddown_factor)"]


def test_defaults_fill_optional_keys():
    cfg = live_config_from_dict(live(config_version=None, short__markup_range=None), "x")
    assert cfg.config_version == 1 and cfg.short.markup_range == 0.0


def test_unknown_key_suggests_close_match():
    assert issues(live(long__ddown_factr=0.8)) == [
        "long.ddown_factr = 0.8: unknown key; did you mean 'ddown_factor'?"]
    (msg,) = issues(live(levrage=7))
    assert "did you mean 'leverage'?" in msg


def test_wrong_types_rejected_including_bool_as_number():
    msgs = issues(live(leverage=True, long__ddown_factor="0.8", short__enabled=1,
                       long__n_close_orders=5.5))
    assert "leverage = true: wrong type: must be an integer >= 1 and <= 125, got bool" in msgs[0]
    assert any(m.startswith('long.ddown_factor = "0.8": wrong type: must be a number') for m in msgs)
    assert any(m.startswith("long.n_close_orders = 5.5: wrong type: must be an integer") for m in msgs)
    assert "short.enabled = 1: wrong type: must be true or false, got integer" in msgs


def test_integral_float_accepted_for_int_field():
    cfg = live_config_from_dict(live(leverage=7.0, long__n_close_orders=3.0), "x")
    assert cfg.leverage == 7 and type(cfg.leverage) is int and type(cfg.long.n_close_orders) is int


def test_out_of_range_message_gives_allowed_range():
    assert issues(live(long__rentry_pprice_dist=-0.01)) == [
        "long.rentry_pprice_dist = -0.01: must be > 0 and <= 0.9 (grid spacing ratio)"]
    assert issues(live(leverage=126)) == ["leverage = 126: must be >= 1 and <= 125"]
    (msg,) = issues(live(symbol="ETH/USDT"))
    assert msg.startswith('symbol = "ETH/USDT": must match')


def test_nan_rejected():
    (msg,) = issues(live(long__min_markup=float("nan")))
    assert msg.startswith("long.min_markup = NaN: must be a finite number")


def test_wallet_exposure_above_leverage():
    (msg,) = issues(live(leverage=2, long__wallet_exposure_limit=3.0))
    assert msg.startswith("long.wallet_exposure_limit = 3.0: must be <= leverage (2)")


def test_both_sides_exposure_sum_above_leverage_explains_cross_margin():
    (msg,) = issues(live(leverage=1, long__wallet_exposure_limit=0.75,
                         short__wallet_exposure_limit=0.5))
    assert "long.wallet_exposure_limit + short.wallet_exposure_limit = 1.25" in msg
    assert "must be <= leverage (1)" in msg and "cross margin" in msg
    # A disabled side needs no margin.
    live_config_from_dict(live(leverage=1, long__wallet_exposure_limit=0.75,
                               short__wallet_exposure_limit=0.5, short__enabled=False), "x")


def test_newer_config_version_names_supported_version():
    (msg,) = issues(live(config_version=2))
    assert msg == "config_version = 2: unsupported: this passivbot reads config_version 1"


def test_several_problems_reported_together():
    d = live(leverage=0, long__ddown_factr=1, long__ddown_factor=None, symbol=5)
    d["short"] = "x"
    with pytest.raises(ConfigError) as e:
        live_config_from_dict(d, "many.json")
    keys = [i.key for i in e.value.issues]
    assert keys == ["symbol", "leverage", "short", "long.ddown_factr", "long.ddown_factor"]
    text = str(e.value)
    assert text.startswith("config error in many.json:\n  ") and text.count("\n") == 5


def test_malformed_json_gives_line_and_column(tmp_path: Path):
    p = tmp_path / "bad.json"
    p.write_text('{\n  "symbol": "ETHUSDT",\n  "leverage": 7,,\n}')
    with pytest.raises(ConfigError) as e:
        load_live_config(p)
    (issue,) = e.value.issues
    assert issue.file == str(p)
    assert issue.message.startswith("malformed JSON at line 3, column 17:")


def test_missing_name_lists_folder_and_available(tmp_path: Path):
    (tmp_path / "live_settings").mkdir()
    (tmp_path / "live_settings" / "a.json").write_text(json.dumps(LIVE))
    with pytest.raises(ConfigError) as e:
        load_live_config("ETH-J2", root=tmp_path)
    folder = tmp_path / "live_settings"
    assert e.value.issues[0].message == (
        f"file not found: {folder / 'ETH-J2.json'} (searched {folder}; available: a)")
    assert load_live_config("a", root=tmp_path).symbol == "ETHUSDT"


def test_missing_path_names_path(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found: .*nope.json"):
        load_live_config(tmp_path / "nope.json")


def test_shipped_live_configs_validate():
    for name in ("ETH-J1", "default"):
        cfg = load_live_config(name)
        assert cfg.symbol == "ETHUSDT" and cfg.long.enabled
    assert load_live_config("ETH-J1").short.wallet_exposure_limit == 0.25


def test_to_dict_from_dict_round_trip_with_defaults_resolved():
    cfg = live_config_from_dict(live(long__markup_range=None, config_version=None), "x")
    d = live_config_to_dict(cfg)
    assert d["long"]["markup_range"] == 0.0 and d["config_version"] == 1
    assert live_config_from_dict(json.loads(json.dumps(d)), "y") == cfg


def test_side_params_follow_param_keys_order():
    cfg = live_config_from_dict(live(short__enabled=False), "x")
    a = side_params(cfg.long)
    assert a.dtype == np.float64 and a.shape == (N_PARAMS,)
    assert a.tolist() == [float(SIDE[k]) for k in PARAM_KEYS]
    assert a[P_ENABLED] == 1.0 and a[P_DDOWN_FACTOR] == 0.8 and a[P_N_CLOSE_ORDERS] == 5
    assert side_params(cfg.short)[P_ENABLED] == 0.0


# --- backtest configs ---

BT = {"exchange": "binance", "symbol": "ETHUSDT", "start_date": "2025-05-05",
      "end_date": "2025-06-24", "starting_configs": ["live_settings/ETH-J1.json"]}


def bt_issues(d: dict, root: Path = PROJECT_ROOT) -> list[str]:
    with pytest.raises(ConfigError) as e:
        backtest_config_from_dict(d, "bt.json", root=root)
    return [i.line() for i in e.value.issues]


def test_backtest_defaults_and_fees_per_exchange():
    cfg = backtest_config_from_dict(dict(BT, exchange="bybit"), "bt.json")
    assert cfg.taker_fee == 0.00055 and cfg.maker_fee == 0.0002 and cfg.data_source == "cache"
    assert cfg.optimize.iterations == 200 and cfg.optimize.bounds == {}
    assert cfg.starting_configs[0].symbol == "ETHUSDT"
    assert cfg.end_ms - cfg.start_ms == 50 * 86_400_000
    d = backtest_config_to_dict(cfg)
    assert backtest_config_from_dict(json.loads(json.dumps(d)), "again.json") == cfg


def test_shipped_backtest_configs_validate():
    eth, demo = load_backtest_config("eth"), load_backtest_config("demo")
    assert eth.data_source == "cache" and str(eth.start_date) == "2024-01-01"
    assert demo.data_source == "bundled" and demo.optimize.iterations == 400
    assert demo.optimize.bounds["long.wallet_exposure_limit"] == Bound(0.1, 1.0)
    assert demo.optimize.bounds["long.n_close_orders"] == Bound(1, 10, 1)
    assert demo.optimize.bounds.keys() == eth.optimize.bounds.keys()


def test_backtest_bounds_errors():
    opt = {"bounds": {"leverage": [10, 5], "long": {
        "ddown_factr": [0.1, 1], "rentry_pprice_dist": [0.0, 0.5], "min_markup": [0.001, 0.01, 0],
        "enabled": [0, 1]}, "shrt": {}}}
    msgs = bt_issues(dict(BT, optimize=opt))
    assert "optimize.bounds.leverage = [10, 5]: inverted bounds: lo 10 > hi 5" in msgs
    assert ("optimize.bounds.long.ddown_factr = [0.1, 1]: unknown key; "
            "did you mean 'ddown_factor'?") in msgs
    assert ("optimize.bounds.long.rentry_pprice_dist = [0.0, 0.5]: lo 0 outside the live "
            "schema's range: > 0 and <= 0.9 (grid spacing ratio)") in msgs
    assert "optimize.bounds.long.min_markup = [0.001, 0.01, 0]: step must be > 0" in msgs
    assert any(m.startswith("optimize.bounds.long.enabled = [0, 1]: not a numeric") for m in msgs)
    assert any(m.startswith("optimize.bounds.shrt = {}: unknown key; did you mean 'short'?")
               for m in msgs)


def test_backtest_field_errors_together():
    d = dict(BT, exchange="binanse", end_date="2025-05-01", maker_fee=0.5, sampling=1,
             optimize={"multi_objective": True, "n_folds": 0})
    msgs = bt_issues(d)
    assert 'exchange = "binanse": must be one of \'binance\', \'bybit\'; did you mean \'binance\'?' in msgs
    assert any(m.startswith('end_date = "2025-05-01": must be after start_date') for m in msgs)
    assert "maker_fee = 0.5: must be >= -0.001 and <= 0.01 (fee rate; negative = rebate)" in msgs
    assert "optimize.n_folds = 0: must be >= 1 and <= 20" in msgs
    assert any(m.startswith("optimize.multi_objective = true: requires sampler nsga2 or tpe")
               for m in msgs)
    assert any(m.startswith("sampling = 1: unknown key") for m in msgs)


def test_backtest_starting_config_errors_reported_under_own_file(tmp_path: Path):
    (tmp_path / "live_settings").mkdir()
    bad = tmp_path / "live_settings" / "bad.json"
    bad.write_text(json.dumps(live(leverage=0)))
    with pytest.raises(ConfigError) as e:
        backtest_config_from_dict(dict(BT, starting_configs=["live_settings/bad.json",
                                                             "live_settings/none.json"]),
                                  "bt.json", root=tmp_path)
    by_file = {(i.file, i.key) for i in e.value.issues}
    assert (str(bad), "leverage") in by_file
    assert ("bt.json", "starting_configs[0]") in by_file
    assert ("bt.json", "starting_configs[1]") in by_file
    assert e.value.files == ("bt.json", str(bad))
    assert f"config error in {bad}:\n  leverage = 0: must be >= 1" in str(e.value)


def test_docs_match_schema():
    committed = (PROJECT_ROOT / "docs" / "configs.md").read_text()
    assert committed == render(), "regenerate: python3 -m passivbot.config.docs > docs/configs.md"


# -- optional sections: alerts and status_page (issue 20) ------------------------------------
TG = "https://api.telegram.org/bot123456:AAE-secret-token/sendMessage"


def _with(**top):
    d = json.loads((PROJECT_ROOT / "live_settings" / "ETH-J1.json").read_text())
    d.update(top)
    return d


def test_alerts_and_status_page_absent_mean_off_and_are_not_printed():
    cfg = live_config_from_dict(_with(), "x.json")
    assert cfg.alerts is None and cfg.status_page is None
    assert "alerts" not in live_config_to_dict(cfg)


def test_alerts_url_is_validated_and_never_printed():
    from passivbot.config.sanity import config_warnings

    cfg = live_config_from_dict(_with(alerts={"url": TG, "format": "telegram",
                                              "chat_id": "42"}), "x.json")
    assert cfg.alerts.url == TG and cfg.alerts.events == ("fills", "stops", "errors",
                                                          "disconnections")
    shown = live_config_to_dict(cfg)
    assert shown["alerts"]["url"] == "https://api.telegram.org/<redacted>"
    assert "secret-token" not in json.dumps(shown) and "secret-token" not in repr(cfg)
    assert live_config_to_dict(cfg, reveal_secrets=True)["alerts"]["url"] == TG
    back = live_config_from_dict(shown, "copy.json")  # a printout read back: valid, alerts off
    assert not back.alerts.enabled
    assert any("alerts.url is redacted" in w for w in config_warnings(back))


@pytest.mark.parametrize("alerts,key,needle", [
    ({"url": "http://hooks.example.com/x?token=s3cret"}, "alerts.url", "must be https://"),
    ({"url": "ftp://example.com/s3cret"}, "alerts.url", "https:// URL with a host"),
    ({"url": TG, "format": "telegram"}, "alerts.chat_id", "required when format"),
    ({"url": TG, "events": ["fills", "fils"]}, "alerts.events", "non-empty list"),
    ({"url": TG, "min_interval_s": -1}, "alerts.min_interval_s", ">= 0"),
    ({"urll": TG}, "alerts.urll", "did you mean 'url'?"),
])
def test_bad_alerts_name_the_key_and_hide_the_url(alerts, key, needle):
    with pytest.raises(ConfigError) as e:
        live_config_from_dict(_with(alerts=alerts), "x.json")
    msg = e.value.format()
    assert key in msg and needle in msg
    assert "s3cret" not in msg and (alerts.get("urll") is not None or "secret-token" not in msg)


def test_status_page_defaults_and_checks():
    cfg = live_config_from_dict(_with(status_page={"port": 8765}), "x.json")
    assert (cfg.status_page.host, cfg.status_page.port) == ("127.0.0.1", 8765)
    assert cfg.status_page.token_env == "PASSIVBOT_STATUS_TOKEN"
    assert live_config_to_dict(cfg)["status_page"]["port"] == 8765
    with pytest.raises(ConfigError, match=r"status_page.port = 0: must be >= 1 and <= 65535"):
        live_config_from_dict(_with(status_page={"port": 0}), "x.json")
    assert live_config_from_dict(_with(alerts={"url": "http://127.0.0.1:9/hook"}),
                                 "x").alerts.enabled
