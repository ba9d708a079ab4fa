"""Bounded-loss kernels (passivbot.risk): hand-worked unstuck closes and stop decisions, and
properties (hypothesis): unstuck losses never exceed the allowance, no entry while stopped."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from passivbot import risk
from passivbot.grid import close_grid_nb
from passivbot.numeric import close_pnl_nb, new_position_nb, reduce_position_nb, round_nb
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, LONG, ORDER_COLS, SHORT
from tests.test_grid import make_market, make_params

MARKET = make_market(0.01, 0.001, 0.001, 5.0)
FEE = 0.0002
T0 = 1_700_000_000_000


def rp(threshold=0.8, close_pct=0.1, ema_dist=0.005, allowance=0.01) -> np.ndarray:
    a = np.array([threshold, close_pct, ema_dist, allowance], dtype=np.float64)
    assert a.shape == (risk.N_RISK_PARAMS,)
    return a


def sp(drawdown=0.2, cooldown_minutes=60.0) -> np.ndarray:
    return np.array([drawdown, cooldown_minutes], dtype=np.float64)


def unstuck(side, psize=0.25, pprice=2000.0, lo=1750.0, hi=1800.0, last=1790.0, balance=1000.0,
            peak=1100.0, loss=8.0, rparams=None, params=None):
    return risk.unstuck_close_nb(side, balance, psize, pprice, lo, hi, last,
                                 make_params() if params is None else params,
                                 rp() if rparams is None else rparams, MARKET, peak, loss, FEE)


# ---------------------------------------------------------------------------------------------
# auto-unstuck: hand-worked


def test_unstuck_long_is_cut_to_the_allowance_left():
    # Exposure 0.25 x 2000 / 1000 = 0.5 > 0.8 x 0.5. Price: upper band 1800 x 1.005 = 1809.00
    # (above the last price 1790). Wanted 10 % of 0.25 = 0.025; each unit loses
    # 2000 - 1809 + 0.0002 x 1809 = 191.3618; allowance 0.01 x 1100 - 8 = 3 -> 3 / 191.3618 =
    # 0.01567 -> 0.015 (loss 2.870427).
    qty, price, why = unstuck(LONG)
    assert (qty, price, why) == (0.015, 1809.0, risk.UNSTUCK_OK)
    assert risk.unstuck_loss_nb(LONG, 2000.0, price, qty, FEE) == pytest.approx(2.870427, abs=1e-9)


def test_unstuck_long_uncut_when_the_allowance_is_large():
    # Allowance 0.05 x 1100 - 8 = 47 > 0.025 x 191.3618 = 4.784: the full 10 %.
    assert unstuck(LONG, rparams=rp(allowance=0.05)) == (0.025, 1809.0, risk.UNSTUCK_OK)


def test_unstuck_short_mirrors():
    # Short 0.25 @ 2000 with the price up: lower band 2200 x 0.995 = 2189.00 (below the last
    # price 2210). Loss per unit 2189 - 2000 + 0.0002 x 2189 = 189.4378; 3 / 189.4378 = 0.01584.
    qty, price, why = unstuck(SHORT, lo=2200.0, hi=2300.0, last=2210.0)
    assert (qty, price, why) == (0.015, 2189.0, risk.UNSTUCK_OK)


def test_unstuck_never_crosses_the_last_price():
    # Upper band 1700 x 1.005 = 1708.5 is below the last price 1790: a sell there would take
    # liquidity, so it rests at the last price.
    qty, price, why = unstuck(LONG, lo=1650.0, hi=1700.0, last=1790.0)
    assert (price, why) == (1790.0, risk.UNSTUCK_OK)


def test_unstuck_refuses_when_the_allowance_cannot_pay_the_minimum():
    # Room 11 - 10.5 = 0.5 -> 0.5 / 191.3618 = 0.0026 -> 0.002, below min cost 5 / 1809 -> 0.003.
    assert unstuck(LONG, loss=10.5) == (0.0, 0.0, risk.UNSTUCK_NO_ALLOWANCE)
    assert unstuck(LONG, loss=11.0) == (0.0, 0.0, risk.UNSTUCK_NO_ALLOWANCE)


def test_unstuck_at_a_profit_needs_no_allowance():
    # Position price 1700 under the unstuck price 1809: a gain, placed even with nothing left.
    assert unstuck(LONG, pprice=1700.0, loss=50.0, balance=400.0) == (
        0.025, 1809.0, risk.UNSTUCK_OK)


@pytest.mark.parametrize("kw, why", [
    (dict(rparams=rp(threshold=0.0)), risk.UNSTUCK_OFF),
    (dict(rparams=rp(close_pct=0.0)), risk.UNSTUCK_OFF),
    (dict(rparams=rp(allowance=0.0)), risk.UNSTUCK_OFF),
    (dict(psize=0.0), risk.UNSTUCK_NO_POSITION),
    (dict(psize=0.2), risk.UNSTUCK_BELOW_THRESHOLD),  # 400 / 1000 = 0.4, not above 0.8 x 0.5
    (dict(hi=0.0), risk.UNSTUCK_BAD_PRICE),
    (dict(balance=0.0), risk.UNSTUCK_BAD_PRICE),
])
def test_unstuck_says_why_it_places_nothing(kw, why):
    assert unstuck(LONG, **kw) == (0.0, 0.0, why)


def test_closes_with_unstuck_sum_to_the_position_nearest_first():
    params = make_params()
    closes, why = risk.closes_with_unstuck_nb(LONG, 1000.0, 0.25, 2000.0, 1750.0, 1800.0, 1790.0,
                                              params, rp(), MARKET, 1100.0, 8.0, FEE)
    assert why == risk.UNSTUCK_OK
    assert closes[0].tolist() == [0.015, 1809.0, risk.KIND_UNSTUCK_CLOSE]
    assert (closes[1:, 2] == KIND_CLOSE).all()
    assert round_nb(closes[:, 0].sum(), 0.001) == 0.25
    assert np.all(np.diff(closes[:, 1]) > 0)  # sells, lowest first
    # the take-profits are the grid of the remaining 0.235
    tp = close_grid_nb(LONG, 0.235, 2000.0, 1790.0, params, MARKET)
    assert np.array_equal(closes[1:], tp)


def test_closes_with_unstuck_off_is_the_plain_grid():
    params = make_params()
    closes, why = risk.closes_with_unstuck_nb(SHORT, 1000.0, 0.25, 2000.0, 2200.0, 2300.0, 2210.0,
                                              params, rp(threshold=0.0), MARKET, 1100.0, 0.0, FEE)
    assert why == risk.UNSTUCK_OFF
    assert np.array_equal(closes, close_grid_nb(SHORT, 0.25, 2000.0, 2210.0, params, MARKET))


# ---------------------------------------------------------------------------------------------
# equity stop: hand-worked


def test_stop_trades_and_raises_the_peak():
    assert risk.equity_stop_nb(1050.0, 1000.0, 0, T0, sp()) == (risk.STOP_TRADING, 0, 1050.0)
    # 800.01 is not below 1000 x 0.8
    assert risk.equity_stop_nb(800.01, 1000.0, 0, T0, sp()) == (risk.STOP_TRADING, 0, 1000.0)


def test_stop_fires_below_the_drawdown_and_rebases_the_peak():
    d, until, peak = risk.equity_stop_nb(799.99, 1000.0, 0, T0, sp(cooldown_minutes=60.0))
    assert (d, until, peak) == (risk.STOP_FIRE, T0 + 3_600_000, 799.99)


def test_stop_cools_down_then_resumes_from_a_fresh_peak():
    until = T0 + 3_600_000
    assert risk.equity_stop_nb(790.0, 799.99, until, T0 + 60_000, sp()) == (
        risk.STOP_COOLING, until, 790.0)
    assert not risk.entries_allowed_nb(until, until - 1)
    # at the end of the cool-down: trading, peak = max(790, 785): no immediate re-fire
    assert risk.equity_stop_nb(785.0, 790.0, until, until, sp()) == (
        risk.STOP_TRADING, until, 790.0)
    assert risk.entries_allowed_nb(until, until)


def test_stop_with_zero_cooldown_lasts_until_cleared():
    d, until, _ = risk.equity_stop_nb(700.0, 1000.0, 0, T0, sp(cooldown_minutes=0.0))
    assert (d, until) == (risk.STOP_FIRE, risk.STOP_FOREVER)
    assert not risk.entries_allowed_nb(until, T0 + 10 * 365 * 86_400_000)


def test_stop_off_only_tracks_the_peak():
    assert risk.equity_stop_nb(1.0, 1000.0, 0, T0, sp(drawdown=0.0)) == (risk.STOP_OFF, 0, 1000.0)


def test_filter_entries_and_stop_close():
    e = np.array([[0.01, 1990.0, KIND_INITIAL_ENTRY]])
    assert risk.filter_entries_nb(e, T0 + 1, T0).shape == (0, ORDER_COLS)
    assert np.array_equal(risk.filter_entries_nb(e, T0, T0), e)
    assert risk.stop_close_nb(0.25, 1800.0).tolist() == [[0.25, 1800.0, risk.KIND_STOP_CLOSE]]
    assert risk.stop_close_nb(0.0, 1800.0).shape == (0, ORDER_COLS)


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def unstuck_runs(draw):
    side = draw(st.sampled_from([LONG, SHORT]))
    rparams = rp(threshold=draw(st.floats(0.1, 1.0)), close_pct=draw(st.floats(0.01, 1.0)),
                 ema_dist=draw(st.floats(-0.01, 0.05)), allowance=draw(st.floats(0.001, 0.5)))
    wel = draw(st.floats(0.1, 3.0))
    steps = draw(st.lists(st.tuples(st.floats(0.3, 1.0), st.floats(0.0, 0.1),
                                    st.floats(-0.05, 0.05), st.floats(0.0, 0.2)),
                          min_size=1, max_size=30))
    fee = draw(st.sampled_from([0.0, 0.0002, 0.001]))
    return side, rparams, make_params(wallet_exposure_limit=wel), steps, fee


@given(unstuck_runs())
def test_realized_unstuck_losses_never_exceed_the_allowance(run):
    """Each step: the market moves against the position (ratio), the bot buys back to its limit,
    takes some profit elsewhere (raising the balance and its peak), and its unstuck close fills
    at its price. The sum of the fills' losses stays within pct x peak balance at every step."""
    side, rparams, params, steps, fee = run
    qty_step = MARKET[1]
    balance = peak = 1000.0
    psize, pprice = 0.0, 0.0
    price = 2000.0
    loss = 0.0
    wel = params[1]
    for move, band, dist, gain in steps:
        price = price * (move if side == LONG else 1.0 / move)
        add = round_nb(max(0.0, wel * balance - psize * pprice) / price, qty_step)
        if add > 0.0:
            psize, pprice = new_position_nb(psize, pprice, add, price, qty_step)
        balance += gain * balance
        peak = max(peak, balance)
        lo, hi = price * (1.0 - band), price * (1.0 + band)
        rparams[risk.U_EMA_DIST] = dist
        qty, at, why = risk.unstuck_close_nb(side, balance, psize, pprice, lo, hi, price, params,
                                             rparams, MARKET, peak, loss, fee)
        if why != risk.UNSTUCK_OK:
            continue
        assert 0.0 < qty <= psize
        pnl = close_pnl_nb(side, pprice, at, qty)
        fee_paid = qty * at * fee
        loss += max(0.0, fee_paid - pnl)
        balance += pnl - fee_paid
        psize, pprice = reduce_position_nb(psize, pprice, qty, qty_step)
        assert loss <= rparams[risk.U_LOSS_ALLOWANCE_PCT] * peak * (1 + 1e-12)


@given(st.floats(0.01, 0.9), st.floats(0.0, 10_000.0),
       st.lists(st.tuples(st.floats(0.5, 1.5), st.integers(1, 600_000)), min_size=1,
                max_size=60))
def test_no_entry_while_the_stop_cools_down(drawdown, cooldown, path):
    """Whatever equity does, once the stop fires no entry is allowed before the cool-down ends
    (never, for 0), and entries are allowed again from its end on, unless it fires again."""
    sparams = sp(drawdown, cooldown)
    equity, peak, until, now = 1000.0, 1000.0, 0, T0
    fired_at = None
    for ratio, dt in path:
        now += dt
        equity *= ratio
        d, until, peak = risk.equity_stop_nb(equity, peak, until, now, sparams)
        if d == risk.STOP_FIRE:
            fired_at = now
            assert until == (risk.STOP_FOREVER if cooldown == 0.0 else now + int(cooldown * 60_000))
        allowed = risk.entries_allowed_nb(until, now)
        if fired_at is not None and (cooldown == 0.0 or now < fired_at + int(cooldown * 60_000)):
            assert not allowed
            assert risk.filter_entries_nb(np.ones((2, ORDER_COLS)), until, now).shape[0] == 0
        elif d != risk.STOP_FIRE:
            assert allowed
        assert d != risk.STOP_TRADING or equity >= peak * (1 - drawdown)


@given(st.floats(0.01, 0.5), st.floats(0.0, 0.01),
       st.lists(st.floats(0.8, 1.2), min_size=1, max_size=80))
def test_stop_fires_at_the_first_close_past_the_limit(drawdown, fee, ratios):
    """The stop realizes at most the limit plus one step's move plus the closing fee: it fires at
    the first observation below peak x (1 - drawdown), never later, and the market close at the
    next price pays the fee on the position. Here equity moves by `ratio` per close and the whole
    equity is exposed (the worst case for the fee)."""
    sparams = sp(drawdown, 60.0)
    equity, peak, until, now = 1000.0, 1000.0, 0, T0
    for ratio in ratios:
        now += 60_000
        prev, prev_peak = equity, peak
        equity *= ratio
        d, until, peak = risk.equity_stop_nb(equity, peak, until, now, sparams)
        if d == risk.STOP_FIRE:
            assert prev >= prev_peak * (1 - drawdown) or prev_peak == prev  # first crossing
            realized = equity * (1 - fee)  # closed at this price, fee on the notional
            fall = (max(prev_peak, prev) - realized) / max(prev_peak, prev)
            move = abs(equity - prev) / max(prev_peak, prev)
            assert fall <= drawdown + move + fee + 1e-12
            break
