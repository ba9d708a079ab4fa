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
