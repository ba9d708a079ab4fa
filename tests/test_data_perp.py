"""load_funding: the bundled sample (8 h ETH, 4 h ENA), the cache before it, coverage, marks."""

import gzip
import logging

import numpy as np
import pytest

from passivbot.data.perp import FundingSeries, load_funding
from passivbot.data.series_cache import funding_file, mark_file

H = 3_600_000
MAY5 = 1746403200000  # 2025-05-05 00:00 UTC
MAY10 = MAY5 + 5 * 24 * H


def raw_csv(path: str) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2)


def test_ethusdt_bundled_funding_is_8_hourly_with_the_mark_candle_opens():
    f = load_funding("binance", "ETHUSDT", MAY5, MAY10)
    assert isinstance(f, FundingSeries) and f.source == "bundled"
    assert f.times_ms.dtype == np.int64 and f.rates.dtype == np.float64
    assert len(f) == 15 and f.times_ms[0] == MAY5 and f.times_ms[-1] == MAY10 - 8 * H
    assert set(np.diff(f.times_ms)) == {8 * H}
    assert f.covered_ms == (MAY5, MAY10)
    raw = raw_csv("passivbot/data/bundled/funding/ETHUSDT_funding.csv.gz")
    row = raw[np.argmin(np.abs(raw[:, 0] - MAY5))]
    assert row[0] - MAY5 < 60_000 and f.rates[0] == row[1]  # stamped a few ms past: aligned
    mark = raw_csv("passivbot/data/bundled/mark/ETHUSDT_mark_8h.csv.gz")
    assert f.mark[0] == mark[mark[:, 0] == MAY5][0, 1]
    assert not np.isnan(f.mark).any()


def test_enausdt_bundled_funding_has_4_hour_intervals_and_nan_marks_between_8h_candles():
    f = load_funding("binance", "ENAUSDT", MAY5, MAY10)
    assert len(f) == 30 and set(np.diff(f.times_ms)) == {4 * H}
    on_8h = f.times_ms % (8 * H) == 0
    assert np.isnan(f.mark[~on_8h]).all() and np.isfinite(f.mark[on_8h]).all()
    assert f.mark[on_8h].min() > 0


def test_unknown_symbol_or_span_is_empty_with_source_none():
    f = load_funding("binance", "DOGEUSDT", MAY5, MAY10)
    assert f.source == "none" and len(f) == 0 and f.mark.shape == (0,)
    assert load_funding("binance", "ETHUSDT", 0, 1000).source == "none"


def test_a_span_past_the_sample_returns_what_is_known_with_a_warning(caplog):
    end = 1750723200000 + 24 * H  # a day past the last bundled ETH event
    with caplog.at_level(logging.WARNING):
        f = load_funding("binance", "ETHUSDT", end - 3 * 24 * H, end)
    assert f.source == "bundled" and f.covered_ms[1] < end and "known only" in caplog.text
    assert f.times_ms[-1] == 1750723200000


def test_the_cache_comes_before_the_bundled_sample(tmp_path):
    rows = np.array([[MAY5 + 7, 0.0003], [MAY5 + 4 * H + 2, -0.0001]])
    funding_file(tmp_path, "binance", "ETHUSDT").write(rows, (MAY5, MAY5 + 8 * H))
    mark_file(tmp_path, "binance", "ETHUSDT").write(
        np.array([[MAY5, 1800.5, 1810, 1790, 1805]]), (MAY5, MAY5 + H))
    f = load_funding("binance", "ETHUSDT", MAY5, MAY5 + 8 * H, cache_dir=tmp_path)
    assert f.source == "cache"
    assert f.times_ms.tolist() == [MAY5, MAY5 + 4 * H] and f.rates.tolist() == [0.0003, -0.0001]
    assert f.mark[0] == 1800.5 and np.isnan(f.mark[1])
    # A span the cache does not cover but the sample does: the sample.
    assert load_funding("binance", "ETHUSDT", MAY5, MAY10, cache_dir=tmp_path).source == "bundled"
    # Bybit has no bundled data of its own, the Binance sample stands in.
    assert load_funding("bybit", "ETHUSDT", MAY5, MAY10, cache_dir=tmp_path).source == "bundled"


def test_a_corrupt_cache_file_falls_back_and_is_named(tmp_path, caplog):
    ff = funding_file(tmp_path, "binance", "ETHUSDT")
    ff.write(np.array([[MAY5, 0.0003]]), (MAY5, MAY10))
    raw = bytearray(ff.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ff.path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        f = load_funding("binance", "ETHUSDT", MAY5, MAY10, cache_dir=tmp_path)
    assert f.source == "bundled" and str(ff.path) in caplog.text


@pytest.mark.parametrize("bad", ["dir", "devzero"])
def test_a_funding_file_that_is_a_directory_or_device_is_not_read(tmp_path, caplog, bad):
    ff = funding_file(tmp_path, "binance", "ETHUSDT")
    ff.path.parent.mkdir(parents=True)
    if bad == "dir":
        ff.path.mkdir()
    else:
        ff.path.symlink_to("/dev/zero")
    with caplog.at_level(logging.WARNING):
        assert ff.read() is None
    assert "not a regular file" in caplog.text
