"""The candle cache: one verified file per (exchange, symbol, UTC day).

Layout: `{cache_dir}/{exchange}/{SYMBOL}/YYYY-MM-DD.npy`, each a float64 (k, 6) array
(timestamp ms, open, high, low, close, volume), k = 1440 for a complete day; a day still in
progress (or the last day an exchange has data for) holds its first k minutes and is refreshed.

Why this shape: a day is the unit of resume (a killed download loses at most the day it was
writing), of append (extending a range fetches only the new days) and of repair (a bad file
costs one day). Files are standard `.npy` (np.load reads them) followed by a 16-byte trailer:
`PBC1`, crc32 and byte length of the `.npy` part, so a torn or bit-flipped file is caught on
read. Writes are atomic: temporary file in the same directory, fsync, os.replace, fsync of the
directory, so readers see the old file or the new one, never half of one.

Gap filling: minutes an exchange has no candle for (no trades) become o=h=l=c=previous close
with zero volume, so the replay always has one row a minute; the count is reported.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from passivbot.data.days import MINUTE_MS, MINUTES_PER_DAY, day_start_ms
from passivbot.data.errors import DataError
from passivbot.data.files import atomic_write, read_limited

log = logging.getLogger(__name__)

_MAGIC = b"PBC1"
_TRAILER = struct.Struct("<4sIQ")  # magic, crc32 of the .npy bytes, their length
_STALE_TMP_S = 600.0

# A complete day: .npy header (128) + 1440 x 6 float64 + trailer; anything larger is not ours.
MAX_DAY_BYTES = 4096 + MINUTES_PER_DAY * 48 + _TRAILER.size
COMPLETE, PARTIAL, MISSING, CORRUPT = "complete", "partial", "missing", "corrupt"


class CorruptDayFile(Exception):
    """A day file failed verification; `reason` says which check."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class DayRead:
    """Result of reading one day: status (COMPLETE/PARTIAL/MISSING/CORRUPT) and the rows."""

    day: date
    status: str
    candles: np.ndarray | None = None
    reason: str = ""


def encode_day(candles: np.ndarray) -> bytes:
    """The file's bytes: `.npy` of the float64 (k, 6) array plus the checksum trailer."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(candles, dtype="<f8"), allow_pickle=False)
    data = buf.getvalue()
    return data + _TRAILER.pack(_MAGIC, zlib.crc32(data), len(data))


def decode_day(raw: bytes, day: date, path: Path) -> np.ndarray:
    """Parse and verify one file's bytes; CorruptDayFile names the failed check."""
    if len(raw) < _TRAILER.size + 64:
        raise CorruptDayFile(path, f"too short ({len(raw)} bytes)")
    magic, crc, length = _TRAILER.unpack_from(raw, len(raw) - _TRAILER.size)
    if magic != _MAGIC:
        raise CorruptDayFile(path, "no checksum trailer (truncated or not written by passivbot)")
    if length != len(raw) - _TRAILER.size:
        raise CorruptDayFile(path, f"size {len(raw) - _TRAILER.size} != recorded {length}")
    body = memoryview(raw)[:length]
    if zlib.crc32(body) != crc:
        raise CorruptDayFile(path, "checksum mismatch")
    try:
        f = io.BytesIO(body)
        version = np.lib.format.read_magic(f)
        if version != (1, 0):
            raise ValueError(f"npy version {version}")
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    except ValueError as e:
        raise CorruptDayFile(path, f"bad npy header ({e})") from None
    if dtype != np.dtype("<f8") or fortran or len(shape) != 2 or shape[1] != 6:
        raise CorruptDayFile(path, f"expected float64 (k, 6), got {dtype} {shape}")
    k = shape[0]
    if not 1 <= k <= MINUTES_PER_DAY or f.tell() + k * 48 != length:
        raise CorruptDayFile(path, f"bad row count {k}")
    arr = np.frombuffer(body, dtype="<f8", count=k * 6, offset=f.tell()).reshape(k, 6)
    problem = check_candles(arr, day_start_ms(day))
    if problem:
        raise CorruptDayFile(path, problem)
    return arr


def check_candles(arr: np.ndarray, start_ms: int) -> str:
    """'' if `arr` is a valid run of minutes from `start_ms`, else what is wrong (vectorized)."""
    ts = arr[:, 0]
    if ts[0] != start_ms:
        return f"first timestamp {ts[0]:.0f} != day start {start_ms}"
    if len(ts) > 1 and not np.all(np.diff(ts) == MINUTE_MS):
        return "timestamps not one minute apart"
    if not np.isfinite(arr).all():
        return "non-finite values"
    if not (np.all(arr[:, 3] > 0) and np.all(arr[:, 5] >= 0)):
        return "invalid prices or volume (price <= 0 or volume < 0)"
    hi_oc, lo_oc = np.maximum(arr[:, 1], arr[:, 4]), np.minimum(arr[:, 1], arr[:, 4])
    bad = (arr[:, 2] < hi_oc) | (arr[:, 3] > lo_oc)
    if bad.any():
        i = int(np.argmax(bad))
        return (f"{int(bad.sum())} row(s) cannot be candles (high below open/close or low above "
                f"them), first at ts {arr[i, 0]:.0f}: o={arr[i, 1]} h={arr[i, 2]} l={arr[i, 3]} "
                f"c={arr[i, 4]}")
    return ""


EXTREME_RANGE = 0.5  # (high - low) / open above this in one minute: warn, never seen on majors


def extreme_rows(arr: np.ndarray) -> int:
    """Minutes whose range exceeds EXTREME_RANGE of the open: real flash crashes exist, so they
    are kept, but a 50 x wick replays as a liquidation and deserves a look (warned on read)."""
    return int(((arr[:, 2] - arr[:, 3]) > EXTREME_RANGE * arr[:, 1]).sum())


def fill_gaps(rows: np.ndarray, start_ms: int, n_minutes: int,
              prev_close: float | None = None) -> tuple[np.ndarray, int]:
    """Exactly `n_minutes` candles from `start_ms`: rows as given, missing minutes filled.

    `rows` are exchange candles (any order, duplicates: the last wins; rows outside the window
    are dropped). A missing minute becomes o=h=l=c=previous close, volume 0; before the first
    row, the previous close is `prev_close` (the previous day's last close) or, without it, the
    first row's open. Returns (candles, number of filled minutes). `rows` must not be empty
    unless `prev_close` is given.
    """
    out = np.zeros((n_minutes, 6))
    out[:, 0] = start_ms + MINUTE_MS * np.arange(n_minutes, dtype=np.float64)
    if n_minutes == 0:
        return out, 0
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    idx = (rows[:, 0] - start_ms) // MINUTE_MS
    keep = (idx >= 0) & (idx < n_minutes) & ((rows[:, 0] - start_ms) % MINUTE_MS == 0)
    rows, idx = rows[keep], idx[keep].astype(np.int64)
    have = np.zeros(n_minutes, dtype=bool)
    out[idx, 1:] = rows[:, 1:]
    have[idx] = True
    n_filled = int(n_minutes - have.sum())
    if n_filled == 0:
        return out, 0
    if not have.any() and prev_close is None:
        raise ValueError("no candles and no previous close to fill from")
    # Index of the last present row at or before each minute (-1: none yet).
    last = np.maximum.accumulate(np.where(have, np.arange(n_minutes), -1))
    first_price = prev_close if prev_close is not None else float(rows[np.argmin(idx), 1])
    closes = np.where(last >= 0, out[np.maximum(last, 0), 4], first_price)
    missing = ~have
    out[missing, 1:5] = closes[missing, None]
    out[missing, 5] = 0.0
    return out, n_filled


SYMBOL_RE = re.compile(r"[A-Z0-9]{2,20}(USDT|USDC)")


def check_symbol(symbol: str) -> str:
    """`symbol` if it is an exchange id such as ETHUSDT (2-20 capitals or digits, then USDT or
    USDC), else DataError: the id becomes a cache directory name, so nothing else may pass
    (`../../x` would write outside the cache)."""
    if not isinstance(symbol, str) or not SYMBOL_RE.fullmatch(symbol):
        raise DataError(f"symbol {symbol!r}: expected an exchange symbol id such as ETHUSDT "
                        "(2-20 capital letters or digits followed by USDT or USDC)")
    return symbol


class CandleCache:
    """The cache directory of one (exchange, symbol): read, verify and atomically write days."""

    def __init__(self, cache_dir: str | os.PathLike, exchange: str, symbol: str) -> None:
        if exchange not in ("binance", "bybit"):
            raise DataError(f"exchange {exchange!r}: expected binance or bybit")
        self.exchange, self.symbol = exchange, check_symbol(symbol)
        self.dir = Path(cache_dir) / exchange / symbol

    def path(self, day: date) -> Path:
        return self.dir / f"{day.isoformat()}.npy"

    def read(self, day: date) -> DayRead:
        """The day's rows and status. A file that fails verification is logged as a warning
        (naming the file and the check) and reported CORRUPT, i.e. to be fetched again."""
        path = self.path(day)
        try:
            raw = read_limited(path, MAX_DAY_BYTES)
            if raw is None:
                return DayRead(day, MISSING)
            arr = decode_day(raw, day, path)
        except (CorruptDayFile, OSError) as e:
            reason = e.reason if isinstance(e, CorruptDayFile) else f"{type(e).__name__}: {e}"
            log.warning("corrupt candle cache file %s (%s): it will be fetched again", path,
                        reason)
            return DayRead(day, CORRUPT, reason=reason)
        n = extreme_rows(arr)
        if n:
            log.warning("candle cache file %s: %d minute(s) range over %.0f%% of their open "
                        "(flash crash or bad data: check before trusting a liquidation)", path, n,
                        EXTREME_RANGE * 100)
        return DayRead(day, COMPLETE if len(arr) == MINUTES_PER_DAY else PARTIAL, arr)

    def write(self, day: date, candles: np.ndarray) -> Path:
        """Write one day atomically (tmp file in the same dir, fsync, os.replace, fsync dir).

        Verifies first, so the cache never holds a file its own reader would reject.
        """
        candles = np.asarray(candles, dtype=np.float64)
        if candles.ndim != 2 or candles.shape[1] != 6 or not 1 <= len(candles) <= MINUTES_PER_DAY:
            raise ValueError(f"day {day}: expected (1..1440, 6) candles, got {candles.shape}")
        problem = check_candles(candles, day_start_ms(day))
        if problem:
            raise ValueError(f"day {day}: {problem}")
        path = self.path(day)
        if path.is_dir() and not path.is_symlink():
            raise DataError(f"candle cache: {path} is a directory where a day file belongs; "
                            "remove it and run again")
        atomic_write(path, encode_day(candles))
        return path

    def clean_stale_tmp(self, older_than_s: float = _STALE_TMP_S) -> int:
        """Remove temporary files left by killed writers (old enough not to be in use)."""
        if not self.dir.is_dir():
            return 0
        now, n = time.time(), 0
        for p in self.dir.glob(".*.tmp"):
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n
