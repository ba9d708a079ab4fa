"""Market data: 1m candles (per-day cache and downloader, bundled sample, synthetic generator),
funding history with mark prices, and the downloader's stored market specs.

See docs/data.md. Candles everywhere: float64 (n, 6) timestamp ms (open, UTC), open, high, low,
close, volume; one row a minute, contiguous.
"""

from passivbot.data.bundled import BUNDLED_SYMBOLS, load_bundled
from passivbot.data.errors import DataError
from passivbot.data.loader import (
    DATA_SOURCES, bundled_range, check_contiguous, load_candles, load_source,
)
from passivbot.data.perp import FundingSeries, load_funding
from passivbot.data.synthetic import synthetic_candles

__all__ = ["BUNDLED_SYMBOLS", "DATA_SOURCES", "DataError", "FundingSeries", "bundled_range",
           "check_contiguous", "load_bundled", "load_candles", "load_funding", "load_source",
           "synthetic_candles"]
