"""The bundled sample: real Binance USDT-M 1m candles of 13 symbols, with their funding history and
8 h mark prices, shipped with the package so the main job and the tests run on a fresh machine
with no exchange access (provenance and checksums in bundled/README.md)."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

BUNDLED_DIR = Path(__file__).with_name("bundled")
BUNDLED_SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BCHUSDT", "BNBUSDT", "BTCUSDT", "ENAUSDT", "ETCUSDT",
                   "ETHUSDT", "LINKUSDT", "LTCUSDT", "SOLUSDT", "XLMUSDT", "XRPUSDT")


def bundled_path(symbol: str) -> Path:
    return BUNDLED_DIR / f"{symbol}_1m.csv.gz"


def _read_csv_gz(path: Path, n_cols: int) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        arr = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if arr.shape[1] != n_cols:
        raise ValueError(f"{path}: expected {n_cols} columns, got {arr.shape[1]}")
    arr.setflags(write=False)
    return arr


@functools.lru_cache(maxsize=4)
def _load(symbol: str) -> np.ndarray:
    return _read_csv_gz(bundled_path(symbol), 6)


def _check(symbol: str) -> None:
    if symbol not in BUNDLED_SYMBOLS:
        raise KeyError(f"no bundled data for {symbol!r} (bundled: {', '.join(BUNDLED_SYMBOLS)})")


def load_bundled(symbol: str) -> np.ndarray:
    """Candles float64 (n, 6): timestamp ms, open, high, low, close, volume; one row a minute.

    Returns a read-only array shared between callers (copy before writing).
    """
    _check(symbol)
    return _load(symbol)


@functools.lru_cache(maxsize=16)
def load_bundled_funding(symbol: str) -> np.ndarray:
    """Funding events float64 (n, 2): fundingTime ms (as the exchange stamped it), rate."""
    _check(symbol)
    return _read_csv_gz(BUNDLED_DIR / "funding" / f"{symbol}_funding.csv.gz", 2)


@functools.lru_cache(maxsize=16)
def load_bundled_mark(symbol: str) -> np.ndarray:
    """8 h mark-price candles float64 (n, 5): open time ms, open, high, low, close."""
    _check(symbol)
    return _read_csv_gz(BUNDLED_DIR / "mark" / f"{symbol}_mark_8h.csv.gz", 5)
