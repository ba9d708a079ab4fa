"""The grid calculator: table-driven rounding checks, hand-worked orders, and properties
(hypothesis) over random balances, positions, prices, steps and strategies."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from passivbot import grid
from passivbot.margin import LIQ_BELOW, liq_price_nb
from passivbot.markets import market_spec
from passivbot.numeric import (
    is_on_step_nb, min_entry_qty_nb, n_steps_nb, new_position_nb, round_dn_nb, round_nb, round_up_nb,
)
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, M_REPRICE_TOL, N_MARKET, N_PARAMS,
    P_DDOWN_FACTOR,
    P_ENABLED, P_INITIAL_EPRICE_EMA_DIST, P_INITIAL_QTY_PCT, P_MARKUP_RANGE, P_MIN_MARKUP,
    P_N_CLOSE_ORDERS, P_RENTRY_PPRICE_DIST, P_RENTRY_PPRICE_DIST_WE_WEIGHTING,
    P_WALLET_EXPOSURE_LIMIT, PARAM_KEYS, SHORT,
)

# ---------------------------------------------------------------------------------------------
# helpers


def make_params(**kw) -> np.ndarray:
    base = dict(
        enabled=1.0, wallet_exposure_limit=0.5, ema_span_0=240.0, ema_span_1=720.0,
        initial_qty_pct=0.02, initial_eprice_ema_dist=0.003, ddown_factor=0.8,
        rentry_pprice_dist=0.02, rentry_pprice_dist_wallet_exposure_weighting=1.0,
        min_markup=0.004, markup_range=0.012, n_close_orders=5.0,
    )
    base.update(kw)
    p = np.array([float(base[k]) for k in PARAM_KEYS])
    assert p.shape == (N_PARAMS,)
    return p


def make_market(price_step, qty_step, min_qty, min_cost, passive_ticks=0.0,
                reprice_tol=0.0) -> np.ndarray:
    m = np.array([price_step, qty_step, min_qty, min_cost, passive_ticks, reprice_tol],
                 dtype=np.float64)
    assert m.shape == (N_MARKET,)
    return m


# The venue's market with the re-pricing tolerance off, so the hand examples below show the
# unquantized band rule; the tolerance has its own tests (ETH_TOL: the market as shipped).
ETH_TOL = market_spec("binance", "ETHUSDT").market_array()
ETH = ETH_TOL.copy()
ETH[M_REPRICE_TOL] = 0.0

# ---------------------------------------------------------------------------------------------
# rounding: table-driven


@pytest.mark.parametrize(
    "x, step, up, dn, near",
    [
        (0.3, 0.1, 0.3, 0.3, 0.3),  # 0.3/0.1 = 2.9999999999999996 must not round down to 0.2
        (0.31, 0.1, 0.4, 0.3, 0.3),
        (2482.537, 0.01, 2482.54, 2482.53, 2482.54),
        (1.0, 0.001, 1.0, 1.0, 1.0),
        (0.0049999, 0.001, 0.005, 0.004, 0.005),
        (12345.0, 5.0, 12345.0, 12345.0, 12345.0),
        (12346.0, 5.0, 12350.0, 12345.0, 12345.0),
        # above 1000, 12 decimals do not fit a double: the residue must still go (a BTC price
        # the bot sends as "95813.4" and the backtest compares with the candle's low)
        (95813.40000000001, 0.1, 95813.4, 95813.4, 95813.4),
        (958134 * 0.1, 0.1, 95813.4, 95813.4, 95813.4),
        (123456.78000000001, 0.01, 123456.78, 123456.78, 123456.78),
    ],
)
def test_rounding_table(x, step, up, dn, near):
    assert round_up_nb(x, step) == up
    assert round_dn_nb(x, step) == dn
    assert round_nb(x, step) == near


@given(k=st.integers(min_value=1, max_value=10**6),
       step=st.sampled_from(["0.1", "0.01", "0.5", "0.0001", "1", "0.25"]))
def test_any_stepped_price_is_the_decimal_the_wire_carries(k: int, step: str) -> None:
    """Property: k steps of a decimal step, through the calculator's rounding, are exactly the
    double of the decimal price the bot sends (what the exchange compares with the candle).
    Up to a million steps (BTC at 0.1 to 100,000, ETH at 0.01 to 10,000): beyond ~10**7 steps
    the float residue of x / step passes numeric.STEP_TOL (an absolute 1e-9 step) and a price on
    its step can round up one step (found at 28,698,466 x 0.01); no bundled market comes near."""
    want = float(Decimal(k) * Decimal(step))
    for f in (round_dn_nb, round_nb, round_up_nb):
        assert f(k * float(step), float(step)) == want


def test_min_entry_qty_respects_min_cost_and_min_qty():
    # 20 USDT at 2427.93 is 0.008237 ETH -> rounded up to 0.009; min qty 0.001 is lower.
    assert min_entry_qty_nb(2427.93, 0.001, 0.001, 20.0) == 0.009
    # min qty dominates when min cost is tiny.
    assert min_entry_qty_nb(2427.93, 0.01, 0.05, 5.0) == 0.05


def test_position_averaging_hand_example():
    # 0.01 @ 2480 + 0.009 @ 2427.93 -> size 0.019, price (24.8 + 21.85137) / 0.019 = 2455.335263...
    size, price = new_position_nb(0.01, 2480.0, 0.009, 2427.93, 0.001)
    assert size == 0.019
    assert price == pytest.approx((24.8 + 0.009 * 2427.93) / 0.019, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# hand-worked orders (ETH on Binance: price step 0.01, qty step 0.001, min qty 0.001, min cost 20)


def test_initial_entry_long_hand_example():
    # band low 2490 x (1 - 0.003) = 2482.53 (below last 2500, so not capped), rounded down.
    # cost 1000 x 0.5 x 0.02 = 10 USDT < min cost 20 -> min qty ceil(20 / 2482.53, 0.001) = 0.009.
    entries, closes = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2500.0, make_params(), ETH)
    assert closes.shape == (0, 3)
    assert entries.tolist() == [[0.009, 2482.53, KIND_INITIAL_ENTRY]]


def test_initial_entry_short_uses_upper_band_and_rounds_up():
    # 2510 x 1.003 = 2517.53
    entries, _ = grid.ideal_orders_nb(SHORT, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2500.0, make_params(), ETH)
    assert entries[0, 1] == 2517.53 and entries[0, 2] == KIND_INITIAL_ENTRY


def test_initial_entry_never_crosses_last_price():
    # Band says 2482.53 but the market is already at 2400: a buy above it would take liquidity.
    m0 = make_market(0.01, 0.001, 0.001, 20.0)  # passive ticks 0: capped at the last price
    entries, _ = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2400.004, make_params(), m0)
    assert entries[0, 1] == 2400.0
    # The venues' markets (one passive tick): one step inside, 2400.004 - 0.01 -> 2399.99.
    entries, _ = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2400.004, make_params(), ETH)
    assert entries[0, 1] == 2399.99


def test_one_passive_tick_keeps_entries_and_closes_off_the_touch():
    """A one-tick book around the last trade 2400: an entry or a close at 2400 is at the touch
    on one side (PostOnly refused, a reduce-only close filled at once as a taker); with one
    passive tick the long entry rests at 2399.99 and every long close at 2400.01 or above,
    the short side mirrored."""
    m1 = make_market(0.01, 0.001, 0.001, 20.0, passive_ticks=1.0)
    p = make_params()
    ent, _ = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2400.0, p, m1)
    assert ent[0, 1] == 2399.99  # the band's 2482.53 capped one step below the last price
    _, cls = grid.ideal_orders_nb(LONG, 1000.0, 0.1, 2350.0, 2490.0, 2510.0, 2400.0, p, m1)
    assert cls[:, 1].min() == 2400.01  # TPs from 2359.40 capped one step above it
    ent, _ = grid.ideal_orders_nb(SHORT, 1000.0, 0.0, 0.0, 2290.0, 2310.0, 2400.0, p, m1)
    assert ent[0, 1] == 2400.01
    _, cls = grid.ideal_orders_nb(SHORT, 1000.0, 0.1, 2450.0, 2290.0, 2310.0, 2400.0, p, m1)
    assert cls[:, 1].max() == 2399.99


def test_reprice_tolerance_hand_example():
    """tol 0.001: the long band entry 2490 x 0.997 = 2482.53 lies between the grid points
    1.001^7820 = 2480.1953 and 1.001^7821 = 2482.6755, so it goes down to 2480.1953 -> 2480.19
    (rounded down to the tick). A band from 2488 (2480.536) to 2490 gives the same order; at
    2491 (2483.527) it moves up one bucket, 2482.6755 -> 2482.67. Short: 2510 x 1.003 =
    2517.53 goes up to 1.001^7835 = 2517.6598 -> 2517.66 (rounded up)."""
    assert ETH_TOL[M_REPRICE_TOL] == 0.001  # the shipped default
    p = make_params()

    def long_at(band):
        ent, _ = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, band, band + 20, 2600.0, p, ETH_TOL)
        return ent[0, 1]
    assert long_at(2490.0) == 2480.19
    assert long_at(2488.0) == long_at(2489.0) == 2480.19
    assert long_at(2491.0) == 2482.67
    ent, _ = grid.ideal_orders_nb(SHORT, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2400.0, p, ETH_TOL)
    assert ent[0, 1] == 2517.66
    # the cap still binds: the market at 2400 below the bucket -> one tick under the last price
    ent, _ = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 2490.0, 2510.0, 2400.0, p, ETH_TOL)
    assert ent[0, 1] == 2399.99
    # no column (an older 5-long market array) or 0: unquantized
    assert grid.reprice_tol_nb(ETH_TOL[:5]) == 0.0
    assert grid.quantize_passive_nb(2482.53, 0.0, LONG) == 2482.53


@given(st.floats(1e-4, 1e7), st.sampled_from([1e-5, 1e-4, 5e-4, 0.001, 0.002, 0.01, 0.05]),
       st.sampled_from([LONG, SHORT]))
def test_quantized_price_never_more_aggressive_and_within_tol(price, tol, side):
    q = grid.quantize_passive_nb(price, tol, side)
    assert side * (q - price) <= 0.0  # long never higher, short never lower
    assert abs(q - price) <= tol * price  # and at most tol away
    # stateless and on the grid: the price of q's own bucket is q again (within round-off)
    assert grid.quantize_passive_nb(q, tol, side) == pytest.approx(q, rel=1e-12)


def test_reentry_hand_example():
    # psize 0.01 @ 2480, balance 1000: exposure 0.0248, limit 0.5, weighting 1
    # spacing = 0.02 x (1 + 0.0248 / 0.5) = 0.020992 -> 2480 x 0.979008 = 2427.93984 -> 2427.93
    # qty = max(min qty 0.009, 0.01 x 0.8 = 0.008) = 0.009
    qty, price = grid.reentry_nb(LONG, 1000.0, 0.01, 2480.0, 2470.0, make_params(), ETH)
    assert (qty, price) == (0.009, 2427.93)


def test_last_reentry_is_cut_to_the_exposure_limit():
    # exposure 0.45 of 0.5: room = 0.05 x 1000 = 50 USDT. ddown 0.8 x 0.2 = 0.16 ETH would be ~360.
    p = make_params(rentry_pprice_dist_wallet_exposure_weighting=0.0)
    qty, price = grid.reentry_nb(LONG, 1000.0, 0.2, 2250.0, 3000.0, p, ETH)
    assert price == round_dn_nb(2250.0 * 0.98, 0.01) == 2205.0
    assert qty == round_dn_nb(50.0 / 2205.0, 0.001) == 0.022
    # and nothing when already at the limit
    assert grid.reentry_nb(LONG, 1000.0, 0.2, 2500.0, 3000.0, p, ETH) == (0.0, 0.0)


def test_close_grid_hand_example():
    # psize 0.05 @ 2000, 5 closes from 2000 x 1.004 = 2008 to 2000 x 1.016 = 2032, step 6.
    # 50 qty steps / 5 = 10 steps each.
    closes = grid.close_grid_nb(LONG, 0.05, 2000.0, 1990.0, make_params(), ETH)
    assert closes[:, 1].tolist() == [2008.0, 2014.0, 2020.0, 2026.0, 2032.0]
    assert closes[:, 0].tolist() == [0.01] * 5
    assert set(closes[:, 2]) == {KIND_CLOSE}


def test_close_grid_shrinks_when_position_too_small_for_every_order():
    # 0.02 ETH at 2000: min qty at 2008 is 0.010 -> only 2 orders of 0.01.
    closes = grid.close_grid_nb(LONG, 0.02, 2000.0, 1990.0, make_params(), ETH)
    assert closes[:, 0].tolist() == [0.01, 0.01]
    assert closes[:, 1].tolist() == [2008.0, 2032.0]


def test_disabled_side_still_takes_profit_but_never_enters():
    p = make_params(enabled=0.0)
    entries, closes = grid.ideal_orders_nb(LONG, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1990.0, p, ETH)
    assert entries.shape[0] == 0 and closes.shape[0] == 5
    entries, closes = grid.ideal_orders_nb(LONG, 1000.0, 0.0, 0.0, 1990.0, 2010.0, 1990.0, p, ETH)
    assert entries.shape[0] == 0 and closes.shape[0] == 0


def test_tiny_account_does_not_enter_over_its_budget():
    # 20 USDT min cost vs a 10 USDT wallet at limit 0.5: budget 5 USDT -> no entry at all.
    entries, _ = grid.ideal_orders_nb(LONG, 10.0, 0.0, 0.0, 2490.0, 2510.0, 2500.0, make_params(), ETH)
    assert entries.shape[0] == 0


def test_emas_from_closes_match_stepwise_updates():
    closes = np.array([100.0, 101.0, 99.0, 102.0])
    e0, e1 = grid.emas_from_closes_nb(closes, 3.0, 9.0)
    a0, a1 = 2 / 4, 2 / 10
    x0 = x1 = 100.0
    for c in closes[1:]:
        x0 += a0 * (c - x0)
        x1 += a1 * (c - x1)
    assert (e0, e1) == pytest.approx((x0, x1), rel=1e-15)


# ---------------------------------------------------------------------------------------------
# properties

price_steps = st.sampled_from([0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0])
qty_steps = st.sampled_from([0.001, 0.01, 0.1, 1.0])


@st.composite
def markets(draw):
    ps = draw(price_steps)
    qs = draw(qty_steps)
    min_qty = qs * draw(st.integers(1, 5))
    min_cost = draw(st.sampled_from([0.0, 1.0, 5.0, 20.0, 100.0]))
    return make_market(ps, qs, min_qty, min_cost)


@st.composite
def strategies_(draw):
    return make_params(
        wallet_exposure_limit=draw(st.floats(0.05, 5.0)),
        initial_qty_pct=draw(st.floats(0.005, 0.5)),
        initial_eprice_ema_dist=draw(st.floats(-0.05, 0.1)),
        ddown_factor=draw(st.floats(0.05, 3.0)),
        rentry_pprice_dist=draw(st.floats(0.001, 0.2)),
        rentry_pprice_dist_wallet_exposure_weighting=draw(st.floats(0.0, 20.0)),
        min_markup=draw(st.floats(0.0005, 0.05)),
        markup_range=draw(st.floats(0.0, 0.1)),
        n_close_orders=float(draw(st.integers(1, 20))),
    )


@st.composite
def situations(draw):
    """A market, a strategy, a balance and an open position that respects the strategy's
    exposure limit, with a last price near the position price."""
    m = draw(markets())
    p = draw(strategies_())
    price = draw(st.floats(10.0, 100_000.0))
    pprice = round_nb(price * draw(st.floats(0.7, 1.3)), m[0])
    assume(pprice > m[0] * 10)
    balance = draw(st.floats(100.0, 1_000_000.0))
    max_steps = int(balance * p[P_WALLET_EXPOSURE_LIMIT] / pprice / m[1])
    min_steps = int(np.ceil(max(m[2], m[3] / pprice) / m[1] - 1e-9))
    assume(max_steps >= min_steps >= 1)
    steps = draw(st.integers(min_steps, min(max_steps, 10**7)))
    psize = round_nb(steps * m[1], m[1])
    last = round_nb(pprice * draw(st.floats(0.8, 1.2)), m[0])
    return m, p, balance, psize, pprice, last


def _min_ok(qty, price, m):
    return qty >= min_entry_qty_nb(price, m[1], m[2], m[3]) - 1e-12


@given(situations(), st.sampled_from([LONG, SHORT]))
def test_grid_orders_on_step_ordered_and_within_limits(sit, side):
    m, p, balance, psize, pprice, last = sit
    entries, closes = grid.ideal_orders_nb(side, balance, psize, pprice, last, last, last, p, m)
    for qty, price, _ in np.vstack((entries, closes)):
        assert is_on_step_nb(qty, m[1]) and is_on_step_nb(price, m[0])
        assert qty > 0 and price > 0
    # entries: strictly on the losing side of the position price, nearest first, distinct
    if entries.shape[0]:
        assert set(entries[:, 2]) == {KIND_REENTRY}
        assert np.all(side * (entries[:, 1] - pprice) < 0)
        assert np.all(side * np.diff(entries[:, 1]) < 0)
        assert np.all(side * (entries[:, 1] - last) <= 1e-9)  # never across the market
        for qty, price, _ in entries:
            assert _min_ok(qty, price, m)
    # exposure after every entry filled stays within the limit (+ one qty step)
    size, pp = psize, pprice
    for qty, price, _ in entries:
        size, pp = new_position_nb(size, pp, qty, price, m[1])
    wel = p[P_WALLET_EXPOSURE_LIMIT]
    last_price = entries[-1, 1] if entries.shape[0] else pprice
    if psize * pprice <= wel * balance:
        assert size * pp <= wel * balance + m[1] * last_price + 1e-6
    # closes: quantities sum exactly to the position, in whole steps
    assert sum(n_steps_nb(q, m[1]) for q in closes[:, 0]) == n_steps_nb(psize, m[1])
    assert closes.shape[0] <= int(p[P_N_CLOSE_ORDERS])
    # closes: inside the markup range (after rounding), or at the market when it is beyond it
    lo = pprice * (1 + side * p[P_MIN_MARKUP])
    hi = pprice * (1 + side * (p[P_MIN_MARKUP] + p[P_MARKUP_RANGE]))
    for qty, price, _ in closes:
        assert side * (price - lo) >= -1e-9
        bound = max(hi, last) if side == LONG else min(hi, last)
        outer = round_up_nb(bound, m[0]) if side == LONG else round_dn_nb(bound, m[0])
        assert side * (price - outer) <= 1e-9
        assert side * (price - last) >= -1e-9  # never across the market
    if closes.shape[0] > 1:
        assert np.all(side * np.diff(closes[:, 1]) > 0)
        for qty, price, _ in closes:
            assert _min_ok(qty, price, m)


@given(markets(), strategies_(), st.floats(100.0, 1e6), st.floats(10.0, 1e5), st.floats(0.9, 1.1),
       st.floats(0.95, 1.05), st.sampled_from([LONG, SHORT]))
def test_initial_entry_on_band_within_budget(m, p, balance, ema, spread, last_ratio, side):
    ema_lo, ema_hi = ema, ema * spread
    ema_lo, ema_hi = min(ema_lo, ema_hi), max(ema_lo, ema_hi)
    last = ema * last_ratio
    entries, closes = grid.ideal_orders_nb(side, balance, 0.0, 0.0, ema_lo, ema_hi, last, p, m)
    assert closes.shape[0] == 0
    if entries.shape[0] == 0:
        # Only allowed when even the exchange minimum breaks the budget.
        price = grid.initial_entry_price_nb(side, ema_lo, ema_hi, last, p, m)
        assert price <= 0 or min_entry_qty_nb(price, m[1], m[2], m[3]) * price > balance * p[P_WALLET_EXPOSURE_LIMIT]
        return
    qty, price, kind = entries[0]
    assert kind == KIND_INITIAL_ENTRY
    assert is_on_step_nb(qty, m[1]) and is_on_step_nb(price, m[0]) and _min_ok(qty, price, m)
    band = ema_lo if side == LONG else ema_hi
    target = band * (1 - side * p[P_INITIAL_EPRICE_EMA_DIST])
    expect = min(target, last) if side == LONG else max(target, last)
    assert abs(price - expect) < m[0] + 1e-9
    assert side * (price - expect) <= 1e-9  # rounded away from the market
    assert qty * price <= balance * p[P_WALLET_EXPOSURE_LIMIT] + m[1] * price + 1e-6


@given(strategies_(), st.floats(100.0, 1e6), st.floats(10.0, 1e5), st.integers(10, 10_000))
def test_short_mirrors_long(p, balance, pprice, steps):
    """With steps fine enough that rounding vanishes, short orders are long orders reflected
    through the position (or band) price: same quantities, opposite relative distances."""
    m = make_market(1e-9, 1e-6, 1e-6, 0.0)
    psize = steps * 1e-6
    assume(psize * pprice <= balance * p[P_WALLET_EXPOSURE_LIMIT])
    # levels closer than a price step merge after rounding, on whichever side they fall
    assume(p[P_MARKUP_RANGE] == 0.0 or p[P_MARKUP_RANGE] > 1e-6)
    cl = grid.close_grid_nb(LONG, psize, pprice, pprice, p, m)
    cs = grid.close_grid_nb(SHORT, psize, pprice, pprice, p, m)
    assert cl.shape == cs.shape
    assert np.allclose(cl[:, 0], cs[:, 0], rtol=0, atol=1e-12)
    assert np.allclose(cl[:, 1] / pprice - 1, -(cs[:, 1] / pprice - 1), atol=1e-8)
    ql, pl = grid.reentry_nb(LONG, balance, psize, pprice, pprice, p, m)
    qs, ps = grid.reentry_nb(SHORT, balance, psize, pprice, pprice, p, m)
    if ql > 0:  # a spacing >= 100% has no long re-entry (prices stay positive); short has one
        assert (pl / pprice - 1) == pytest.approx(-(ps / pprice - 1), abs=1e-8)
        ddown_qty = round_nb(psize * p[P_DDOWN_FACTOR], 1e-6)
        room = balance * p[P_WALLET_EXPOSURE_LIMIT] - psize * pprice
        if ddown_qty > 0 and ddown_qty * max(pl, ps) < room:  # neither cut by the limit
            assert ql == qs == ddown_qty
    band = pprice
    el = grid.initial_entry_price_nb(LONG, band, band, band, p, m)
    es = grid.initial_entry_price_nb(SHORT, band, band, band, p, m)
    if p[P_INITIAL_EPRICE_EMA_DIST] >= 0:
        assert (el / band - 1) == pytest.approx(-(es / band - 1), abs=1e-8)


@given(st.floats(10.0, 1e6), st.floats(1.0, 1e5), st.floats(0.001, 1000.0),
       st.sampled_from([("binance", "ETHUSDT"), ("binance", "BTCUSDT"), ("bybit", "ETHUSDT")]))
def test_unhedged_long_liq_price_below_position_price(balance, pprice, qty, key):
    spec = market_spec(*key)
    notional = qty * pprice
    mmr, cum = grid.bracket_nb(spec.brackets_array(), notional)
    tier = next(t for t in spec.tiers if notional <= t.notional_cap)
    assume(notional <= balance * tier.max_leverage)  # a position the exchange would allow
    lp, direction = liq_price_nb(balance, qty, pprice, mmr + spec.mmr_add, cum, 0.0, 0.0, 0.0, 0.0)
    if direction == LIQ_BELOW:
        assert 0.0 < lp < pprice


def test_ideal_orders_match_parts():
    p = make_params()
    entries, closes = grid.ideal_orders_nb(LONG, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1995.0, p, ETH)
    assert np.array_equal(entries, grid.entry_grid_nb(LONG, 1000.0, 0.05, 2000.0, 1995.0, p, ETH))
    assert np.array_equal(closes, grid.close_grid_nb(LONG, 0.05, 2000.0, 1995.0, p, ETH))
    assert entries.shape[0] >= 2


def test_param_indices_match_keys():
    p = make_params(ddown_factor=0.123, min_markup=0.0077, n_close_orders=7, markup_range=0.03,
                    rentry_pprice_dist=0.045, rentry_pprice_dist_wallet_exposure_weighting=2.5,
                    initial_qty_pct=0.031, initial_eprice_ema_dist=0.0042, wallet_exposure_limit=0.8)
    assert p[P_DDOWN_FACTOR] == 0.123 and p[P_MIN_MARKUP] == 0.0077 and p[P_N_CLOSE_ORDERS] == 7
    assert p[P_MARKUP_RANGE] == 0.03 and p[P_RENTRY_PPRICE_DIST] == 0.045
    assert p[P_RENTRY_PPRICE_DIST_WE_WEIGHTING] == 2.5 and p[P_INITIAL_QTY_PCT] == 0.031
    assert p[P_INITIAL_EPRICE_EMA_DIST] == 0.0042 and p[P_WALLET_EXPOSURE_LIMIT] == 0.8
    assert p[P_ENABLED] == 1.0


@given(markets(), strategies_(), st.floats(10.0, 1e5), st.floats(0.9, 1.1),
       st.sampled_from([0.0005, 0.001, 0.005]), st.sampled_from([LONG, SHORT]))
def test_quantized_initial_entry_never_more_aggressive_than_unquantized(m, p, ema, spread, tol,
                                                                        side):
    lo, hi = min(ema, ema * spread), max(ema, ema * spread)
    last = ema  # capped or not
    mt = m.copy()
    mt[M_REPRICE_TOL] = tol
    plain = grid.initial_entry_price_nb(side, lo, hi, last, p, m)
    quant = grid.initial_entry_price_nb(side, lo, hi, last, p, mt)
    assume(plain > 0)
    assert side * (quant - plain) <= 1e-9
    assert abs(quant - plain) <= tol * plain + m[0] + 1e-9  # within tol (and one tick of rounding)
    assert is_on_step_nb(quant, m[0])
