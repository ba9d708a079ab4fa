"""fill_sequence_nb's settlement order equals the rule's reference: a stable sort by (closes
before entries, long before short) then nearest the open first (regression guard for the
insertion sort that replaced numba's mergesort to cut cold-start compile time)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from passivbot.fills import fill_sequence_nb, fills_nb, is_buy_nb, is_close_kind_nb
from passivbot.records import LONG, SHORT

rows = st.lists(
    st.tuples(st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([98.0, 99.0, 99.5, 100.0, 101.0, 102.0]),
              st.integers(0, 3), st.sampled_from([LONG, SHORT])),
    min_size=0, max_size=12,
)


@given(rows, st.sampled_from([97.0, 99.2, 100.0]), st.sampled_from([100.0, 100.7, 103.0]))
def test_fill_sequence_matches_stable_reference(book_rows, low, high):
    book = np.array(book_rows, dtype=np.float64).reshape(-1, 4)
    hit = [i for i in range(len(book))
           if book[i, 0] > 0 and fills_nb(is_buy_nb(int(book[i, 3]), int(book[i, 2])), book[i, 1], low, high)]
    keys = []
    for i in hit:
        side, kind, price = int(book[i, 3]), int(book[i, 2]), book[i, 1]
        major = (0 if is_close_kind_nb(kind) else 2) + (0 if side == LONG else 1)
        minor = -price if is_buy_nb(side, kind) else price
        keys.append((major, minor, i))
    expected = [i for _, _, i in sorted(keys)]  # ties keep book order (i), as a stable sort
    assert list(fill_sequence_nb(book, low, high)) == expected


def test_market_price_is_the_open_one_step_through_the_book():
    from passivbot.fills import market_price_nb

    # price step 0.01, one passive tick (the venues' one-step book): a market buy at an open of
    # 2428.85 pays 2428.86, a market sell 2428.84
    market = np.array([0.01, 0.001, 0.001, 5.0, 1.0])
    assert market_price_nb(True, 2428.85, market) == 2428.86
    assert market_price_nb(False, 2428.85, market) == 2428.84
    # two ticks, step 0.1: 95.5 -> 95.7 / 95.3 (on the step, no float residue)
    wide = np.array([0.1, 0.01, 0.01, 1.0, 2.0])
    assert market_price_nb(True, 95.5, wide) == 95.7
    assert market_price_nb(False, 95.5, wide) == 95.3
    # a market array of the older length 4 (no spread): the open itself
    old = np.array([0.1, 0.01, 0.01, 1.0])
    assert market_price_nb(True, 95.5, old) == 95.5 and market_price_nb(False, 95.5, old) == 95.5
