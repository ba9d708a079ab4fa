"""One naming rule for entry fills (fills.fill_kind_nb), used by the backtest and the emulator.

Found by 30-day realistic parity (Binance, days 17-21): a short re-entry filled in the candle
where the side's take-profit had just closed the position; the emulator named it an initial
entry (the position was flat at the fill), the backtest a re-entry (the order's role)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passivbot.fills import fill_kind_nb
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY, KIND_STOP_CLOSE,
    KIND_UNSTUCK_CLOSE,
)


def test_an_entry_into_a_flat_side_is_an_initial_entry_whatever_the_order_was() -> None:
    assert fill_kind_nb(KIND_REENTRY, 0.0) == KIND_INITIAL_ENTRY
    assert fill_kind_nb(KIND_INITIAL_ENTRY, 0.0) == KIND_INITIAL_ENTRY


def test_an_entry_into_an_open_side_is_a_reentry() -> None:
    assert fill_kind_nb(KIND_INITIAL_ENTRY, 0.157) == KIND_REENTRY
    assert fill_kind_nb(KIND_REENTRY, 1.131) == KIND_REENTRY


@given(st.sampled_from([KIND_CLOSE, KIND_LIQUIDATION, KIND_UNSTUCK_CLOSE, KIND_STOP_CLOSE]),
       st.floats(min_value=0.0, max_value=1e6))
def test_closes_keep_their_kind(kind: int, psize: float) -> None:
    assert fill_kind_nb(kind, psize) == kind
