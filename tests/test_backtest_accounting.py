"""Perpetual-futures accounting of the backtest, on hand-made candles with every number worked out
in the comments: funding (8 h and 4 h symbols, marks given or the candle's open), an entry refused
for initial margin, a liquidation that leaves the balance at 0, a candle that gaps through the
liquidation price, the one-minute row check and the EMA warm-up."""

import numpy as np
import pytest

from passivbot.backtest.engine import (
    S_FUNDING_EVENTS, S_FUNDING_PAID, S_FUNDING_RECEIVED, S_LIQ_MARGIN_LOST, S_LIQUIDATED,
    S_MARGIN_REFUSED, CandleGapError, run_backtest,
)
from passivbot.backtest.stats import compute_stats
from passivbot.margin import LIQ_BELOW, hedged_liq_price_nb
from passivbot.records import KIND_FUNDING, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, LONG, SHORT
from tests.backtest_helpers import make_params

# Price step 0.1, qty step 0.01, min qty 0.01, min cost 1; one tier, mmr 1 %, no amount.
MARKET = np.array([0.1, 0.01, 0.01, 1.0])
BRACKETS = np.array([[np.inf, 0.01, 0.0]])
MAKER, TAKER = 0.001, 0.002
H = 60  # minutes an hour
# EMA spans 1: the band is the last close. One entry 1 % beyond it, then nothing: re-entry and
# take-profit 50 % away.
QUIET = dict(ema_span_0=1.0, ema_span_1=1.0, initial_eprice_ema_dist=0.01, ddown_factor=1.0,
             rentry_pprice_dist=0.5, rentry_pprice_dist_wallet_exposure_weighting=0.0,
             min_markup=0.5, markup_range=0.0, n_close_orders=1.0)
OFF = make_params(enabled=0.0)


def flat_candles(n: int, price: float = 100.0) -> np.ndarray:
    c = np.zeros((n, 6))
    c[:, 0] = np.arange(n) * 60_000.0
    c[:, 1:5] = price
    c[:, 5] = 1.0
    return c


def side_params(wel: float = 1.0, iqp: float = 0.1) -> np.ndarray:
    return make_params(wallet_exposure_limit=wel, initial_qty_pct=iqp, **QUIET)


def long_entered(n: int, balance: float = 1000.0, wel: float = 1.0, iqp: float = 0.1):
    """Candles where the long's first entry fills at minute 1: seed close 100 -> entry 99.0,
    qty round(balance x wel x iqp / 99, 0.01); candle 1 trades down to 98.9."""
    c = flat_candles(n)
    c[1, 3] = 98.9
    return c, side_params(wel, iqp)


# -- funding -------------------------------------------------------------------------------------

def test_funding_8h_symbol_long_pays_and_receives_at_the_mark_price():
    # Long 1.01 @ 99.0 (cost 100 = 1000 x 1.0 x 0.1), fee 1.01 x 99 x 0.001 = 0.09999,
    # balance 999.90001; then flat at 100 for 25 h: 8 h funding at 8 h, 16 h, 24 h:
    #   8 h:  mark 101.0, rate +0.0001 -> pays 1.01 x 101 x 0.0001   = 0.010201
    #   16 h: mark  98.0, rate -0.0002 -> receives 1.01 x 98 x 0.0002 = 0.019796
    #   24 h: mark NaN (the candle's open, 100), rate +0.0003 -> pays 1.01 x 100 x 0.0003 = 0.0303
    # final balance 999.90001 - 0.010201 + 0.019796 - 0.0303 = 999.879305
    c, lp = long_entered(25 * H)
    times = np.array([8, 16, 24]) * H * 60_000
    fills, equity, summary = run_backtest(
        c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER, funding_times=times,
        funding_rates=np.array([0.0001, -0.0002, 0.0003]),
        funding_marks=np.array([101.0, 98.0, np.nan]))
    fund = fills[fills["kind"] == KIND_FUNDING]
    assert list(fund["minute"]) == [8 * H, 16 * H, 24 * H]
    assert (fund["side"] == LONG).all() and (fund["qty"] == 1.01).all() and (fund["fee"] == 0).all()
    np.testing.assert_allclose(fund["price"], [101.0, 98.0, 100.0])
    np.testing.assert_allclose(fund["pnl"], [-0.010201, 0.019796, -0.0303], rtol=1e-12)
    np.testing.assert_allclose(fund["balance"], [999.889809, 999.909605, 999.879305], rtol=1e-12)
    assert summary[S_FUNDING_PAID] == pytest.approx(0.040501, rel=1e-12)
    assert summary[S_FUNDING_RECEIVED] == pytest.approx(0.019796, rel=1e-12)
    assert summary[S_FUNDING_EVENTS] == 3
    s = compute_stats(fills, equity, summary, c, 1000.0)
    assert s["final_balance"] == pytest.approx(999.879305, rel=1e-12)
    assert s["funding_net"] == pytest.approx(0.019796 - 0.040501, rel=1e-12)
    assert s["n_fills"] == 1 and s["fills_per_day"] == pytest.approx(1440 / (25 * H))


def test_funding_4h_symbol_short_receives_a_positive_rate_every_event():
    # Short 0.99 @ 101.0 (cost 100 / 101 = 0.990 -> 0.99), fee 0.99 x 101 x 0.001 = 0.09999.
    # 4 h funding at 4, 8, .., 24 h (6 events), +0.0001, mark unknown -> the open (100):
    # each receives 0.99 x 100 x 0.0001 = 0.0099; total 0.0594.
    c = flat_candles(25 * H)
    c[1, 2] = 101.1
    times = np.arange(1, 7) * 4 * H * 60_000
    fills, equity, summary = run_backtest(
        c, OFF, side_params(), MARKET, BRACKETS, 1000.0, MAKER, TAKER, funding_times=times,
        funding_rates=np.full(6, 0.0001))
    entry = fills[fills["kind"] == KIND_INITIAL_ENTRY]
    assert (entry["side"], entry["qty"], entry["price"]) == (SHORT, 0.99, 101.0)
    fund = fills[fills["kind"] == KIND_FUNDING]
    assert list(fund["minute"]) == [4 * H * k for k in range(1, 7)]
    np.testing.assert_allclose(fund["pnl"], np.full(6, 0.0099), rtol=1e-12)
    assert summary[S_FUNDING_RECEIVED] == pytest.approx(0.0594, rel=1e-12)
    assert summary[S_FUNDING_PAID] == 0.0
    assert fills["balance"][-1] == pytest.approx(1000.0 - 0.09999 + 0.0594, rel=1e-12)


def test_funding_between_minutes_is_charged_at_the_next_candle_and_flat_pays_nothing():
    # An event 5 ms past 08:00 is settled at the candle opening 08:01; an event at 00:30, when
    # the account is still flat before its entry... is before minute 1: nothing to pay.
    c, lp = long_entered(9 * H)
    times = np.array([0, 8 * H * 60_000 + 5])
    fills, _, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER,
                                     funding_times=times, funding_rates=np.array([0.01, 0.0001]))
    fund = fills[fills["kind"] == KIND_FUNDING]
    assert list(fund["minute"]) == [8 * H + 1]
    assert summary[S_FUNDING_EVENTS] == 1  # the event at candle 0 precedes trading


def test_funding_keeps_cached_and_recomputed_books_identical():
    c, lp = long_entered(25 * H)
    kw = dict(funding_times=np.arange(1, 4) * 8 * H * 60_000,
              funding_rates=np.array([0.01, -0.02, 0.03]))
    a = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER, **kw)
    b = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER, True, **kw)
    np.testing.assert_array_equal(a[0], b[0])


# -- initial margin ------------------------------------------------------------------------------

def test_entry_refused_for_margin_then_accepted_with_more_leverage():
    # Balance 100, exposure limit 5, initial qty 50 %: cost 250 -> 250 / 99 = 2.525 -> 2.53 @ 99.
    # Initial margin 2.53 x 99 / leverage: at 2x 125.235 > 100 available -> refused, in each of
    # the 2 candles that trade below 99; at 3x 83.49 <= 100 -> filled.
    c, lp = long_entered(4, balance=100.0, wel=5.0, iqp=0.5)
    c[2, 3] = 98.5
    fills, _, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 100.0, MAKER, TAKER,
                                     leverage=2.0)
    assert len(fills) == 0 and summary[S_MARGIN_REFUSED] == 2
    fills, _, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 100.0, MAKER, TAKER,
                                     leverage=3.0)
    assert summary[S_MARGIN_REFUSED] == 0
    assert (fills["qty"][0], fills["price"][0]) == (2.53, 99.0)


def test_margin_counts_the_unrealized_loss_of_the_open_position():
    # Balance 100, leverage 3. Long 2.53 @ 99 (as above): IM 250.47 / 3 = 83.49, fee 0.25047,
    # wallet 99.74953. The short (exposure 1, 10 %) rests ~1 % over the last close and candle 3
    # trades up through it; its IM is about 10 / 3 = 3.3. Available at the last close c:
    #   c = 95: 99.74953 + 2.53 x (95 - 99) - 83.49 = 6.13953 -> the short fits
    #   c = 92: 99.74953 + 2.53 x (92 - 99) - 83.49 = -1.45047 -> refused
    for close, refused in ((95.0, 0), (92.0, 1)):
        c, lp = long_entered(5, balance=100.0, wel=5.0, iqp=0.5)
        c[2, 1:5] = (99.0, 99.0, close, close)
        c[3, 1:5] = (close, close * 1.02, close, close)
        c[4, 1:5] = close
        fills, _, summary = run_backtest(c, lp, side_params(), MARKET, BRACKETS, 100.0, MAKER,
                                         TAKER, leverage=3.0)
        shorts = fills[fills["side"] == SHORT]
        assert summary[S_MARGIN_REFUSED] == refused and len(shorts) == 1 - refused
        assert (fills[fills["side"] == LONG]["qty"] == 2.53).all()


# -- liquidation ---------------------------------------------------------------------------------

def _leveraged_long():
    # Balance 100: long 2.53 @ 99 (exposure 2.5), fee 0.25047 -> wallet 99.74953.
    # LP = (99.74953 - 2.53 x 99) / (2.53 x 0.01 - 2.53) = -150.72047 / -2.5047 = 60.1750589
    c, lp = long_entered(6, balance=100.0, wel=5.0, iqp=0.5)
    wallet = 100.0 - 2.53 * 99.0 * MAKER
    liq = (wallet - 2.53 * 99.0) / (2.53 * 0.01 - 2.53)
    got, d = hedged_liq_price_nb(wallet, 2.53, 99.0, 0.0, 0.0, BRACKETS, 0.0)
    assert d == LIQ_BELOW and got == pytest.approx(liq, rel=1e-12)
    assert liq == pytest.approx(60.1750589, rel=1e-8)
    c[2, 1:5] = (100.0, 100.0, 70.0, 70.0)  # falls, not to the liquidation price
    return c, lp, wallet, liq


def test_liquidation_leaves_balance_zero():
    c, lp, wallet, liq = _leveraged_long()
    c[3, 1:5] = (70.0, 70.0, 60.0, 60.5)  # opens above 60.175, trades through it
    fills, equity, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 100.0, MAKER, TAKER,
                                          leverage=10.0)
    liq_fill = fills[-1]
    assert liq_fill["kind"] == KIND_LIQUIDATION and liq_fill["minute"] == 3
    assert liq_fill["price"] == pytest.approx(liq, rel=1e-12)
    # at the liquidation price equity = maintenance: wallet + 2.53 (LP - 99) = 2.53 x LP x 0.01
    pnl = 2.53 * (liq - 99.0)
    assert wallet + pnl == pytest.approx(2.53 * liq * 0.01, rel=1e-9)
    taker = 2.53 * liq * TAKER
    lost = wallet + pnl - taker  # the maintenance margin left, minus the close fee: ~1.218
    assert lost == pytest.approx(2.53 * liq * (0.01 - TAKER), rel=1e-9)
    assert liq_fill["pnl"] == pytest.approx(pnl, rel=1e-12)
    assert liq_fill["fee"] == pytest.approx(taker + lost, rel=1e-12)
    assert liq_fill["balance"] == 0.0 and summary[S_LIQUIDATED] == 1.0
    assert summary[S_LIQ_MARGIN_LOST] == pytest.approx(lost, rel=1e-12)
    s = compute_stats(fills, equity, summary, c, 100.0)
    assert s["final_balance"] == 0.0 and s["max_drawdown"] == 1.0 and s["gain"] == -1.0
    assert s["fees_paid"] == pytest.approx(2.53 * 99.0 * MAKER + taker, rel=1e-12)


def test_candle_gapping_through_liquidation_settles_at_the_open_and_floors_balance():
    c, lp, wallet, liq = _leveraged_long()
    c[3, 1:5] = (50.0, 52.0, 45.0, 48.0)  # opens at 50, below the liquidation price 60.175
    fills, _, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 100.0, MAKER, TAKER)
    f = fills[-1]
    assert f["kind"] == KIND_LIQUIDATION and f["price"] == 50.0
    # close 2.53 @ 50: pnl 2.53 x (50 - 99) = -123.97, fee 2.53 x 50 x 0.002 = 0.253;
    # 99.74953 - 123.97 - 0.253 = -24.47347: the insurance fund's, the balance is 0
    assert f["pnl"] == pytest.approx(-123.97, rel=1e-12)
    assert summary[S_LIQ_MARGIN_LOST] == pytest.approx(-24.47347, rel=1e-9)
    assert f["fee"] == pytest.approx(0.253 - 24.47347, rel=1e-9)
    assert f["balance"] == 0.0


# -- candles and warm-up -------------------------------------------------------------------------

def test_rows_not_one_minute_apart_are_an_error_naming_the_timestamps():
    c, lp = long_entered(10)
    c[6:, 0] += 60_000  # minute 5 is missing
    with pytest.raises(CandleGapError, match=r"row 5 at 1970-01-01 00:05:00 UTC .* row 6 at "
                                             r"1970-01-01 00:07:00 UTC \(2 minutes later\)"):
        run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER)
    with pytest.raises(CandleGapError):  # also inside the warm-up
        run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER, warmup=8)


def test_warmup_candles_only_feed_the_emas():
    # Without warm-up the entry 99.0 rests at candle 1's open and fills (low 98.9). With 2
    # warm-up candles the first orders rest at candle 3's open, made from candle 2's close 100
    # -> entry 99.0, and candle 3 (low 98.5) fills it; candles 1-2 trade nothing.
    c, lp = long_entered(6)
    c[3, 3] = 98.5
    fills, equity, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER)
    assert list(fills["minute"]) == [1]
    fills, equity, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER,
                                          warmup=2)
    assert list(fills["minute"]) == [3] and fills["price"][0] == 99.0
    assert equity[0, 0] == c[2, 0]  # the first equity sample is the warm-up's last candle
    s = compute_stats(fills, equity, summary, c, 1000.0)
    # days count from the warm-up's last candle (the seed, as candle 0 without warm-up)
    assert s["days"] == pytest.approx(4 / 1440)


def test_emulator_settles_funding_with_the_backtests_rule():
    """The emulator's account charges funding through the same margin.funding_payment_nb."""
    from passivbot.emulator import Emulator
    from harness.emulator import flat_candles as emu_candles

    emu = Emulator("binance", "ETHUSDT", emu_candles(10, 2000.0, 1.0), start_index=2,
                   starting_balance=1000.0)
    acc = emu.account
    acc.hedge_mode = True
    assert acc.place(is_buy=True, qty=0.5, price=1999.5, position_side=LONG).status == "NEW"
    acc.step()
    balance = acc.balance
    events = []
    acc.listeners.append(lambda kind, payload: events.append((kind, payload.get("reason"))))
    # long 0.5 at mark 2010, rate +0.0001: pays 0.5 x 2010 x 0.0001 = 0.1005
    assert acc.settle_funding(0.0001, 2010.0) == [(LONG, pytest.approx(0.1005))]
    assert acc.balance == pytest.approx(balance - 0.1005, rel=1e-12)
    assert ("account", "FUNDING_FEE") in events


def test_warmup_keeps_hourly_equity_samples_over_the_whole_range():
    # 150 warm-up candles: flat samples at candles 30 and 90 (on the hour grid of candle 150),
    # then 150, 210, .., and the last; stats start at candle 150
    c, lp = long_entered(400)
    c[1, 3] = 100.0
    fills, equity, summary = run_backtest(c, lp, OFF, MARKET, BRACKETS, 1000.0, MAKER, TAKER,
                                          warmup=150)
    assert list(equity[:, 0] // 60_000) == [30, 90, 150, 210, 270, 330, 390, 399]
    assert (equity[:3, 1] == 1000.0).all()
    s = compute_stats(fills, equity, summary, c, 1000.0)
    assert s["days"] == pytest.approx(250 / 1440)
