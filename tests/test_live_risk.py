"""The live bot's bounded-loss parts: the diff's reduce-only flag for every close kind, the
persisted risk state (atomic, loud on corruption), the per-cycle decisions."""

import numpy as np

from passivbot.live.diff import wanted_from_arrays
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG,
    ORDER_COLS, SHORT,
)


def test_diff_unstuck_and_stop_closes_go_out_reduce_only_regression_kind_eq_close():
    # Regression: the diff used `kind == KIND_CLOSE`, so an unstuck close was sent as an entry
    # (a long "close" became a sell that opens a short on a one-way account).
    closes = np.array([[0.1, 2100.0, KIND_UNSTUCK_CLOSE], [0.2, 2200.0, KIND_CLOSE],
                       [0.3, 2000.0, KIND_STOP_CLOSE]])
    entries = np.array([[0.05, 1900.0, KIND_INITIAL_ENTRY], [0.1, 1800.0, KIND_REENTRY]])
    for side in (LONG, SHORT):
        w = wanted_from_arrays(side, entries, closes)
        assert [x.close for x in w] == [False, False, True, True, True]
        assert [x.kind for x in w] == [KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_UNSTUCK_CLOSE,
                                       KIND_CLOSE, KIND_STOP_CLOSE]
        # a long close sells, a short close buys
        assert w[2].is_buy == (side == SHORT)
    assert wanted_from_arrays(LONG, np.empty((0, ORDER_COLS)), np.empty((0, ORDER_COLS))) == []
