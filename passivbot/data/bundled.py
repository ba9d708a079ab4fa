"""The bundled sample candles: real Binance USDT-M 1m candles shipped with the package, so the
main job and the tests run on a fresh machine with no exchange access (provenance and checksums
in bundled/README.md)."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

BUNDLED_DIR = Path(__file__).with_name("bundled")
BUNDLED_SYMBOLS = ("ETHUSDT", "BTCUSDT")


def bundled_path(symbol: str) -> Path:
    return BUNDLED_DIR / f"{symbol}_1m.csv.gz"


@functools.lru_cache(maxsize=4)
def _load(symbol: str) -> np.ndarray:
    path = bundled_path(symbol)
    with gzip.open(path, "rt") as f:
        arr = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def load_bundled(symbol: str) -> np.ndarray:
    """Candles float64 (n, 6): timestamp ms, open, high, low, close, volume; one row a minute.

    Returns a read-only array shared between callers (copy before writing).
    """
    if symbol not in BUNDLED_SYMBOLS:
        raise KeyError(f"no bundled candles for {symbol!r} (bundled: {', '.join(BUNDLED_SYMBOLS)})")
    return _load(symbol)
