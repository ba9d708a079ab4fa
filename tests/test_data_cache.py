"""The per-day candle cache: round trip, verification of every failure mode, atomic writes,
and gap filling."""

import logging
import os
from datetime import date

import numpy as np
import pytest

from passivbot.data.cache import (
    COMPLETE, CORRUPT, MISSING, PARTIAL, CandleCache, encode_day, fill_gaps,
)
from passivbot.data.errors import DataError
from passivbot.data.days import day_start_ms, format_day_ranges, parse_day
from passivbot.data.synthetic import synthetic_candles

DAY = date(2024, 1, 2)


@pytest.fixture
def day_candles():
    return synthetic_candles(1440, seed=5, start_ts=day_start_ms(DAY))


@pytest.fixture
def cache(tmp_path):
    return CandleCache(tmp_path, "binance", "ETHUSDT")


def test_round_trip_is_exact_and_the_file_is_plain_npy(cache, day_candles):
    path = cache.write(DAY, day_candles)
    assert path == cache.dir / "2024-01-02.npy"
    got = cache.read(DAY)
    assert got.status == COMPLETE and np.array_equal(got.candles, day_candles)
    assert np.array_equal(np.load(path), day_candles)  # any numpy can read the cache
    assert [p.name for p in cache.dir.iterdir()] == ["2024-01-02.npy"]  # no tmp left


def test_missing_and_partial_days_are_reported_as_such(cache, day_candles):
    assert cache.read(DAY).status == MISSING
    cache.write(DAY, day_candles[:600])
    got = cache.read(DAY)
    assert got.status == PARTIAL and len(got.candles) == 600


def _corrupt_truncate(raw):
    return raw[: len(raw) // 2]


def _corrupt_flip_volume_byte(raw):
    b = bytearray(raw)
    b[-16 - 3] ^= 0x01  # inside the last row's volume: structurally still a fine array
    return bytes(b)


def _corrupt_garbage(raw):
    return b"\x00" * len(raw)


def _corrupt_drop_trailer(raw):
    return raw[:-16]


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip_volume_byte,
                                     _corrupt_garbage, _corrupt_drop_trailer])
def test_corrupt_file_is_detected_and_warned_about_by_name(cache, day_candles, caplog, corrupt):
    path = cache.write(DAY, day_candles)
    path.write_bytes(corrupt(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="passivbot.data.cache"):
        got = cache.read(DAY)
    assert got.status == CORRUPT and got.candles is None
    assert str(path) in caplog.text


def test_file_for_another_day_is_rejected(cache, day_candles):
    cache.write(DAY, day_candles)
    os.replace(cache.path(DAY), cache.path(date(2024, 1, 3)))
    got = cache.read(date(2024, 1, 3))
    assert got.status == CORRUPT and "day start" in got.reason


def test_write_refuses_invalid_candles(cache, day_candles):
    bad = day_candles.copy()
    bad[10, 0] += 60_000  # a duplicate minute
    with pytest.raises(ValueError, match="one minute apart"):
        cache.write(DAY, bad)
    bad = day_candles.copy()
    bad[5, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        cache.write(DAY, bad)
    assert cache.read(DAY).status == MISSING


def test_failed_write_keeps_the_old_file_and_leaves_no_tmp(cache, day_candles, monkeypatch):
    cache.write(DAY, day_candles)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        cache.write(DAY, day_candles[:100])
    monkeypatch.undo()
    got = cache.read(DAY)
    assert got.status == COMPLETE and np.array_equal(got.candles, day_candles)
    assert [p.name for p in cache.dir.iterdir()] == ["2024-01-02.npy"]


def test_stale_tmp_files_are_cleaned(cache, day_candles):
    cache.write(DAY, day_candles)
    stale = cache.dir / ".2024-01-03.npy.abc.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    assert cache.clean_stale_tmp() == 1 and not stale.exists()


def test_fill_gaps_uses_previous_close_and_zero_volume():
    start = day_start_ms(DAY)
    rows = np.array([
        [start + 0 * 60_000, 10, 11, 9, 10.5, 3],
        [start + 3 * 60_000, 10.7, 12, 10, 11, 4],  # minutes 1, 2 missing
    ], dtype=float)
    out, n = fill_gaps(rows, start, 5)
    assert n == 3  # minutes 1, 2 and 4
    assert np.array_equal(out[:, 0], start + 60_000 * np.arange(5))
    assert np.array_equal(out[1], [start + 60_000, 10.5, 10.5, 10.5, 10.5, 0])
    assert np.array_equal(out[2, 1:], [10.5, 10.5, 10.5, 10.5, 0])
    assert np.array_equal(out[3], rows[1])
    assert np.array_equal(out[4, 1:], [11, 11, 11, 11, 0])


def test_fill_gaps_leading_minutes_use_prev_close_or_first_open():
    start = day_start_ms(DAY)
    rows = np.array([[start + 2 * 60_000, 10, 11, 9, 10.5, 3]], dtype=float)
    out, n = fill_gaps(rows, start, 3, prev_close=9.5)
    assert n == 2 and np.all(out[:2, 1:5] == 9.5) and np.all(out[:2, 5] == 0)
    out, _ = fill_gaps(rows, start, 3)
    assert np.all(out[:2, 1:5] == 10.0)


def test_fill_gaps_keeps_last_duplicate_and_drops_rows_outside_window():
    start = day_start_ms(DAY)
    rows = np.array([
        [start - 60_000, 1, 1, 1, 1, 1],
        [start, 10, 11, 9, 10.5, 3],
        [start, 10, 12, 9, 10.6, 4],
        [start + 60_000, 10.6, 11, 10, 10.8, 1],
        [start + 2 * 60_000, 99, 99, 99, 99, 99],
    ], dtype=float)
    out, n = fill_gaps(rows, start, 2)
    assert n == 0 and out.shape == (2, 6) and out[0, 4] == 10.6


def test_day_helpers():
    assert parse_day("2024-03-01") == date(2024, 3, 1)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("03/01/2024")
    assert day_start_ms(date(2024, 1, 1)) == 1_704_067_200_000
    days = [date(2024, 1, d) for d in (1, 2, 3, 5, 7, 8)]
    assert format_day_ranges(days) == "2024-01-01..2024-01-03, 2024-01-05, 2024-01-07..2024-01-08"


# -- hardening: what cannot be a candle, extreme ranges, files that are not files -----------

@pytest.mark.parametrize("col, factor, what", [(2, 0.999, "high below"), (3, 1.001, "low above")])
def test_rows_that_cannot_be_candles_are_refused_on_write_and_on_read(cache, day_candles, col,
                                                                      factor, what):
    bad = day_candles.copy()
    bad[7, col] = max(bad[7, 1], bad[7, 4]) * factor if col == 2 else \
        min(bad[7, 1], bad[7, 4]) * factor
    with pytest.raises(ValueError, match="cannot be candles"):
        cache.write(DAY, bad)
    cache.dir.mkdir(parents=True)
    cache.path(DAY).write_bytes(encode_day(bad))  # a valid checksum around a bad row
    got = cache.read(DAY)
    assert got.status == CORRUPT and "cannot be candles" in got.reason
    assert f"ts {bad[7, 0]:.0f}" in got.reason


def test_an_extreme_range_is_kept_but_warned_about(cache, day_candles, caplog):
    wick = day_candles.copy()
    wick[100, 3] = wick[100, 1] / 50  # a 50 x wick down
    path = cache.write(DAY, wick)
    with caplog.at_level(logging.WARNING, logger="passivbot.data.cache"):
        got = cache.read(DAY)
    assert got.status == COMPLETE and np.array_equal(got.candles, wick)
    assert str(path) in caplog.text and "1 minute(s)" in caplog.text
    caplog.clear()
    cache.write(DAY, day_candles)
    with caplog.at_level(logging.WARNING, logger="passivbot.data.cache"):
        assert cache.read(DAY).status == COMPLETE
    assert caplog.text == ""


def test_a_directory_in_place_of_a_day_file_is_corrupt_and_not_overwritten(cache, day_candles,
                                                                          caplog):
    cache.path(DAY).mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="passivbot.data.cache"):
        got = cache.read(DAY)
    assert got.status == CORRUPT and "not a regular file" in got.reason
    assert str(cache.path(DAY)) in caplog.text
    with pytest.raises(DataError, match="is a directory"):
        cache.write(DAY, day_candles)


def test_a_day_file_symlinked_to_dev_zero_is_never_read(cache, monkeypatch):
    cache.dir.mkdir(parents=True)
    cache.path(DAY).symlink_to("/dev/zero")

    def no_open(*a, **k):
        raise AssertionError("opened a device")

    monkeypatch.setattr("builtins.open", no_open)
    got = cache.read(DAY)
    assert got.status == CORRUPT and "not a regular file" in got.reason


def test_a_file_larger_than_any_day_is_not_read(cache, monkeypatch):
    cache.dir.mkdir(parents=True)
    with open(cache.path(DAY), "wb") as f:
        f.truncate(1 << 30)  # sparse: 1 GiB on paper, nothing on disk
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("read a huge file"))
    got = cache.read(DAY)
    assert got.status == CORRUPT and "more than" in got.reason


def test_any_os_error_reading_a_day_is_reported_corrupt(cache, day_candles, monkeypatch):
    cache.write(DAY, day_candles)

    def eio(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("builtins.open", eio)
    got = cache.read(DAY)
    assert got.status == CORRUPT and "Input/output error" in got.reason
