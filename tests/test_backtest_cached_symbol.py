"""A symbol the downloader stored (candles, the exchange's market spec, funding and mark prices)
but that the bundled snapshot does not know is backtested from the cache alone: its stored
spec, its cached funding charged at the cached mark, or at the candle's open where the cache
has no mark candle at the event (as the bundled 8 h marks leave ENA's 4 h events)."""

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from passivbot.backtest.runner import backtest_live_config, cache_dir_of
from passivbot.config import load_backtest_config, load_live_config
from passivbot.data.bundled import load_bundled
from passivbot.data.cache import CandleCache
from passivbot.data.series_cache import funding_file, mark_file
from passivbot.markets import MarketSpecError, market_spec, spec_to_json, stored_spec_path
from passivbot.records import KIND_FUNDING

SYM = "DOGEUSDT"  # not in the bundled snapshot
DAY0 = dt.date(2025, 5, 10)
DAY_MS = 86_400_000
H = 3_600_000
ROOT = Path(__file__).resolve().parents[1]


def _day_ms(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """Two days of ADA's bundled candles stored as DOGEUSDT under ./caches, with a spec and
    two funding events on day 2 (past the EMA warm-up, a position open): 08:00 (long) with a
    mark candle, 20:00 (short) without."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "caches"
    ada = load_bundled("ADAUSDT")
    cache = CandleCache(root, "binance", SYM)
    for k in range(2):
        s = _day_ms(DAY0) + k * DAY_MS
        cache.write(DAY0 + dt.timedelta(days=k), ada[(ada[:, 0] >= s) & (ada[:, 0] < s + DAY_MS)])
    obj = spec_to_json(market_spec("binance", "ADAUSDT"))
    obj.update(symbol=SYM, base="DOGE")
    p = stored_spec_path(root, "binance", SYM)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj))
    t1, t2 = _day_ms(DAY0) + DAY_MS + 8 * H, _day_ms(DAY0) + DAY_MS + 20 * H
    funding_file(root, "binance", SYM).write(
        np.array([[t1 + 3, 0.001], [t2 + 5, -0.002]]), (_day_ms(DAY0), _day_ms(DAY0) + 2 * DAY_MS))
    mark_file(root, "binance", SYM).write(np.array([[t1, 0.9, 0.91, 0.89, 0.9]]), (t1, t1 + H))
    bt = load_backtest_config(ROOT / "backtest_configs" / "demo.json", root=ROOT)
    bt = replace(bt, symbol=SYM, symbols=(SYM,), data_source="cache", start_date=DAY0,
                 end_date=DAY0 + dt.timedelta(days=2))
    return bt, ada, (t1, t2)


def test_a_cached_symbol_outside_the_snapshot_backtests_with_its_cached_funding(cached):
    bt, ada, (t1, t2) = cached
    assert cache_dir_of(bt) == "caches"
    cfg = replace(load_live_config(ROOT / "live_settings" / "ETH-J1.json"), symbol=SYM)
    res = backtest_live_config(cfg, bt)
    info = res.candles_info
    assert info["n_candles"] == 2880 and info["funding_source"] == "cache"
    assert info["funding_events"] == 2 and res.stats["funding_modelled"] == 1.0
    rows = res.fills[res.fills["kind"] == KIND_FUNDING]
    assert set(rows["timestamp"].tolist()) == {t1, t2} and set(rows["side"].tolist()) == {1, -1}
    open_t2 = ada[ada[:, 0] == t2][0, 1]
    for r in rows:
        mark, rate = (0.9, 0.001) if r["timestamp"] == t1 else (open_t2, -0.002)
        assert r["price"] == mark
        assert r["pnl"] == pytest.approx(-r["side"] * r["psize"] * mark * rate, rel=1e-12)


def test_without_the_stored_spec_the_error_names_the_downloader(cached, tmp_path):
    bt, _, _ = cached
    stored_spec_path(tmp_path / "caches", "binance", SYM).unlink()
    cfg = replace(load_live_config(ROOT / "live_settings" / "ETH-J1.json"), symbol=SYM)
    with pytest.raises(MarketSpecError, match=f"no market spec for binance:{SYM}"):
        backtest_live_config(cfg, bt)
