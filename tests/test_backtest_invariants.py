"""Invariants of the replay over random configs and synthetic candles (hypothesis).

Each example replays ~1,500 synthetic minutes, stretched in log price by a random factor so
that some configs get stuck and some are liquidated; kernels compile once per process.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passivbot.backtest.engine import S_LAST_INDEX, S_LIQ_MARGIN_LOST, S_LIQUIDATED, run_backtest
from passivbot.data.synthetic import synthetic_candles
from passivbot.fills import fill_kind_nb, is_buy_nb
from passivbot.grid import emas_from_closes_nb, ideal_orders_nb
from passivbot.records import (
    KIND_FUNDING, KIND_LIQUIDATION, LONG, M_QTY_STEP, P_EMA_SPAN_0, P_EMA_SPAN_1, P_ENABLED,
    P_WALLET_EXPOSURE_LIMIT,
)
from tests.backtest_helpers import ETH, ETH_BRACKETS, make_params

N_MINUTES = 1500
MAKER, TAKER = 0.0002, 0.0005

sides = st.builds(
    lambda en, wel, s0, s1, iq, dist, dd, rd, w, mm, mr, nc: make_params(
        enabled=float(en), wallet_exposure_limit=wel, ema_span_0=s0, ema_span_1=s1,
        initial_qty_pct=iq, initial_eprice_ema_dist=dist, ddown_factor=dd, rentry_pprice_dist=rd,
        rentry_pprice_dist_wallet_exposure_weighting=w, min_markup=mm, markup_range=mr,
        n_close_orders=float(nc)),
    st.booleans() | st.just(True), st.floats(0.05, 8.0), st.floats(1, 500), st.floats(1, 1500),
    st.floats(0.005, 0.5), st.floats(-0.01, 0.02), st.floats(0.05, 3.0), st.floats(0.0, 0.05),
    st.floats(0.0, 10.0), st.floats(0.0, 0.02), st.floats(0.0, 0.05), st.integers(1, 10),
)


def stretched_candles(seed: int, amp: float) -> np.ndarray:
    """Synthetic candles with log moves from the start multiplied by `amp` (a monotone map of
    prices, so high >= open, close >= low still holds)."""
    c = synthetic_candles(N_MINUTES, seed).copy()
    p0 = c[0, 1]
    c[:, 1:5] = p0 * (c[:, 1:5] / p0) ** amp
    return c


def state_before(fills, i: int, side: int, balance0: float) -> tuple:
    """(balance, psize, pprice) at candle i's open, from the fill records alone."""
    before = fills[fills["minute"] < i]
    balance = float(before["balance"][-1]) if len(before) else balance0
    mine = before[before["side"] == side]
    if len(mine) == 0:
        return balance, 0.0, 0.0
    return balance, float(mine["psize"][-1]), float(mine["pprice"][-1])


@settings(max_examples=60)
@given(seed=st.integers(0, 2**31), amp=st.floats(1.0, 12.0), lp=sides, sp=sides,
       balance0=st.floats(30.0, 20_000.0), leverage=st.sampled_from([np.inf, 3.0, 10.0]),
       funding_every=st.sampled_from([0, 60, 240, 480]))
def test_replay_invariants(seed, amp, lp, sp, balance0, leverage, funding_every):
    candles = stretched_candles(seed, amp)
    ft = candles[::funding_every, 0].astype(np.int64) if funding_every else np.zeros(0, np.int64)
    fr = np.random.default_rng(seed).normal(0.0, 0.002, len(ft))  # large rates: they must bite
    fills, equity, summary = run_backtest(candles, lp, sp, ETH, ETH_BRACKETS, balance0, MAKER, TAKER,
                                          leverage=leverage, funding_times=ft, funding_rates=fr)
    qty_step = ETH[M_QTY_STEP]

    # balance changes only by realized pnl and fees, fill by fill
    expected = balance0 + np.cumsum(fills["pnl"] - fills["fee"])
    np.testing.assert_allclose(fills["balance"], expected, rtol=1e-9, atol=1e-9)
    # the balance is never negative
    assert (fills["balance"] >= 0.0).all() and (equity[:, 1] >= 0.0).all()
    # fees are the maker (taker for liquidations) rate of the fill's notional; the last
    # liquidation row also carries the margin lost (summary), which leaves the balance at 0
    rate = np.where(fills["kind"] == KIND_LIQUIDATION, TAKER,
                    np.where(fills["kind"] == KIND_FUNDING, 0.0, MAKER))
    expected_fee = fills["qty"] * fills["price"] * rate
    if summary[S_LIQUIDATED]:
        expected_fee[-1] += summary[S_LIQ_MARGIN_LOST]
        assert fills["balance"][-1] == 0.0
    np.testing.assert_allclose(fills["fee"], expected_fee, rtol=1e-12, atol=1e-9)

    # position sizes never negative; closes never exceed the position
    assert (fills["psize"] >= 0.0).all() and (fills["qty"] > 0.0).all()

    for f in fills:
        i, side, kind, price = int(f["minute"]), int(f["side"]), int(f["kind"]), float(f["price"])
        low, high = candles[i, 3], candles[i, 2]
        if kind == KIND_FUNDING:
            # at the candle's open (no mark given), on the whole position, the rate's sign
            j = np.searchsorted(ft, candles[i, 0], side="right") - 1
            assert price == candles[i, 1] and f["qty"] == f["psize"] > 0.0
            assert f["pnl"] == pytest.approx(-side * f["qty"] * price * fr[j], rel=1e-12)
            continue
        # every fill price inside its candle's range (maker fills strictly traded through)
        assert low <= price <= high
        if kind != KIND_LIQUIDATION:
            assert (low < price) if is_buy_nb(side, kind) else (high > price)
        params = lp if side == LONG else sp
        # exposure within the limit (+ one qty step) against the balance the orders were
        # computed from (the candle's open: a loss settled earlier in the candle may lower it)
        if f["psize"] > 0.0 and kind != KIND_LIQUIDATION:
            cost = f["psize"] * f["pprice"]
            balance_open = state_before(fills, i, side, balance0)[0]
            assert cost <= params[P_WALLET_EXPOSURE_LIMIT] * balance_open * (1 + 1e-9) \
                + qty_step * price * 1.0001
        # no order fills in the candle in which it was created: the fill is one of the orders
        # ideal_orders_nb gives for the state at this candle's open (after candle i-1)
        if kind == KIND_LIQUIDATION:
            continue
        balance, psize, pprice = state_before(fills, i, side, balance0)
        e0, e1 = emas_from_closes_nb(candles[:i, 4], params[P_EMA_SPAN_0], params[P_EMA_SPAN_1])
        entries, closes = ideal_orders_nb(side, balance, psize, pprice, min(e0, e1), max(e0, e1),
                                          candles[i - 1, 4], params, ETH)
        book = np.vstack([entries, closes])
        # the fill is named by the position at the fill (fills.fill_kind_nb): a re-entry order
        # that fills after the same candle's close flattened the side is an initial entry
        before = f["psize"] - f["qty"]
        named = np.array([fill_kind_nb(int(k), before if before > 1e-12 else 0.0)
                          for k in book[:, 2]])
        match = (book[:, 1] == price) & (named == kind) & (book[:, 0] >= f["qty"] - 1e-12)
        assert match.any(), (i, side, kind, price, book)
        if params[P_ENABLED] == 0.0:
            assert kind == 2  # a disabled side only takes profit

    # no fills after a liquidation; a liquidation ends the run
    liq = fills[fills["kind"] == KIND_LIQUIDATION]
    if summary[S_LIQUIDATED]:
        assert len(liq) >= 1
        end = int(summary[S_LAST_INDEX])
        assert (fills["minute"] <= end).all() and (liq["minute"] == end).all()
        assert (fills[fills["minute"] == end]["kind"][-len(liq):] == KIND_LIQUIDATION).all()
        assert fills["psize"][-1] == 0.0
    else:
        assert len(liq) == 0 and summary[S_LAST_INDEX] == len(candles) - 1


def test_some_random_configs_get_liquidated():
    """The property test above must see liquidations, not only calm runs: a 10x exposure long
    on a walk stretched 12x is liquidated."""
    lp = make_params(wallet_exposure_limit=8.0, initial_qty_pct=0.5, ddown_factor=2.0,
                     rentry_pprice_dist=0.002)
    sp = make_params(enabled=0.0)
    hits = 0
    for seed in range(6):
        fills, _, summary = run_backtest(stretched_candles(seed, 12.0), lp, sp, ETH, ETH_BRACKETS,
                                         1000.0, MAKER, TAKER)
        hits += int(summary[S_LIQUIDATED])
    assert hits >= 1
