"""Seeded synthetic 1m candles for long benchmark spans and property tests.

A regime-switching random walk in log price with GARCH(1,1) volatility clustering:
- a Markov chain over three regimes (trend up, trend down, range) that lasts hours to days;
  trends add a drift, the range regime pulls the price back to where it started;
- per-minute returns are Student-t noise scaled by a GARCH variance (calm and violent spells),
  times a regime volatility factor; a weak pull to `start_price` over months keeps a 3-year
  walk at plausible prices;
- wicks extend beyond the body by a half-normal multiple of the minute's volatility, so
  high >= max(open, close) and low <= min(open, close) always; open is the previous close;
- volume is positive and grows with |return| / volatility (busy minutes move the price).

Results are synthetic: say so wherever they are reported. Deterministic per seed (the random
draws come from numpy's PCG64 outside the kernel, so NUMBA_DISABLE_JIT=1 gives the same array).
Candles: float64 (n, 6) timestamp ms (open time, UTC), open, high, low, close, volume.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MINUTE_MS = 60_000
DEFAULT_START_TS = 1_704_067_200_000  # 2024-01-01 00:00 UTC

REGIME_UP, REGIME_DOWN, REGIME_RANGE = 0, 1, 2
# Per-minute probability of leaving a regime (mean durations: 1.5 days, 1.5 days, 3 days).
_P_LEAVE = np.array([1 / 2160, 1 / 2160, 1 / 4320])
# Per-minute drift in log price for trend regimes (about +-4 % a day).
_TREND_DRIFT = 3e-5
# Regime volatility factors (trends are busier than ranges).
_REGIME_VOL = np.array([1.15, 1.3, 0.8])
_BASE_SIGMA = 0.0008  # per-minute stdev of log return (~3 % a day), long-run GARCH level
_GARCH_ALPHA, _GARCH_BETA = 0.04, 0.955  # persistence 0.995: spells of hours
_T_DF = 4.0  # Student-t degrees of freedom: fat tails
_RANGE_KAPPA = 1 / 600  # range regime: pull to its anchor, per minute
_LONG_KAPPA = 1 / (120 * 1440)  # everywhere: pull to log(start_price) over ~4 months
_WICK_SCALE = 0.6  # wick length in units of the minute's sigma (half-normal)
_BASE_VOLUME = 100.0


@njit(cache=True)
def _walk_nb(z, u_regime, u_next, wick_hi, wick_lo, vol_noise, start_ts, start_price,
             p_leave, regime_vol, base_sigma, trend_drift, alpha, beta, range_kappa,
             long_kappa, wick_scale, base_volume):
    """The recursive part (regime, variance, price) over pre-drawn random numbers."""
    n = z.shape[0]
    out = np.empty((n, 6))
    omega = base_sigma * base_sigma * (1.0 - alpha - beta)
    var = base_sigma * base_sigma
    log_home = np.log(start_price)
    logp = log_home
    anchor = logp
    regime = REGIME_RANGE
    r_prev = 0.0
    prev_close = start_price
    for i in range(n):
        if u_regime[i] < p_leave[regime]:
            # Move to one of the two other regimes, chosen by u_next.
            nxt = (regime + 1 + (1 if u_next[i] < 0.5 else 0)) % 3
            regime = nxt
            anchor = logp
        var = omega + alpha * r_prev * r_prev + beta * var
        lo_var = 0.04 * base_sigma * base_sigma
        hi_var = 36.0 * base_sigma * base_sigma
        if var < lo_var:
            var = lo_var
        elif var > hi_var:
            var = hi_var
        sigma = np.sqrt(var) * regime_vol[regime]
        drift = -long_kappa * (logp - log_home)
        if regime == REGIME_UP:
            drift += trend_drift
        elif regime == REGIME_DOWN:
            drift -= trend_drift
        else:
            drift -= range_kappa * (logp - anchor)
        r = drift + sigma * z[i]
        open_ = prev_close
        logp += r
        close = np.exp(logp)
        prev_close = close
        body_hi = max(open_, close)
        body_lo = min(open_, close)
        out[i, 0] = start_ts + i * MINUTE_MS
        out[i, 1] = open_
        out[i, 2] = body_hi * np.exp(wick_scale * sigma * wick_hi[i])
        out[i, 3] = body_lo * np.exp(-wick_scale * sigma * wick_lo[i])
        out[i, 4] = close
        out[i, 5] = base_volume * (0.25 + abs(r) / base_sigma) * vol_noise[i]
        # The GARCH recursion sees the base shock, not the regime-scaled one: feeding the
        # regime factor back would make the variance explode in busy regimes.
        r_prev = np.sqrt(var) * z[i]
    return out


def synthetic_candles(n_minutes: int, seed: int, start_ts: int = DEFAULT_START_TS,
                      start_price: float = 2000.0) -> np.ndarray:
    """`n_minutes` contiguous synthetic 1m candles starting at `start_ts` (ms, whole minute).

    Same (n_minutes, seed, start_ts, start_price) -> the same array, bit for bit; a prefix of a
    longer run equals the shorter run (draws are per minute), so date ranges nest.
    """
    if n_minutes < 0:
        raise ValueError(f"n_minutes must be >= 0, not {n_minutes}")
    if start_ts % MINUTE_MS:
        raise ValueError(f"start_ts must be a whole minute in ms, not {start_ts}")
    if not start_price > 0:
        raise ValueError(f"start_price must be > 0, not {start_price}")
    # Independent streams, each drawn minute by minute, so the first k minutes do not depend
    # on n_minutes (date ranges nest).
    g_t, g_n, g_u = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    z = g_t.standard_t(_T_DF, n_minutes) * np.sqrt((_T_DF - 2.0) / _T_DF)  # unit variance
    normals = g_n.standard_normal((n_minutes, 3))
    wick_hi = np.abs(normals[:, 0])
    wick_lo = np.abs(normals[:, 1])
    vol_noise = np.exp(0.5 * normals[:, 2] - 0.125)  # lognormal, mean 1
    uniforms = g_u.random((n_minutes, 2))
    u_regime, u_next = uniforms[:, 0], uniforms[:, 1]
    return _walk_nb(z, u_regime, u_next, wick_hi, wick_lo, vol_noise, float(start_ts),
                    float(start_price), _P_LEAVE, _REGIME_VOL, _BASE_SIGMA, _TREND_DRIFT,
                    _GARCH_ALPHA, _GARCH_BETA, _RANGE_KAPPA, _LONG_KAPPA, _WICK_SCALE,
                    _BASE_VOLUME)

