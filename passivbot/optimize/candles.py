"""Where an optimization's candles come from: the backtest config's data source, per symbol.

Its own module so that `run` (the search) and `best` (the best config's re-backtest) both read
candles the same way without importing each other."""

from __future__ import annotations

import numpy as np

from passivbot.config import BacktestConfig


def load_candles(bt: BacktestConfig, symbol: str | None = None) -> np.ndarray:
    """The backtest config's candles for `symbol` (default: its first symbol)."""
    from passivbot.data import load_source

    return load_source(bt.data_source, bt.exchange, symbol or bt.symbol, bt.start_date,
                       bt.end_date, bt.synthetic_seed)
