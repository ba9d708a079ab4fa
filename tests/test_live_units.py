"""Pure parts of the live bot: the diff, the error mapping, redaction, payload extraction,
EMA bookkeeping on closed candles."""

import math

import ccxt
import numpy as np
import pytest

from passivbot.exchanges import binance, bybit
from passivbot.exchanges.adapter import brackets_from_tiers
from passivbot.exchanges.errors import Action, Redactor, classify
from passivbot.grid import emas_from_closes_nb
from passivbot.live.diff import OpenOrder, Wanted, diff_orders
from passivbot.live.state import MINUTE_MS, BotState
from passivbot.records import KIND_CLOSE, KIND_REENTRY, LONG, N_PARAMS, SHORT

W = lambda side, close, qty, price: Wanted(side, close, qty, price,  # noqa: E731
                                           KIND_CLOSE if close else KIND_REENTRY)
OO = lambda i, side, close, qty, price: OpenOrder(str(i), f"pb{i}", side, close, qty, price)  # noqa: E731


def test_diff_keeps_matching_orders_and_only_acts_on_differences():
    ideal = [W(LONG, False, 0.1, 1990.0), W(LONG, True, 0.1, 2010.0), W(SHORT, False, 0.1, 2020.0)]
    open_ = [OO(1, LONG, False, 0.1, 1990.0), OO(2, LONG, True, 0.1, 2011.0),
             OO(3, SHORT, True, 0.1, 2020.0)]  # right price, wrong direction
    plan = diff_orders(ideal, open_, 0.01, 0.001, 2000.0, 10)
    assert plan.matched == 1
    assert [o.id for o in plan.cancels] == ["2", "3"] or [o.id for o in plan.cancels] == ["3", "2"]
    assert {(w.side, w.close, w.price) for w in plan.creates} == {(LONG, True, 2010.0),
                                                                  (SHORT, False, 2020.0)}


def test_diff_matches_within_half_a_step_and_not_beyond():
    ideal = [W(LONG, False, 0.1, 1990.0)]
    assert diff_orders(ideal, [OO(1, LONG, False, 0.1, 1990.004)], 0.01, 0.001, 2000, 9).empty
    p = diff_orders(ideal, [OO(1, LONG, False, 0.1, 1990.01)], 0.01, 0.001, 2000, 9)
    assert len(p.cancels) == 1 and len(p.creates) == 1
    p = diff_orders(ideal, [OO(1, LONG, False, 0.101, 1990.0)], 0.01, 0.001, 2000, 9)
    assert len(p.cancels) == 1 and len(p.creates) == 1


def test_diff_cancels_first_nearest_first_and_caps_actions():
    ideal = [W(LONG, False, 0.1, p) for p in (1900.0, 1980.0, 1950.0)]
    open_ = [OO(i, LONG, False, 0.2, p) for i, p in enumerate((1800.0, 1990.0, 1850.0))]
    plan = diff_orders(ideal, open_, 0.01, 0.001, 2000.0, 4)
    assert [o.price for o in plan.cancels] == [1990.0, 1850.0, 1800.0]
    assert [w.price for w in plan.creates] == [1980.0]
    assert plan.truncated
    full = diff_orders(ideal, open_, 0.01, 0.001, 2000.0, 100)
    assert [w.price for w in full.creates] == [1980.0, 1950.0, 1900.0] and not full.truncated


def test_diff_duplicate_open_orders_cancel_the_extra_one():
    ideal = [W(SHORT, True, 0.1, 1990.0)]
    open_ = [OO(1, SHORT, True, 0.1, 1990.0), OO(2, SHORT, True, 0.1, 1990.0)]
    plan = diff_orders(ideal, open_, 0.01, 0.001, 2000.0, 10)
    assert plan.matched == 1 and len(plan.cancels) == 1 and not plan.creates


def test_foreign_orders_are_left_alone_and_only_ours_are_touched():
    """Regression: any order on the symbol that was not ideal was cancelled, a user's manual
    orders included; only orders with the bot's client-id prefix may be touched."""
    foreign = [OpenOrder("9", "", None, False, 1.0, 100.0),
               OpenOrder("8", "manual-1", LONG, False, 0.1, 99.0)]
    plan = diff_orders([], foreign + [OO(7, LONG, False, 0.1, 98.0)], 0.01, 0.001, 100, 5)
    assert [o.id for o in plan.cancels] == ["7"]


@pytest.mark.parametrize("exc,op,action", [
    (ccxt.OrderNotFound("x"), "cancel", Action.RECONCILE),
    (ccxt.InsufficientFunds("x"), "create", Action.SKIP),
    (ccxt.OrderImmediatelyFillable("x"), "create", Action.CROSSED),
    (ccxt.OrderNotFillable('binanceusdm {"code":-5022,"msg":"Post Only order will be '
                           'rejected"}'), "create", Action.CROSSED),
    # -4015 is an invalid client id, not a duplicate (regression), whatever ccxt maps it to
    (ccxt.PermissionDenied('binanceusdm {"code":-4015,"msg":"Client order id is not valid."}'),
     "create", Action.SKIP),
    (ccxt.ExchangeError('binanceusdm {"code":-4015,"msg":"Client order id is not valid."}'),
     "create", Action.SKIP),
    # -2027/-2028 skip the order (no reconcile every cycle: regression)
    (ccxt.OperationRejected('binanceusdm {"code":-2027,"msg":"Exceeded the maximum allowable '
                            'position at current leverage."}'), "create", Action.SKIP),
    (ccxt.OperationRejected('binanceusdm {"code":-2028,"msg":"Leverage is smaller than '
                            'permitted: insufficient margin balance"}'), "create", Action.SKIP),
    (ccxt.InvalidNonce('binanceusdm {"code":-1021,"msg":"Timestamp for this request is outside '
                       'of the recvWindow."}'), "create", Action.RESYNC),
    (ccxt.InvalidNonce('bybit {"retCode":10002}'), "fetch", Action.RESYNC),
    (ccxt.AuthenticationError("x"), "create", Action.STOP),
    (ccxt.PermissionDenied("x"), "setup", Action.STOP),
    (ccxt.AccountSuspended("x"), "create", Action.STOP),
    (ccxt.BadSymbol("x"), "fetch", Action.STOP),
    (ccxt.RateLimitExceeded("x"), "create", Action.RETRY),
    (ccxt.RequestTimeout("x"), "cancel", Action.RETRY),
    (ccxt.ExchangeNotAvailable("x"), "fetch", Action.RETRY),
    (ccxt.InvalidOrder('binanceusdm {"code": -4116, "msg": "ClientOrderId is duplicated."}'),
     "create", Action.RECONCILE),
    (ccxt.InvalidOrder('bybit {"retCode": 110072, "retMsg": "OrderLinkedID is duplicate"}'),
     "create", Action.RECONCILE),
    (ccxt.OperationRejected('binanceusdm {"code": -4059, "msg": "No need to change"}'),
     "setup", Action.IGNORE),
    (ccxt.NoChange("x"), "setup", Action.IGNORE),
    (ccxt.BadRequest('bybit {"retCode": 110043, "retMsg": "leverage not modified"}'), "setup",
     Action.IGNORE),
    (ccxt.ExchangeError("weird"), "setup", Action.STOP),
    (ccxt.ExchangeError("weird"), "create", Action.RECONCILE),
])
def test_error_mapping(exc, op, action):
    assert classify(exc, op) is action


def test_non_ccxt_errors_are_not_classified():
    with pytest.raises(TypeError):
        classify(ValueError("bug"), "create")


def test_redactor_removes_secrets_and_signatures():
    r = Redactor(("AKIAKEY1234567890", "SUPERSECRET987654321"))
    text = ('binanceusdm POST http://h/fapi/v1/order?x=1&signature=abcdef0123456789 '
            '{"X-MBX-APIKEY": "AKIAKEY1234567890"} secret=SUPERSECRET987654321 '
            'ws://h/private/ws?listenKey=dDbVGADFZ805hExhoslEz')
    out = r(text)
    assert "dDbVGADFZ805hExhoslEz" not in out
    assert "AKIAKEY1234567890" not in out and "SUPERSECRET987654321" not in out
    assert "abcdef0123456789" not in out and "***" in out


def test_wallet_balance_is_wallet_not_equity():
    rest_b = {"info": {"assets": [{"asset": "USDT", "walletBalance": "9999.5",
                                   "marginBalance": "10010"}]}}
    ws_b = {"info": {"e": "ACCOUNT_UPDATE", "a": {"B": [{"a": "USDT", "wb": "9998.1"}]}}}
    assert binance.wallet_balance(rest_b, "USDT") == 9999.5
    assert binance.wallet_balance(ws_b, "USDT") == 9998.1
    rest_y = {"info": {"result": {"list": [{"coin": [{"coin": "USDT", "walletBalance": "500",
                                                      "equity": "510"}]}]}}, "total": 510}
    ws_y = {"info": [{"coin": [{"coin": "USDT", "walletBalance": "499"}]}]}
    assert bybit.wallet_balance(rest_y, "USDT") == 500.0
    assert bybit.wallet_balance(ws_y, "USDT") == 499.0


def test_leverage_tiers_become_sorted_brackets_with_open_last_cap():
    tiers = [{"maxNotional": 500000.0, "maintenanceMarginRate": 0.0065,
              "info": {"notionalCap": "500000", "cum": "75"}},
             {"maxNotional": 50000.0, "maintenanceMarginRate": 0.005,
              "info": {"notionalCap": "50000", "cum": "0"}}]
    b = brackets_from_tiers(tiers, binance.CAPS)
    assert b[0].tolist() == [50000.0, 0.005, 0.0]
    assert b[1, 1:].tolist() == [0.0065, 75.0] and math.isinf(b[1, 0])


def test_order_params_per_exchange():
    from passivbot.exchanges.adapter import ExchangeAdapter
    a = ExchangeAdapter(None, binance.CAPS, binance.EXTRACT, "ETHUSDT")
    assert a.order_params(LONG, False, "c1") == {"positionSide": "LONG", "clientOrderId": "c1",
                                                 "postOnly": True}
    assert a.order_params(SHORT, True, "c2") == {"positionSide": "SHORT", "clientOrderId": "c2"}
    y = ExchangeAdapter(None, bybit.CAPS, bybit.EXTRACT, "ETHUSDT")
    assert y.order_params(SHORT, True, "c3") == {"positionIdx": 2, "clientOrderId": "c3",
                                                 "reduceOnly": True}


def _state(span0=3.0, span1=7.0):
    p = np.zeros((2, N_PARAMS))
    p[:, 2], p[:, 3] = span0, span1
    return BotState(params=p)


def test_emas_update_once_per_closed_candle_in_order_like_the_backtester():
    rng = np.random.default_rng(1)
    closes = 100 + rng.normal(size=50).cumsum()
    c = np.zeros((50, 6))
    c[:, 0] = np.arange(50) * MINUTE_MS
    c[:, 4] = closes
    st = _state()
    st.warm_up(c[:30])
    # out of order and duplicated deliveries; the candle in progress is not applied
    st.note_time(c[45, 0])
    for i in (32, 30, 31, 31, 33, 44, 45):
        st.add_candle(int(c[i, 0]), closes[i])
    n, gap = st.apply_closed()
    assert n == 4 and gap == int(c[34, 0])  # 34..43 missing: the caller fills them from REST
    for i in range(34, 44):
        st.add_candle(int(c[i, 0]), closes[i])
    n, gap = st.apply_closed()
    assert n == 11 and gap is None and st.last_closed_ts == int(c[44, 0])
    e0, e1 = emas_from_closes_nb(closes[:45], 3.0, 7.0)
    assert st.emas[0].tolist() == [e0, e1] == st.emas[1].tolist()


def test_with_a_local_clock_a_minute_closes_after_the_grace_or_a_later_candle():
    st = _state()
    st.close_grace_ms = 2_500
    c = np.zeros((3, 6))
    c[:, 0] = np.arange(3) * MINUTE_MS
    c[:, 4] = 100.0
    st.warm_up(c[:1])
    st.add_candle(MINUTE_MS, 101.0)  # provisional close of the candle in progress
    st.note_time(2 * MINUTE_MS + 1_000)  # its minute ended 1 s ago
    assert st.apply_closed() == (0, None)
    st.add_candle(MINUTE_MS, 102.0)  # final update
    st.note_time(2 * MINUTE_MS + 2_500)
    assert st.apply_closed() == (1, None) and st.last_price == 102.0
    st.add_candle(2 * MINUTE_MS, 103.0)
    st.add_candle(3 * MINUTE_MS, 104.0)  # a later candle opened: the previous one is final
    st.note_time(3 * MINUTE_MS)
    assert st.apply_closed() == (1, None) and st.last_closed_ts == 2 * MINUTE_MS


def test_status_line_shows_price_sides_liquidation_orders_balance():
    from passivbot.live.console import status_line
    from passivbot.markets import market_spec

    st = _state()
    st.balance, st.last_price = 1000.0, 2000.0
    st.set_position(LONG, 2.0, 2000.0)
    st.remember_order(OpenOrder("1", "pb", LONG, True, 1.0, 2010.0))
    spec = market_spec("binance", "ETHUSDT")
    line = status_line(st, spec.brackets_array(), spec.mmr_add)
    assert line.startswith("price 2000 | L 2@2000 we 4.000 | S 0@0 we 0.000 | liq 15")
    assert "orders L sell 2010 S -" in line and line.endswith("balance 1000.00")
