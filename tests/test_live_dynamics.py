"""The bot in a real exchange's dynamics, with fakes and the ccxt error classes: ticks do not
re-price, post-only entries stay behind the book and back off while they would cross, partial
fills keep resting, a cancel that may have failed blocks its replacement, rate-limit answers
stop every request for the time they name, refused timestamps resync the clock or stop."""

import asyncio
import logging

import ccxt
import numpy as np
import pytest

from passivbot.config import load_live_config, side_params
from passivbot.exchanges import binance, bybit
from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Redactor, StopError
from passivbot.exchanges.guard import CoolDown, ExchangeGuard, cool_down_seconds
from passivbot.grid import ema_band_nb, ideal_orders_nb
from passivbot.live.decide import decide, ideal_orders
from passivbot.live.diff import OpenOrder, Plan, Wanted, diff_orders
from passivbot.live.execution import CROSS_BASE_S, CrossHolds, Executor, behind_book
from passivbot.live.state import BotState
from passivbot.live.sync import StateSync
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, M_MIN_COST, M_MIN_QTY, M_PRICE_STEP,
    M_QTY_STEP, N_MARKET, SHORT,
)

CFG = load_live_config("ETH-J1")
LOG = logging.getLogger("test-dynamics")
MARKET = np.zeros(N_MARKET)
MARKET[[M_PRICE_STEP, M_QTY_STEP, M_MIN_QTY, M_MIN_COST]] = 0.01, 0.001, 0.001, 5.0


class Fake:
    """An adapter recording creates/cancels; scripted errors raised in turn."""

    def __init__(self, caps=binance.CAPS, create_errors=(), cancel_errors=()):
        self.caps = caps
        self.create_errors, self.cancel_errors = list(create_errors), list(cancel_errors)
        self.creates: list[tuple] = []
        self.cancels: list[str] = []
        self.symbol = "ETH/USDT:USDT"

    async def create_order(self, side, close, qty, price, client_id):
        self.creates.append((side, close, qty, price, client_id))
        if self.create_errors:
            raise self.create_errors.pop(0)
        return {"id": f"x{len(self.creates)}", "status": "open"}

    async def cancel_order(self, order_id):
        self.cancels.append(order_id)
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)
        return {"id": order_id}

    def order_side(self, o):
        return bybit.order_position_side(o) if self.caps is bybit.CAPS else \
            binance.order_position_side(o)

    post_only_crossed = ExchangeAdapter.post_only_crossed


def state(close=2000.0) -> BotState:
    st = BotState(params=np.stack([side_params(CFG.long), side_params(CFG.short)]))
    st.balance, st.emas[:] = 1000.0, close
    st.close_price = close
    st.set_last_price(close, 1)
    return st


def executor(adapter, st):
    return Executor(adapter, st, LOG, Redactor(), orders_per_s=1000, retry_base=0.001,
                    retry_max=0.002)


# -- no per-tick churn -----------------------------------------------------------------------
def test_ticks_never_change_the_ideal_orders_the_last_closed_close_does():
    """Regression: every change of the last trade re-priced the orders capped at it (11.4
    order requests/s on Bybit). The calculator's last price is the last closed candle's close,
    as in the backtest; a tick moves only `last_price` (status) and never triggers a cycle."""
    st = state()
    base = ideal_orders(st, MARKET)
    triggers = []
    sync = StateSync(Fake(), st, executor(Fake(), st), LOG, Redactor(), triggers.append)
    for i in range(100):
        sync.on_ticker({"timestamp": 2 + i, "last": 2000.0 + (-1) ** i * 0.01 * (1 + i % 7)})
    assert st.last_price != 2000.0 and triggers == []
    assert ideal_orders(st, MARKET) == base
    lo, hi = ema_band_nb(st.emas[0, 0], st.emas[0, 1])  # the backtest's call, close as price
    ent, _ = ideal_orders_nb(LONG, st.balance, 0.0, 0.0, lo, hi, 2000.0, st.params[0], MARKET)
    assert base[0].price == ent[0, 1]


# -- post-only prices and crosses ------------------------------------------------------------
def test_post_only_entries_are_priced_behind_the_book_closes_are_not():
    buy = Wanted(LONG, False, 0.1, 2000.0, KIND_INITIAL_ENTRY)
    sell = Wanted(SHORT, False, 0.1, 2000.0, KIND_INITIAL_ENTRY)
    assert behind_book(buy, 1999.5, 1999.6) == 1999.5  # never above the best bid
    assert behind_book(buy, 2000.5, 2000.6) == 2000.0  # already behind: unchanged
    assert behind_book(sell, 2000.1, 2000.2) == 2000.2  # never below the best ask
    assert behind_book(buy, 0.0, 0.0) == 2000.0  # book unknown
    assert behind_book(Wanted(LONG, True, 0.1, 1990.0, KIND_CLOSE), 2000.0, 2000.1) == 1990.0


async def test_an_entry_moved_behind_the_book_is_not_repriced_while_the_book_moves():
    st = state()
    fake = Fake()
    ex = executor(fake, st)
    st.bid, st.ask = 1999.0, 1999.01
    await ex.run(decide(st, MARKET, 20))
    entry = [c for c in fake.creates if c[0] == LONG and not c[1]][0]
    assert entry[3] <= 1999.0  # placed behind the bid
    n = len(fake.creates)
    for bid in (1998.5, 1999.3, 1997.0):  # the book moves; the calculator's price does not
        st.bid, st.ask = bid, bid + 0.01
        assert decide(st, MARKET, 20).empty
    assert len(fake.creates) == n and not fake.cancels


async def test_binance_5022_cross_is_held_with_backoff_at_most_6_sends_a_minute(caplog):
    """A post-only entry that keeps crossing: one log line, <= 6 sends in any minute."""
    st = state()
    cross = ccxt.OrderNotFillable('binanceusdm {"code":-5022,"msg":"Due to the order could '
                                  'not be executed as maker, the Post Only order will be '
                                  'rejected."}')
    fake = Fake(create_errors=[cross] * 1000)
    ex = executor(fake, st)
    now = [0.0]
    ex.holds = CrossHolds(clock=lambda: now[0])
    w = Wanted(LONG, False, 0.1, 2000.0, KIND_REENTRY)
    sends = []
    with caplog.at_level(logging.WARNING, logger="test-dynamics"):
        while now[0] < 180.0:  # a cycle every 0.25 s for 3 minutes, always crossing
            before = len(fake.creates)
            out = await ex.run(Plan(creates=[w]))
            if len(fake.creates) > before:
                sends.append(now[0])
            assert out.skipped + out.held == 1 and not out.reconcile
            now[0] += 0.25
    worst = max(sum(1 for t in sends if a <= t < a + 60.0) for a in sends)
    assert worst <= 6 and len(sends) >= 5
    lines = [r for r in caplog.records if "would take liquidity" in r.getMessage()]
    assert len(lines) == 1


async def test_bybit_post_only_cancel_in_the_order_stream_holds_the_entry():
    """Bybit accepts a crossing post-only order and cancels it (`EC_PostOnlyWillTakeLiquidity`):
    regression - the bot re-created it at once (67 creates in 6 s). Now it is held."""
    st = state()
    fake = Fake(caps=bybit.CAPS)
    ex = executor(fake, st)
    sync = StateSync(fake, st, ex, LOG, Redactor(), lambda r: None)
    w = Wanted(LONG, False, 0.1, 2000.0, KIND_INITIAL_ENTRY)
    await ex.run(Plan(creates=[w]))
    oid, cid = "x1", fake.creates[0][4]
    assert oid in st.open_orders
    sync.on_orders([{"id": oid, "clientOrderId": cid, "symbol": fake.symbol, "status": "canceled",
                     "side": "buy", "filled": 0.0, "price": 2000.0,
                     "info": {"positionIdx": 1, "rejectReason": "EC_PostOnlyWillTakeLiquidity"}}])
    assert oid not in st.open_orders
    out = await ex.run(Plan(creates=[w]))
    assert len(fake.creates) == 1 and out.held == 1 and out.hold_s > 0  # held, not re-sent
    other = Wanted(SHORT, False, 0.1, 2010.0, KIND_INITIAL_ENTRY)  # the other side is free
    await ex.run(Plan(creates=[other]))
    assert len(fake.creates) == 2
    moved = Wanted(LONG, False, 0.1, 1999.0, KIND_INITIAL_ENTRY)  # the next minute's price:
    await ex.run(Plan(creates=[moved]))  # a new order, sent at once
    assert len(fake.creates) == 3 and fake.creates[-1][3] == 1999.0


# -- partial fills -----------------------------------------------------------------------------
def test_partially_filled_order_whose_remainder_is_ideal_keeps_resting():
    st = state()
    fake = Fake()
    triggers = []
    sync = StateSync(fake, st, executor(fake, st), LOG, Redactor(), triggers.append)
    sync.on_orders([{"id": "7", "clientOrderId": "pble-1", "symbol": fake.symbol,
                     "status": "open", "side": "buy", "amount": 0.3, "filled": 0.1,
                     "remaining": 0.2, "price": 1990.0, "info": {"positionSide": "LONG"}}])
    o = st.open_orders["7"]
    assert o.qty == 0.2 and sync.need_account and triggers  # position changed: re-decide
    keep = diff_orders([Wanted(LONG, False, 0.2, 1990.0, KIND_REENTRY)], [o], 0.01, 0.001,
                       2000.0, 10)
    assert keep.empty and keep.matched == 1  # no cancel + re-create of the remainder
    moved = diff_orders([Wanted(LONG, False, 0.25, 1990.0, KIND_REENTRY)], [o], 0.01, 0.001,
                        2000.0, 10)
    assert [c.id for c in moved.cancels] == ["7"] and len(moved.creates) == 1


# -- a cancel that may have failed -------------------------------------------------------------
async def test_after_503s_on_a_cancel_the_replacement_is_not_placed():
    """Regression: after 4-8 HTTP 503s on a cancel, the replacement entry was placed anyway and
    two entries rested on one side. The old order may still rest: no create on that side."""
    st = state()
    fake = Fake(cancel_errors=[ccxt.ExchangeNotAvailable("503")] * 8)
    ex = executor(fake, st)
    old = OpenOrder("5", "pble-old", LONG, False, 0.1, 1980.0)
    st.open_orders["5"] = old
    new = Wanted(LONG, False, 0.1, 1985.0, KIND_REENTRY)
    close = Wanted(SHORT, False, 0.1, 2020.0, KIND_INITIAL_ENTRY)
    out = await ex.run(Plan(cancels=[old], creates=[new, close]))
    assert fake.cancels == ["5"] * 4  # retried, then given up for this cycle
    assert [(c[0], c[1]) for c in fake.creates] == [(SHORT, False)]  # only the other side
    assert "5" in st.open_orders and out.reconcile  # still thought resting; heal by REST


async def test_unknown_order_on_cancel_frees_the_side():
    st = state()
    fake = Fake(cancel_errors=[ccxt.OrderNotFound('{"code": -2011}')])
    ex = executor(fake, st)
    old = OpenOrder("5", "pble-old", LONG, False, 0.1, 1980.0)
    st.open_orders["5"] = old
    await ex.run(Plan(cancels=[old], creates=[Wanted(LONG, False, 0.1, 1985.0, KIND_REENTRY)]))
    assert len(fake.creates) == 1 and "5" not in st.open_orders


# -- foreign orders ----------------------------------------------------------------------------
def test_foreign_orders_are_reported_once_and_never_tracked(caplog):
    st = state()
    fake = Fake()
    sync = StateSync(fake, st, executor(fake, st), LOG, Redactor(), lambda r: None)
    manual = {"id": "99", "clientOrderId": "web_abc", "symbol": fake.symbol, "status": "open",
              "side": "buy", "amount": 1.0, "price": 1500.0, "info": {"positionSide": "LONG"}}
    with caplog.at_level(logging.WARNING, logger="test-dynamics"):
        for _ in range(3):
            sync.on_orders([manual])
    assert "99" not in st.open_orders and "99" in st.foreign_orders
    assert len([r for r in caplog.records if "not placed by this bot" in r.getMessage()]) == 1


# -- rate-limit cool-down --------------------------------------------------------------------
@pytest.mark.parametrize("caps,status,headers,body,expected", [
    (binance.CAPS, 429, {"Retry-After": "7"}, '{"code":-1003}', 7.0),
    (binance.CAPS, 418, {"retry-after": "120"}, '{"code":-1003}', 120.0),
    (binance.CAPS, 429, {}, '{"code":-1003}', 2.0),  # no header: the default pause
    (binance.CAPS, 200, {"Retry-After": "7"}, "{}", None),
    (binance.CAPS, 503, {}, "down", None),
    (bybit.CAPS, 200, {"X-Bapi-Limit-Reset-Timestamp": "1700000003500"},
     '{"retCode":10006,"retMsg":"Too many visits!"}', 3.5),
    (bybit.CAPS, 200, {"X-Bapi-Limit-Reset-Timestamp": "1700000003500"},
     '{"retCode":0,"retMsg":"OK"}', None),
    (bybit.CAPS, 403, {}, "access too frequent", 600.0),
])
def test_cool_down_seconds_per_exchange(caps, status, headers, body, expected):
    assert cool_down_seconds(caps, status, headers, body, 1_700_000_000_000) == expected


async def test_cool_down_blocks_every_request_and_releases_them_when_it_ends():
    t = [0.0]
    cd = CoolDown(clock=lambda: t[0])
    assert cd.hold(5.0, "HTTP 429") and not cd.hold(1.0, "shorter")  # extends, never shortens
    assert cd.remaining() == 5.0
    t[0] = 5.0
    await asyncio.wait_for(cd.wait(), 1)  # over: no wait


class FakeCcxt:
    """A ccxt-like client: `fetch` answers from a script; records request times."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.sent: list[float] = []
        self.options = {"timeDifference": 0}
        self.loaded = 0

    async def fetch(self, url, method="GET", headers=None, body=None):
        import time

        self.sent.append(time.monotonic())
        status, hdrs, text = self.answers.pop(0) if self.answers else (200, {}, "{}")
        self.on_rest_response(status, "", url, method, hdrs, text, None, None)
        if status in (418, 429):
            raise ccxt.RateLimitExceeded(text)
        return text

    def on_rest_response(self, code, reason, url, method, headers, body, rh, rb):
        return body

    async def load_time_difference(self):
        self.loaded += 1
        self.options["timeDifference"] = -5000
        return -5000


async def test_guard_sends_nothing_during_retry_after_and_resumes_at_once():
    import time

    ex = FakeCcxt([(429, {"Retry-After": "0.6"}, '{"code":-1003}')])
    g = ExchangeGuard(ex, binance.CAPS, LOG)
    with pytest.raises(ccxt.RateLimitExceeded):
        await ex.fetch("u")
    t0 = time.monotonic()
    results = await asyncio.gather(*(ex.fetch("u") for _ in range(3)))  # three callers wait
    assert results == ["{}"] * 3
    assert all(s - t0 >= 0.55 for s in ex.sent[1:])  # none sent while the cool-down ran
    assert max(ex.sent[1:]) - t0 < 0.6 + 0.3  # and all resumed right after it
    assert g.cool.holds == 1


async def test_refused_timestamp_resyncs_ccxts_clock_and_retries():
    ex = FakeCcxt([])
    g = ExchangeGuard(ex, binance.CAPS, LOG)
    calls = []

    async def signed():
        calls.append(ex.options["timeDifference"])
        if len(calls) == 1:
            raise ccxt.InvalidNonce('{"code":-1021,"msg":"Timestamp for this request is outside '
                                    'of the recvWindow."}')
        return "ok"

    assert await g.call(signed) == "ok"
    assert calls == [0, -5000] and ex.loaded == 1 and g.offset_ms == 5000 and g.nonce_streak == 0


async def test_persistent_refused_timestamp_stops_loudly_after_n_resyncs():
    ex = FakeCcxt([])
    g = ExchangeGuard(ex, binance.CAPS, LOG, max_resyncs=3)

    async def signed():
        raise ccxt.InvalidNonce('{"code":-1021}')

    with pytest.raises(StopError, match="refusing request timestamps after 3 clock resyncs"):
        await g.call(signed)
    assert ex.loaded == 3


async def test_a_held_entry_is_retried_when_its_hold_ends_not_after_the_skip_backoff():
    from passivbot.live.bot import BotOptions, LiveBot

    cross = ccxt.OrderNotFillable('binanceusdm {"code":-5022,"msg":"Post Only"}')
    fake = Fake(create_errors=[cross] * 100)
    bot = LiveBot(fake, CFG, LOG, options=BotOptions(use_local_clock=False))
    bot.market = MARKET.copy()
    st = bot.state
    st.balance, st.emas[:], st.close_price = 1000.0, 2000.0, 2000.0
    bot.skip_streak = 50  # a long streak of refusals before: its backoff would be 30 s
    await bot.cycle()
    delay = bot._retry_handle.when() - asyncio.get_running_loop().time()
    bot._retry_handle.cancel()
    # the first hold (CROSS_BASE_S with equal jitter: 2.5-5 s), not the skip backoff (15-30 s)
    assert CROSS_BASE_S / 2 - 0.1 < delay <= CROSS_BASE_S and bot.skip_streak == 0


async def test_an_entry_moved_behind_the_book_is_repriced_once_the_book_lets_its_price_rest():
    """Found by bench/faults.py --seed 3 --faults all --realism full: a short entry wanted at
    2356.94 was placed at the ask 2365.30 (it would have crossed); the book then fell to
    2337.39 / 2337.40 and the entry stayed 0.35 % behind the calculator for as long as its
    price held (the campaign read it as an orphan). Once the calculator's price would rest
    without crossing, the entry goes back to it: one cancel, one create, then nothing."""
    st = state()
    fake = Fake()
    ex = executor(fake, st)
    want = [w for w in ideal_orders(st, MARKET) if w.side == LONG and not w.close][0]
    st.bid, st.ask = want.price - 1.0, want.price - 0.99  # the buy would cross
    await ex.run(decide(st, MARKET, 20))
    entry = [c for c in fake.creates if c[0] == LONG and not c[1]][0]
    assert entry[3] == want.price - 1.0  # placed at the bid
    for bid in (want.price - 2.0, want.price - 0.5):  # the book moves, the buy still crosses
        st.bid, st.ask = bid, bid + 0.01
        assert decide(st, MARKET, 20).empty
    st.bid, st.ask = want.price + 5.0, want.price + 5.01  # the book rose: the price can rest
    plan = decide(st, MARKET, 20)
    assert [o.price for o in plan.cancels] == [entry[3]]
    assert [(w.side, w.close, w.price) for w in plan.creates] == [(LONG, False, want.price)]
    await ex.run(plan)
    assert decide(st, MARKET, 20).empty  # at the calculator's price: matched from now on
