"""Binance public archive import: both CSV header styles, µs timestamps, checksum, gaps."""

import hashlib
import zipfile
from datetime import date

import numpy as np
import pytest

from passivbot.data.archive import import_archives
from passivbot.data.cache import COMPLETE, CandleCache
from passivbot.data.days import day_start_ms
from passivbot.data.errors import DataError
from passivbot.data.loader import load_candles

HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
          "taker_buy_volume,taker_buy_quote_volume,ignore\n")


def make_candles(day: date, n_days: int) -> np.ndarray:
    n = 1440 * n_days
    rng = np.random.default_rng(day.toordinal())
    c = np.round(2000 + np.cumsum(rng.normal(0, 1, n)), 2)
    o = np.concatenate([[2000.0], c[:-1]])
    arr = np.column_stack([day_start_ms(day) + 60_000 * np.arange(n), o,
                           np.round(np.maximum(o, c) + 0.5, 2),
                           np.round(np.minimum(o, c) - 0.5, 2), c,
                           np.round(rng.uniform(1, 100, n), 3)])
    return arr


def write_zip(path, arr, header: bool, micros: bool = False, checksum: str | None = None):
    lines = []
    for r in arr:
        t = int(r[0]) * (1000 if micros else 1)
        close_t = t + (60_000_000 - 1 if micros else 59_999)
        lines.append(f"{t},{r[1]:.2f},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.3f},{close_t},"
                     f"{r[5] * r[4]:.5f},12,1.0,2000.0,0")
    text = (HEADER if header else "") + "\n".join(lines) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(path.name.replace(".zip", ".csv"), text)
    if checksum == "good":
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".CHECKSUM").write_text(f"{digest}  {path.name}\n")
    elif checksum == "bad":
        path.with_name(path.name + ".CHECKSUM").write_text(f"{'0' * 64}  {path.name}\n")
    return path


@pytest.mark.parametrize("header,micros", [(True, False), (False, False), (True, True),
                                           (False, True)])
def test_import_daily_zips_into_the_cache_exactly(tmp_path, header, micros):
    arr = make_candles(date(2024, 2, 1), 2)
    z1 = write_zip(tmp_path / "ETHUSDT-1m-2024-02-01.zip", arr[:1440], header, micros, "good")
    z2 = write_zip(tmp_path / "ETHUSDT-1m-2024-02-02.zip", arr[1440:], header, micros)
    s = import_archives([z1, z2], cache_dir=tmp_path / "c")
    assert s.symbols == {"ETHUSDT"} and s.checksums_verified == 1
    assert s.days_written == [date(2024, 2, 1), date(2024, 2, 2)] and s.candles == 2880
    got = load_candles("binance", "ETHUSDT", "2024-02-01", "2024-02-03",
                       cache_dir=tmp_path / "c", download=False)
    assert np.array_equal(got, arr)


def test_monthly_zip_with_gaps_fills_and_counts_them(tmp_path):
    arr = make_candles(date(2024, 2, 1), 3)
    holes = [10, 11, 1440 + 5]
    z = write_zip(tmp_path / "BTCUSDT-1m-2024-02.zip", np.delete(arr, holes, axis=0), True)
    s = import_archives([z], cache_dir=tmp_path)
    assert s.gaps == {date(2024, 2, 1): 2, date(2024, 2, 2): 1}
    cache = CandleCache(tmp_path, "binance", "BTCUSDT")
    day1 = cache.read(date(2024, 2, 1))
    assert day1.status == COMPLETE
    assert np.all(day1.candles[10:12, 1:5] == arr[9, 4]) and np.all(day1.candles[10:12, 5] == 0)


def test_bad_checksum_is_refused_and_nothing_written(tmp_path):
    z = write_zip(tmp_path / "ETHUSDT-1m-2024-02-01.zip", make_candles(date(2024, 2, 1), 1),
                  True, checksum="bad")
    with pytest.raises(DataError, match="sha256"):
        import_archives([z], cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_bad_names_and_existing_days_are_handled(tmp_path):
    with pytest.raises(DataError, match="archive name"):
        import_archives([tmp_path / "ETHUSDT-5m-2024-02.zip"], cache_dir=tmp_path)
    z = write_zip(tmp_path / "ETHUSDT-1m-2024-02-01.zip", make_candles(date(2024, 2, 1), 1), True)
    import_archives([z], cache_dir=tmp_path)
    again = import_archives([z], cache_dir=tmp_path)
    assert again.days_skipped == [date(2024, 2, 1)] and again.days_written == []
