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
