"""Import Binance public data archive zips (data.binance.vision, USDT-M futures klines) into the
candle cache, for users who downloaded history by hand (much faster than the REST API).

Accepted files: `SYMBOL-1m-YYYY-MM.zip` (monthly) or `SYMBOL-1m-YYYY-MM-DD.zip` (daily), each
holding one CSV with columns open_time, open, high, low, close, volume, close_time,
quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore; with or without a header
row (Binance added one in 2022); open_time in ms, or µs (newer files). A `.CHECKSUM` file next
to the zip (`<sha256>  <name>`, as Binance publishes it) is verified when present.
The symbol comes from the file name; the exchange is binance.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from passivbot.data.cache import COMPLETE, CandleCache, fill_gaps
from passivbot.data.days import DAY_MS, MINUTES_PER_DAY, day_of_ms, day_start_ms, format_day_ranges
from passivbot.data.errors import DataError

_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-1m-(?P<period>\d{4}-\d{2}(?:-\d{2})?)\.zip$")
_US_THRESHOLD = 10**14  # open_time above this is in microseconds (ms reach 1e14 in 5138 AD)


@dataclass
class ImportSummary:
    """What an archive import wrote to the cache."""

    files: list[str] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)
    days_written: list[date] = field(default_factory=list)
    days_skipped: list[date] = field(default_factory=list)  # already complete in the cache
    candles: int = 0
    gaps: dict[date, int] = field(default_factory=dict)
    checksums_verified: int = 0

    def format(self) -> str:
        gap_total = sum(self.gaps.values())
        return "\n".join([
            f"imported {len(self.files)} archive file(s) for {', '.join(sorted(self.symbols))} "
            f"({self.checksums_verified} checksum(s) verified)",
            f"  written:    {len(self.days_written)} days, {self.candles} candles"
            + (f" ({format_day_ranges(self.days_written)})" if self.days_written else ""),
            f"  skipped:    {len(self.days_skipped)} days already complete in the cache",
            f"  gaps:       {gap_total} minutes filled with the previous close",
        ])


def verify_checksum(path: Path) -> bool:
    """True if `path.CHECKSUM` exists and matches; False if absent; DataError on mismatch."""
    ck = path.with_name(path.name + ".CHECKSUM")
    if not ck.is_file():
        return False
    parts = ck.read_text().split()
    if not parts or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
        raise DataError(f"{ck}: not a sha256 checksum file")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != parts[0].lower():
        raise DataError(f"{path}: sha256 {h.hexdigest()} does not match {ck} ({parts[0]}); "
                        "the download is corrupt, fetch it again")
    return True


def read_archive_csv(data: bytes) -> np.ndarray:
    """The klines CSV as float64 (n, 6) [open_time ms, o, h, l, c, v], sorted by time."""
    text = data.decode("ascii", errors="replace")
    first = text.lstrip()[:1]
    skip = 0 if first.isdigit() else 1  # header row ("open_time,open,...") or not
    try:
        arr = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, usecols=range(6),
                         dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise DataError(f"not a Binance klines CSV: {e}") from None
    if len(arr) and arr[0, 0] > _US_THRESHOLD:
        arr[:, 0] = np.floor_divide(arr[:, 0], 1000)
    return arr[np.argsort(arr[:, 0], kind="stable")]


def import_archives(paths: list[str | Path], *, cache_dir: str = "caches",
                    overwrite: bool = False) -> ImportSummary:
    """Import each zip into `{cache_dir}/binance/{SYMBOL}/`; complete days only are written
    (gaps inside a day filled with the previous close, counted). Days already complete in the
    cache are kept unless `overwrite`. DataError for a bad name, checksum or CSV."""
    summary = ImportSummary()
    for p in sorted(Path(x) for x in paths):
        m = _NAME.match(p.name)
        if not m:
            raise DataError(f"{p}: not a Binance 1m klines archive name "
                            "(expected SYMBOL-1m-YYYY-MM.zip or SYMBOL-1m-YYYY-MM-DD.zip)")
        if not p.is_file():
            raise DataError(f"{p}: no such file")
        if verify_checksum(p):
            summary.checksums_verified += 1
        try:
            with zipfile.ZipFile(p) as z:
                csvs = [n for n in z.namelist() if n.endswith(".csv")]
                if len(csvs) != 1:
                    raise DataError(f"{p}: expected one .csv inside, found {len(csvs)}")
                rows = read_archive_csv(z.read(csvs[0]))
        except zipfile.BadZipFile as e:
            raise DataError(f"{p}: not a valid zip ({e})") from None
        symbol = m["symbol"]
        summary.files.append(str(p))
        summary.symbols.add(symbol)
        _write_days(CandleCache(cache_dir, "binance", symbol), rows, summary, overwrite)
    return summary


def _write_days(cache: CandleCache, rows: np.ndarray, summary: ImportSummary,
                overwrite: bool) -> None:
    if len(rows) == 0:
        return
    days = (rows[:, 0] // DAY_MS).astype(np.int64)
    bounds = np.flatnonzero(np.diff(days)) + 1
    prev_close: float | None = None
    for chunk in np.split(rows, bounds):
        day = day_of_ms(chunk[0, 0])
        candles, n_gaps = fill_gaps(chunk, day_start_ms(day), MINUTES_PER_DAY, prev_close)
        prev_close = float(candles[-1, 4])
        if not overwrite and cache.read(day).status == COMPLETE:
            summary.days_skipped.append(day)
            continue
        try:
            cache.write(day, candles)
        except ValueError as e:
            raise DataError(f"archive rows of {cache.symbol} on {day}: {e}") from None
        summary.days_written.append(day)
        summary.candles += len(candles) - n_gaps
        if n_gaps:
            summary.gaps[day] = n_gaps
