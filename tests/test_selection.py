"""The symbol-selection kernel: hand-computed scores and choices, and its invariants."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from passivbot.selection import score_nb, select_nb


def candles(rows):
    """(ts, open, high, low, close, volume) rows."""
    return np.array([[i * 60_000.0, *r] for i, r in enumerate(rows)])


def test_score_is_mean_quote_volume_times_mean_relative_range():
    c = candles([
        (100, 110, 90, 100, 2),  # quote volume 200, range 20 / 100 = 0.2
        (100, 104, 100, 100, 4),  # quote volume 400, range 0.04
        (50, 55, 45, 50, 10),  # quote volume 500, range 0.2
    ])
    # rows 0..2: mean qv (200 + 400 + 500) / 3 = 366.67, mean range 0.44 / 3 -> 53.777...
    assert np.isclose(score_nb(c, 0, 3), (1100 / 3) * (0.44 / 3))
    # rows 1..2: (900 / 2) x (0.24 / 2) = 54.0
    assert np.isclose(score_nb(c, 1, 3), 54.0)
    # a window reaching before the first row is clipped to the rows there are
    assert score_nb(c, -5, 1) == 200 * 0.2
    assert np.isnan(score_nb(c, 2, 2))


def test_free_slots_go_to_best_scores_and_open_positions_stay():
    scores = np.array([5.0, 9.0, 7.0, 1.0, np.nan])
    eligible = np.array([True, True, True, True, True])
    none_open = np.zeros(5, np.bool_)
    assert select_nb(scores, eligible, none_open, 2).tolist() == [False, True, True, False, False]
    # symbol 3 (lowest score) holds a position: kept, and it takes one of the two slots
    is_open = np.array([False, False, False, True, False])
    assert select_nb(scores, eligible, is_open, 2).tolist() == [False, True, False, True, False]
    # symbol 1 not eligible (not trading yet): next best; NaN never chosen
    eligible[1] = False
    assert select_nb(scores, eligible, none_open, 4).tolist() == [True, False, True, True, False]


def test_ties_go_to_the_lower_index_and_overfull_keeps_only_open():
    scores = np.array([3.0, 3.0, 3.0])
    elig = np.ones(3, np.bool_)
    assert select_nb(scores, elig, np.zeros(3, np.bool_), 1).tolist() == [True, False, False]
    is_open = np.array([False, True, True])
    assert select_nb(scores, elig, is_open, 1).tolist() == [False, True, True]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e6) | st.just(float("nan")), st.booleans(),
                          st.booleans()), min_size=1, max_size=15),
       st.integers(1, 15))
def test_selection_invariants(rows, n):
    scores = np.array([r[0] for r in rows])
    elig = np.array([r[1] for r in rows], np.bool_)
    is_open = np.array([r[2] for r in rows], np.bool_)
    allowed = select_nb(scores, elig, is_open, n)
    assert allowed[is_open].all()  # open positions are always managed
    assert allowed.sum() <= max(n, is_open.sum())
    new = allowed & ~is_open
    assert (elig[new]).all() and not np.isnan(scores[new]).any()
    # no unchosen eligible flat symbol beats a chosen one
    left = elig & ~allowed & ~np.isnan(scores)
    if new.any() and left.any():
        assert scores[left].max() <= scores[new].min()
    # slots are filled while candidates remain
    if left.any():
        assert allowed.sum() >= n
