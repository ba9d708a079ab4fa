"""downloader.py as a user runs it: bad arguments exit 2 with a message (no traceback), and an
archive import prints its summary."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np

from passivbot.data.loader import load_candles
from tests.test_data_archive import make_candles, write_zip

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "downloader.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_bad_arguments_exit_2_with_a_message_and_no_traceback():
    for args, expect in [
        (["--symbol", "ETHUSDT", "--start-date", "2024-13-01", "--end-date", "2024-03-01"],
         "not a date"),
        (["--symbol", "ETH", "--start-date", "2024-01-01", "--end-date", "2024-03-01"],
         "expected an exchange symbol id such as ETHUSDT"),
        (["--symbol", "eth/usdt", "--start-date", "2024-01-01", "--end-date", "2024-03-01"],
         "expected an exchange symbol id"),
        (["--symbol", "ETHUSDT"], "missing --start-date, --end-date"),
        (["--exchange", "kraken"], "invalid choice"),
        (["--symbol", "ETHUSDT", "--start-date", "2024-03-01", "--end-date", "2024-01-01"],
         "must be after"),
    ]:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert expect in r.stderr and "Traceback" not in r.stderr


def test_a_symbol_that_is_a_path_is_refused_and_nothing_is_written_outside(tmp_path):
    cache = tmp_path / "a" / "b" / "caches"
    cache.mkdir(parents=True)
    for sym in ("../../../xUSDT", "ETHUSDT/..", "A" * 21 + "USDT"):
        r = run("--symbol", sym, "--start-date", "2024-01-01", "--end-date", "2024-01-02",
                "--cache-dir", str(cache), "--emulator", "127.0.0.1:9", "--no-progress")
        assert r.returncode == 2, (sym, r.stderr)
        assert "expected an exchange symbol id" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "caches"]


def test_import_archive_prints_summary_and_fills_the_cache(tmp_path):
    arr = make_candles(date(2024, 3, 1), 1)
    z = write_zip(tmp_path / "ETHUSDT-1m-2024-03-01.zip", arr, header=True, checksum="good")
    r = run("--import-archive", str(z), "--cache-dir", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    assert "1 checksum(s) verified" in r.stdout and "1 days, 1440 candles" in r.stdout
    got = load_candles("binance", "ETHUSDT", "2024-03-01", "2024-03-02",
                       cache_dir=str(tmp_path / "c"), download=False)
    assert np.array_equal(got, arr)
