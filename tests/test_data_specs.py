"""market_spec: the stored spec before the bundled snapshot, clear errors otherwise; the
bundled snapshot's tiers are what the exchanges publish (maintenance amounts continuous)."""

import json
import math

import numpy as np
import pytest

from passivbot.data.bundled import BUNDLED_SYMBOLS
from passivbot.errors import InputError
from passivbot.margin import bracket_nb
from passivbot.markets import (
    MARKETS, MarketSpecError, market_spec, spec_from_json, spec_to_json, stored_spec_path,
)


def store(tmp_path, obj, exchange="binance", symbol="ETHUSDT"):
    p = stored_spec_path(tmp_path, exchange, symbol)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj))
    return p


def test_every_bundled_symbol_has_a_binance_spec_with_continuous_tiers():
    for sym in BUNDLED_SYMBOLS:
        spec = market_spec("binance", sym)
        assert spec.source.startswith("bundled:") and spec.price_step > 0 and spec.qty_step > 0
        b = spec.brackets_array()
        assert np.isinf(b[-1, 0]) and np.all(np.diff(b[:, 0]) > 0)
        for i in range(len(b) - 1):  # the published cum values agree with the caps and rates
            cap = b[i, 0]
            assert math.isclose(cap * b[i, 1] - b[i, 2], cap * b[i + 1, 1] - b[i + 1, 2],
                                rel_tol=1e-12), (sym, i)


def test_refreshed_binance_tiers_match_the_cited_bracket_table():
    # freqtrade binance_leverage_tiers.json @01d10aeb, ETH/USDT:USDT brackets 1-3 and 12.
    eth = market_spec("binance", "ETHUSDT").brackets_array()
    assert bracket_nb(eth, 50_000.0) == (0.004, 0.0)
    assert bracket_nb(eth, 50_000.01) == (0.005, 50.0)
    assert bracket_nb(eth, 600_000.01) == (0.0065, 950.0)
    assert bracket_nb(eth, 2e9) == (0.5, 280_506_450.0)
    btc = market_spec("binance", "BTCUSDT")
    assert [t.max_leverage for t in btc.tiers[:3]] == [125, 100, 75]
    assert bracket_nb(btc.brackets_array(), 70_000_000.0) == (0.02, 131_450.0)


def test_a_stored_spec_comes_before_the_bundled_one(tmp_path):
    obj = spec_to_json(market_spec("binance", "ETHUSDT"))
    obj["price_step"], obj["min_cost"] = 0.05, 7.0
    p = store(tmp_path, obj)
    got = market_spec("binance", "ETHUSDT", cache_dir=tmp_path)
    assert got.price_step == 0.05 and got.min_cost == 7.0 and got.source == f"cache:{p}"
    assert got.tiers == market_spec("binance", "ETHUSDT").tiers
    assert market_spec("binance", "ETHUSDT").price_step == 0.01  # no cache_dir: the snapshot
    assert market_spec("binance", "BTCUSDT", cache_dir=tmp_path) is MARKETS[("binance", "BTCUSDT")]


def test_a_stored_spec_for_any_symbol_is_used(tmp_path):
    obj = spec_to_json(market_spec("binance", "ADAUSDT"))
    obj.update(symbol="DOGEUSDT", base="DOGE", price_step=0.00001)
    store(tmp_path, obj, symbol="DOGEUSDT")
    assert market_spec("binance", "DOGEUSDT", cache_dir=tmp_path).price_step == 0.00001


def test_no_spec_anywhere_is_a_clear_error_with_the_downloader_command(tmp_path):
    with pytest.raises(MarketSpecError) as e:
        market_spec("bybit", "SOLUSDT", cache_dir=tmp_path / "c")
    msg = str(e.value)
    assert "no market spec for bybit:SOLUSDT" in msg and "binance:ETHUSDT" in msg
    assert "python3 downloader.py --exchange bybit --symbol SOLUSDT" in msg
    assert f"--cache-dir {tmp_path / 'c'}" in msg
    assert isinstance(e.value, KeyError) and isinstance(e.value, InputError)


@pytest.mark.parametrize("bad", ["not json", "dir", "devzero", "zero_step", "caps_down"])
def test_an_unusable_stored_spec_is_an_error_naming_the_file(tmp_path, bad):
    p = stored_spec_path(tmp_path, "binance", "ETHUSDT")
    p.parent.mkdir(parents=True)
    good = spec_to_json(market_spec("binance", "ETHUSDT"))
    if bad == "not json":
        p.write_text("{")
    elif bad == "dir":
        p.mkdir()
    elif bad == "devzero":
        p.symlink_to("/dev/zero")
    elif bad == "zero_step":
        p.write_text(json.dumps({**good, "qty_step": 0}))
    else:
        good["tiers"][1]["notional_cap"] = 1.0
        p.write_text(json.dumps(good))
    with pytest.raises(MarketSpecError, match=str(p)):
        market_spec("binance", "ETHUSDT", cache_dir=tmp_path)


def test_a_stored_binance_spec_without_tiers_says_why(tmp_path):
    obj = {**spec_to_json(market_spec("binance", "ETHUSDT")), "tiers": None,
           "source_note": "NO tiers: Binance's leverageBracket needs API keys"}
    store(tmp_path, obj)
    with pytest.raises(MarketSpecError, match="no margin tiers.*API keys"):
        market_spec("binance", "ETHUSDT", cache_dir=tmp_path)


def test_json_round_trip_keeps_every_field():
    for spec in MARKETS.values():
        again = spec_from_json(json.loads(json.dumps(spec_to_json(spec))))
        assert again.tiers == spec.tiers and again.market_array().tolist() == \
            spec.market_array().tolist() and again.mmr_add == spec.mmr_add
