"""Liquidation price of a hedged cross-margin account, checked by hand against the published
formulas.

Binance: "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (Binance support FAQ,
cross margin):
    LP = (WB - TMM1 + UPNL1 + cumB + cumL + cumS - Side1BOTH*Position1BOTH*EP1BOTH
          - Position1LONG*EP1LONG + Position1SHORT*EP1SHORT)
         / (Position1BOTH*MMR_B + Position1LONG*MMR_L + Position1SHORT*MMR_S
            - Side1BOTH*Position1BOTH - Position1LONG + Position1SHORT)
One symbol in hedge mode: TMM1 = UPNL1 = 0 and no BOTH position.

Bybit (unified account, cross margin): liquidated when equity = maintenance margin, with
MM = position value x MMR - mmDeduction per position (Bybit help center, "Liquidation Price
(USDT Contract)" / "Maintenance Margin (UTA)"); solving for the price gives the same form.
"""

import math

import numpy as np
import pytest

from passivbot.margin import (
    LIQ_ABOVE, LIQ_BELOW, LIQ_NONE, bracket_nb, hedged_liq_price_nb, is_liquidated_nb, liq_price_nb,
)
from passivbot.markets import market_spec


def test_binance_long_only_hand_example():
    # WB = 1000, long 1 ETH at 2000, tier 1: MMR 0.5%, cum 0.
    # LP = (1000 + 0 - 1*2000) / (1*0.005 - 1) = -1000 / -0.995 = 1005.0251256...
    lp, d = liq_price_nb(1000.0, 1.0, 2000.0, 0.005, 0.0, 0.0, 0.0, 0.005, 0.0)
    assert d == LIQ_BELOW
    assert lp == pytest.approx(1000.0 / 0.995, rel=1e-12)


def test_binance_short_only_hand_example():
    # WB = 1000, short 1 ETH at 2000: LP = (1000 + 2000) / (0.005 + 1) = 3000 / 1.005 = 2985.07...
    lp, d = liq_price_nb(1000.0, 0.0, 0.0, 0.005, 0.0, 1.0, 2000.0, 0.005, 0.0)
    assert d == LIQ_ABOVE
    assert lp == pytest.approx(3000.0 / 1.005, rel=1e-12)


def test_binance_hedged_hand_example_with_tier_amounts():
    # WB = 5000; long 100 ETH at 2000 (notional 200,000: tier 2, MMR 0.65%, cum 75);
    # short 40 ETH at 2100 (notional 84,000: tier 2 too).
    # num = 5000 + 75 + 75 - 100*2000 + 40*2100 = 5150 - 200000 + 84000 = -110850
    # den = 100*0.0065 + 40*0.0065 - 100 + 40 = 0.91 - 60 = -59.09
    # LP = 1875.9519377...
    brackets = market_spec("binance", "ETHUSDT").brackets_array()
    assert bracket_nb(brackets, 200_000.0) == (0.0065, 75.0)
    lp, d = hedged_liq_price_nb(5000.0, 100.0, 2000.0, 40.0, 2100.0, brackets, 0.0)
    assert d == LIQ_BELOW
    assert lp == pytest.approx(-110850.0 / -59.09, rel=1e-12)


def test_bybit_equity_equals_maintenance_at_liq_price():
    # Bybit form: at LP, equity (WB + upnl) equals MM (value x (MMR + close fee) - deduction).
    spec = market_spec("bybit", "ETHUSDT")
    wb, sl, el, ss, es = 3000.0, 3.0, 2500.0, 1.0, 2600.0
    lp, d = hedged_liq_price_nb(wb, sl, el, ss, es, spec.brackets_array(), spec.mmr_add)
    assert d == LIQ_BELOW
    equity = wb + sl * (lp - el) + ss * (es - lp)
    mmr = 0.005 + spec.mmr_add
    mm = sl * lp * mmr + ss * lp * mmr
    assert equity == pytest.approx(mm, rel=1e-9)


def test_no_position_has_no_liquidation():
    lp, d = liq_price_nb(1000.0, 0.0, 0.0, 0.005, 0.0, 0.0, 0.0, 0.005, 0.0)
    assert d == LIQ_NONE
    assert not is_liquidated_nb(lp, d, 0.0, 1e12)


def test_overcollateralized_long_never_liquidates():
    # 1 ETH at 2000 with 10,000 wallet: numerator positive -> no positive liq price.
    lp, d = liq_price_nb(10_000.0, 1.0, 2000.0, 0.005, 0.0, 0.0, 0.0, 0.005, 0.0)
    assert d == LIQ_NONE and lp == 0.0


def test_long_liq_price_below_entry_when_unhedged_and_leveraged():
    for lev in (2.0, 5.0, 20.0):
        wb = 2000.0 / lev
        lp, d = liq_price_nb(wb, 1.0, 2000.0, 0.005, 0.0, 0.0, 0.0, 0.005, 0.0)
        assert d == LIQ_BELOW and 0.0 < lp < 2000.0


def test_liquidation_trigger_respects_direction():
    assert is_liquidated_nb(1000.0, LIQ_BELOW, 999.0, 1100.0)
    assert not is_liquidated_nb(1000.0, LIQ_BELOW, 1001.0, 1100.0)
    assert is_liquidated_nb(3000.0, LIQ_ABOVE, 2900.0, 3000.0)
    assert not is_liquidated_nb(3000.0, LIQ_ABOVE, 2900.0, 2999.0)


def test_tier_maintenance_amounts_are_continuous():
    # At each cap, MM computed with either adjacent tier is the same (how exchanges set cum).
    for key in (("binance", "ETHUSDT"), ("binance", "BTCUSDT"), ("bybit", "ETHUSDT")):
        b = market_spec(*key).brackets_array()
        for i in range(len(b) - 1):
            cap = b[i, 0]
            mm_lo = cap * b[i, 1] - b[i, 2]
            mm_hi = cap * b[i + 1, 1] - b[i + 1, 2]
            assert math.isclose(mm_lo, mm_hi, rel_tol=1e-9), (key, i)
    assert np.isinf(market_spec("binance", "ETHUSDT").brackets_array()[-1, 0])


# -- tiers at the liquidation price, funding, initial margin, settlement --------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from passivbot.margin import (  # noqa: E402
    available_margin_nb, entry_margin_ok_nb, funding_payment_nb, liquidation_balance_nb,
    liquidation_fill_price_nb, maintenance_margin_nb,
)
from passivbot.records import LONG, SHORT  # noqa: E402

SPECS = [market_spec("binance", "ETHUSDT"), market_spec("binance", "BTCUSDT"),
         market_spec("bybit", "ETHUSDT")]


def test_tier_is_chosen_at_the_liquidation_price_not_the_position_price():
    # Binance ETHUSDT: tier 1 up to 50,000 (MMR 0.5 %, cum 0), tier 2 to 500,000 (0.65 %, 75).
    # Long 26 @ 2000 (52,000: tier 2 at the entry), wallet 5000.
    # Tier 1: LP = (5000 - 52000) / (26 x 0.005 - 26) = -47000 / -25.87 = 1816.776...;
    #   notional there 26 x 1816.78 = 47,236 <= 50,000: tier 1 holds -> this is the price.
    # Tier 2 (the entry's tier): (5000 + 75 - 52000) / (26 x 0.0065 - 26) = 1816.616...,
    #   where the notional 47,232 is not tier 2: inconsistent (and on the unsafe side).
    b = market_spec("binance", "ETHUSDT").brackets_array()
    lp, d = hedged_liq_price_nb(5000.0, 26.0, 2000.0, 0.0, 0.0, b, 0.0)
    assert d == LIQ_BELOW and lp == pytest.approx(47000.0 / 25.87, rel=1e-12)
    assert bracket_nb(b, 26.0 * lp) == (0.005, 0.0)


def _equity(balance, sl, el, ss, es, p):
    return balance + sl * (p - el) + ss * (es - p)


def _mm(spec, sl, ss, p):
    b = spec.brackets_array()
    return maintenance_margin_nb(sl, p, b, spec.mmr_add) + maintenance_margin_nb(ss, p, b, spec.mmr_add)


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 2), balance=st.floats(10.0, 1e6), sl=st.floats(0.0, 500.0),
       el=st.floats(100.0, 5000.0), short_frac=st.floats(0.0, 2.0), es=st.floats(100.0, 5000.0))
def test_equity_equals_maintenance_at_the_liquidation_price(k, balance, sl, el, short_frac, es):
    spec = SPECS[k]
    ss = sl * short_frac if sl > 0 else 10.0 * short_frac
    lp, d = hedged_liq_price_nb(balance, sl, el, ss, es, spec.brackets_array(), spec.mmr_add)
    if d == LIQ_NONE or lp <= 0.0:
        return
    eq = _equity(balance, sl, el, ss, es, lp)
    mm = _mm(spec, sl, ss, lp)  # the tiers of the notional at lp itself
    scale = balance + (sl + ss) * (lp + el + es)
    assert abs(eq - mm) <= 1e-9 * scale


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 2), tier=st.integers(0, 6), sl=st.floats(0.5, 1000.0),
       short_frac=st.floats(0.0, 0.3), el_mult=st.floats(1.05, 3.0), es_mult=st.floats(0.5, 2.0))
def test_liquidation_price_at_a_tier_boundary(k, tier, sl, short_frac, el_mult, es_mult):
    # Put the long's notional exactly on a tier cap at P and choose the wallet so that equity =
    # maintenance there: the liquidation price must be P (either adjacent tier gives the same
    # maintenance margin at the cap, so the root is unique).
    spec = SPECS[k]
    b = spec.brackets_array()
    tier = min(tier, len(b) - 2)
    p = b[tier, 0] / sl
    el, es, ss = p * el_mult, p * es_mult, sl * short_frac
    balance = _mm(spec, sl, ss, p) - sl * (p - el) - ss * (es - p)
    if balance <= 0.0:
        return
    lp, d = hedged_liq_price_nb(balance, sl, el, ss, es, b, spec.mmr_add)
    assert d == LIQ_BELOW and lp == pytest.approx(p, rel=1e-9)


def test_funding_payment_signs():
    # longs pay a positive rate, shorts receive it; a negative rate reverses both
    assert funding_payment_nb(LONG, 2.0, 1500.0, 0.0001) == pytest.approx(0.3)
    assert funding_payment_nb(SHORT, 2.0, 1500.0, 0.0001) == pytest.approx(-0.3)
    assert funding_payment_nb(LONG, 2.0, 1500.0, -0.0002) == pytest.approx(-0.6)
    assert funding_payment_nb(SHORT, 2.0, 1500.0, -0.0002) == pytest.approx(0.6)


def test_available_margin_and_entry_check_by_hand():
    # Wallet 1000, upnl -50, positions 3000 notional at 10x (IM 300), open entry orders 1000
    # notional (IM 100): available 1000 - 50 - 300 - 100 = 550. An entry of 1 @ 5500 (IM 550)
    # fits exactly; 1 @ 5501 (IM 550.1) does not.
    avail = available_margin_nb(1000.0, -50.0, 3000.0 / 10, 1000.0 / 10)
    assert avail == pytest.approx(550.0)
    assert entry_margin_ok_nb(avail, 1.0, 5500.0, 10.0)
    assert not entry_margin_ok_nb(avail, 1.0, 5501.0, 10.0)


def test_liquidation_settlement_at_the_open_on_a_gap_and_balance_never_negative():
    assert liquidation_fill_price_nb(1000.0, LIQ_BELOW, 1010.0) == 1000.0  # trades through
    assert liquidation_fill_price_nb(1000.0, LIQ_BELOW, 950.0) == 950.0  # opens below: gap
    assert liquidation_fill_price_nb(3000.0, LIQ_ABOVE, 2990.0) == 3000.0
    assert liquidation_fill_price_nb(3000.0, LIQ_ABOVE, 3100.0) == 3100.0
    assert liquidation_fill_price_nb(0.0, LIQ_ABOVE, 2500.0) == 2500.0  # under maintenance
    assert liquidation_balance_nb(4.07) == (0.0, 4.07)
    assert liquidation_balance_nb(-72.33) == (0.0, -72.33)


def test_account_under_maintenance_at_every_price_is_liquidated_at_once():
    # Hedged 1 long @ 2000 and 1 short @ 2000 with a wallet of 5: maintenance 2 x 2000 x 0.5 %
    # = 20 > equity 5 at any price near, and the slope never brings it back
    b = market_spec("binance", "ETHUSDT").brackets_array()
    lp, d = hedged_liq_price_nb(5.0, 1.0, 2000.0, 1.0, 2000.0, b, 0.0)
    assert d == LIQ_ABOVE and is_liquidated_nb(lp, d, 1999.0, 2001.0)
