"""Shared helpers for the backtest tests: parameter arrays, markets and small random candles."""

import numpy as np

from passivbot.markets import market_spec
from passivbot.records import N_PARAMS, PARAM_KEYS

ETH_SPEC = market_spec("binance", "ETHUSDT")
ETH = ETH_SPEC.market_array()
ETH_BRACKETS = ETH_SPEC.brackets_array()

DEFAULT_SIDE = dict(
    enabled=1.0, wallet_exposure_limit=0.5, ema_span_0=240.0, ema_span_1=720.0,
    initial_qty_pct=0.02, initial_eprice_ema_dist=0.003, ddown_factor=0.8,
    rentry_pprice_dist=0.02, rentry_pprice_dist_wallet_exposure_weighting=1.0,
    min_markup=0.004, markup_range=0.012, n_close_orders=5.0,
)


def make_params(**kw) -> np.ndarray:
    base = dict(DEFAULT_SIDE)
    base.update(kw)
    p = np.array([float(base[k]) for k in PARAM_KEYS])
    assert p.shape == (N_PARAMS,)
    return p


def random_walk_candles(n: int, seed: int, start: float = 2000.0, vol: float = 0.001,
                        price_step: float = 0.01) -> np.ndarray:
    """A tiny random walk (n, 6) on the price step: for tests only (the project's synthetic
    generator lives in passivbot.data.synthetic)."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.standard_normal(n) * vol))
    open_ = np.r_[start, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.standard_normal(n)) * vol / 2)
    low = np.minimum(open_, close) * (1 - np.abs(rng.standard_normal(n)) * vol / 2)
    c = np.column_stack([1_700_000_000_000 + np.arange(n) * 60_000.0, open_, high, low, close,
                         np.ones(n)])
    c[:, 1:5] = np.round(c[:, 1:5] / price_step) * price_step
    c[:, 2] = c[:, 1:5].max(axis=1)
    c[:, 3] = c[:, 1:5].min(axis=1)
    return c
