"""1m candles: the per-day cache and its downloader, the bundled sample, the synthetic generator.

See docs/data.md. Candles everywhere: float64 (n, 6) timestamp ms (open, UTC), open, high, low,
close, volume; one row a minute, contiguous.
"""

from passivbot.data.bundled import load_bundled
from passivbot.data.errors import DataError
from passivbot.data.loader import DATA_SOURCES, bundled_range, load_candles, load_source
from passivbot.data.synthetic import synthetic_candles

__all__ = ["DATA_SOURCES", "DataError", "bundled_range", "load_bundled", "load_candles",
           "load_source", "synthetic_candles"]
