"""Which symbols may open a position: the pure kernel the multi-symbol backtester calls (and the
live bot is to call on its own recent candles), so a backtest and a live run choose alike.

Rule (in the spirit of Passivbot's forager; docs/configs.md, "Many symbols, one wallet"):
- a symbol's score over a window of 1-minute candles (float64 (n, 6): timestamp ms, open,
  high, low, close, volume in base) is mean quote volume x mean relative range:
  (sum(volume x close) / m) x (sum((high - low) / close) / m), m = the rows in the window;
  liquid AND moving markets rank first; a window with no rows scores NaN (never chosen);
- per side, positions already open are always kept (managed until closed, even when their
  symbol ranks low); the free slots (n_positions - open ones) go to the best-scoring eligible
  flat symbols, ties to the lower index (the order of the config's list).

Only `@njit(cache=True)` functions over floats and numpy arrays; no IO, no config.
"""

import numpy as np
from numba import njit

# When and over what the bot and the backtest select (one place: a backtest and a live run
# must choose at the same minutes from the same window).
SELECT_EVERY = 60  # minutes between two selections
SELECT_WINDOW = 1440  # 1m candles a score looks back over


@njit(cache=True)
def score_nb(candles: np.ndarray, i0: int, i1: int) -> float:
    """Mean quote volume x mean (high - low) / close over rows [i0, i1) of `candles`; NaN when
    the window is empty."""
    i0 = max(i0, 0)
    i1 = min(i1, candles.shape[0])
    m = i1 - i0
    if m <= 0:
        return np.nan
    qv = 0.0
    rr = 0.0
    for i in range(i0, i1):
        c = candles[i, 4]
        qv += candles[i, 5] * c
        rr += (candles[i, 2] - candles[i, 3]) / c
    return (qv / m) * (rr / m)


@njit(cache=True)
def select_nb(scores: np.ndarray, eligible: np.ndarray, is_open: np.ndarray,
              n_positions: int) -> np.ndarray:
    """Which symbols may hold a position on one side: bool (S,).

    `scores` float64 (S,), `eligible` / `is_open` bool (S,). Open symbols are always allowed;
    then the best-scoring eligible flat symbols (NaN scores excluded) until `n_positions`
    symbols are allowed (ties: lower index first). More open symbols than n_positions (a
    config change) allows exactly the open ones."""
    s = scores.shape[0]
    allowed = np.empty(s, dtype=np.bool_)
    n_open = 0
    for k in range(s):
        allowed[k] = is_open[k]
        if is_open[k]:
            n_open += 1
    free = n_positions - n_open
    while free > 0:
        best = -1
        for k in range(s):
            if allowed[k] or not eligible[k] or np.isnan(scores[k]):
                continue
            if best < 0 or scores[k] > scores[best]:
                best = k
        if best < 0:
            break
        allowed[best] = True
        free -= 1
    return allowed
