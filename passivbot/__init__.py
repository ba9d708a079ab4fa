"""Passivbot: a preferential grid trading bot for leveraged perpetual futures (hedge mode).

Layers, one direction of knowledge (see docs/design.md): `records`/`numeric`/`margin`/`fills` are
leaves; `grid` decides orders; `backtest` replays candles through `grid`; `optimize` searches
over `backtest`; `live` trades through `exchanges`; `emulator` knows only the exchange
protocols and the fill rule.
"""

__version__ = "0.1.0"

from pathlib import Path as _Path

from passivbot import _numba_cache

_numba_cache.configure(_Path(__file__).resolve().parent)
