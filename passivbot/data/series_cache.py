"""Cached per-symbol series beside the candles: funding events, mark-price candles, market spec.

Layout, in the candle cache's directory of the symbol (`{cache_dir}/{exchange}/{SYMBOL}/`):

- `funding.npz`: float64 (n, 2) rows (fundingTime ms as the exchange stamped it, rate) and the
  span fetched, `covered` = [start_ms, end_ms): inside it an absent event is known not to exist,
  outside it nothing is known.
- `mark_1h.npz`: float64 (n, 5) 1-hour mark-price candles (open time ms, o, h, l, c), `covered`
  likewise. One hour is the finest funding interval the exchanges use, so the open of the hour
  candle starting at a funding time is the mark at that event, at 1/60 of the 1m download.
- `spec.json`: the market spec (see `passivbot.markets.spec_from_json`).

Why one file per series and not per day as the candles: a year of 8 h funding is 1,095 rows; the
unit of resume is a request page instead (the downloader merges and rewrites after each page, so
a kill loses at most one page). Writes are atomic (temporary file in the same directory, fsync,
os.replace, fsync of the directory); reads verify a crc32 over the arrays, and the file's size is
checked before reading (a symlink to /dev/zero or a huge file is refused, not read).
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from passivbot.data.cache import CandleCache
from passivbot.data.files import atomic_write, read_limited

log = logging.getLogger(__name__)

FUNDING_FILE, MARK_FILE, SPEC_FILE = "funding.npz", "mark_1h.npz", "spec.json"
MARK_TIMEFRAME_MS = 3_600_000
MAX_SERIES_BYTES = 64 << 20  # ten years of 1 h mark candles are ~3.5 MB


def symbol_dir(cache_dir: str | os.PathLike, exchange: str, symbol: str) -> Path:
    """The candle cache's directory of the symbol (validated: it becomes a path)."""
    return CandleCache(cache_dir, exchange, symbol).dir


def _crc(rows: np.ndarray, covered: np.ndarray) -> int:
    return zlib.crc32(covered.tobytes(), zlib.crc32(rows.tobytes()))


class SeriesFile:
    """One cached series: float64 (n, n_cols) rows sorted by time, unique, plus `covered`."""

    def __init__(self, path: Path, n_cols: int) -> None:
        self.path, self.n_cols = path, n_cols

    def read(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """(rows, (start_ms, end_ms)), or None when absent or corrupt (logged as a warning
        naming the file and the check: it is fetched again)."""
        try:
            raw = read_limited(self.path, MAX_SERIES_BYTES)
            if raw is None:
                return None
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                rows, covered, crc = z["rows"], z["covered"], z["crc"]
            problem = self._check(rows, covered, crc)
        except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile) as e:
            problem = f"{type(e).__name__}: {e}"
        if problem:
            log.warning("corrupt cache file %s (%s): it will be fetched again", self.path, problem)
            return None
        return rows, (int(covered[0]), int(covered[1]))

    def _check(self, rows, covered, crc) -> str:
        if rows.dtype != np.float64 or rows.ndim != 2 or rows.shape[1] != self.n_cols:
            return f"expected float64 (n, {self.n_cols}), got {rows.dtype} {rows.shape}"
        if covered.dtype != np.int64 or covered.shape != (2,) or covered[1] < covered[0]:
            return "bad covered span"
        if crc.shape != (1,) or int(crc[0]) != _crc(rows, covered):
            return "checksum mismatch"
        if not np.isfinite(rows).all():
            return "non-finite values"
        if len(rows) > 1 and not np.all(np.diff(rows[:, 0]) > 0):
            return "times not strictly ascending"
        return ""

    def write(self, rows: np.ndarray, covered: tuple[int, int]) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, self.n_cols)
        cov = np.array(covered, dtype=np.int64)
        problem = self._check(rows, cov, np.array([_crc(rows, cov)], dtype=np.uint32))
        if problem:
            raise ValueError(f"{self.path}: {problem}")
        buf = io.BytesIO()
        np.savez(buf, rows=rows, covered=cov, crc=np.array([_crc(rows, cov)], dtype=np.uint32))
        atomic_write(self.path, buf.getvalue())


def funding_file(cache_dir, exchange: str, symbol: str) -> SeriesFile:
    return SeriesFile(symbol_dir(cache_dir, exchange, symbol) / FUNDING_FILE, 2)


def mark_file(cache_dir, exchange: str, symbol: str) -> SeriesFile:
    return SeriesFile(symbol_dir(cache_dir, exchange, symbol) / MARK_FILE, 5)


def merge_rows(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Union of two row sets by time (column 0); on equal times the new row wins."""
    both = np.concatenate([np.asarray(new, dtype=np.float64).reshape(-1, old.shape[1]), old])
    _, idx = np.unique(both[:, 0], return_index=True)  # sorted; first occurrence = new row
    return both[idx]


def read_spec_json(cache_dir, exchange: str, symbol: str) -> dict | None:
    """The stored spec's JSON object, None when absent; OSError/ValueError when unreadable."""
    raw = read_limited(symbol_dir(cache_dir, exchange, symbol) / SPEC_FILE, 1 << 20)
    return None if raw is None else json.loads(raw)


def write_spec_json(cache_dir, exchange: str, symbol: str, obj: dict) -> Path:
    path = symbol_dir(cache_dir, exchange, symbol) / SPEC_FILE
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())
    return path
