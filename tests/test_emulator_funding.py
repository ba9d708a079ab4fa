"""The emulator's perpetual-futures accounting: funding on its candle clock (the backtester's
instants and function), the venues' own funding messages through real ccxt, the entry margin
rule checked at the fill as the backtester checks it, and a gap through the liquidation price
settled before any fill. Numbers are computed by hand in the comments."""

import asyncio

import numpy as np
import pytest

from passivbot.emulator import Emulator
from passivbot.emulator.perp import FundingClock
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.records import KIND_LIQUIDATION, LONG, SHORT

SYM = "ETH/USDT:USDT"
W = 10.0


def funded_emulator(exchange: str = "binance", balance: float = 10_000.0, **kw) -> Emulator:
    """Flat candles at 2000 (range +-1), trading from candle 10; funding events: one before the
    start (not the account's), one 30 s after candle 12's open (due at candle 13, mark unknown:
    the open, 2000) at +0.01 %, one exactly at candle 20's open at -0.02 % with mark 2100."""
    c = flat_candles(40, 2000.0, spread=1.0)
    times = [c[5, 0], c[12, 0] + 30_000, c[20, 0]]
    funding = (times, [0.0005, 0.0001, -0.0002], [np.nan, np.nan, 2100.0])
    emu = Emulator(exchange, "ETHUSDT", c, start_index=10, starting_balance=balance,
                   realism="minute", funding=funding, **kw)
    emu.account.set_hedge_mode(True)
    return emu


def open_both(acc, long_qty: float = 1.0, short_qty: float = 0.5) -> None:
    for side, qty in ((LONG, long_qty), (SHORT, short_qty)):
        o = acc.place(is_buy=side == LONG, qty=qty, price=0.0, order_type="MARKET",
                      position_side=side)
        assert o.status == "FILLED", o


def test_funding_settles_at_the_first_candle_opening_at_or_after_each_event():
    emu = funded_emulator()
    acc = emu.account
    open_both(acc)
    before = acc.balance
    for _ in range(15):
        acc.step()
    # candle 13: long 1.0 x 2000 x 0.0001 = 0.2 paid, short 0.5 x 2000 x 0.0001 = 0.1 received;
    # candle 20 at mark 2100, rate -0.0002: long receives 0.42, short pays 0.21
    got = [(m, s, round(p, 12)) for m, s, p in acc.funding_paid]
    assert got == [(13, LONG, 0.2), (13, SHORT, -0.1), (20, LONG, -0.42), (20, SHORT, 0.21)]
    assert acc.balance == pytest.approx(before - 0.1 + 0.21, abs=1e-9)
    assert acc.funding.next == 3  # the event before the start was skipped, never charged


def test_a_market_close_during_a_funded_minute_pays_that_funding_first():
    """The backtest charges the funding due at a candle's open before the equity stop's market
    close at that open; so does the venue (funding at its instant, then any later order). The
    close sent during candle 20 (event at its open) pays candle 20's funding on the position
    it closes; before, it filled first and the flat account was charged nothing."""
    emu = funded_emulator()
    acc = emu.account
    open_both(acc)
    while acc.clock < 20:
        acc.step()
    assert [m for m, _, _ in acc.funding_paid] == [13, 13]
    for side, qty in ((LONG, 1.0), (SHORT, 0.5)):  # the stop's closes, reduce-only at market
        o = acc.place(is_buy=side == SHORT, qty=qty, price=0.0, order_type="MARKET",
                      position_side=side, reduce_only=True)
        assert o.status == "FILLED", o
    # candle 20 at mark 2100, rate -0.0002: long receives 1.0 x 2100 x 0.0002 = 0.42, short
    # pays 0.5 x 2100 x 0.0002 = 0.21, both charged once, before the closes
    got = [(m, s, round(p, 12)) for m, s, p in acc.funding_paid]
    assert got[2:] == [(20, LONG, -0.42), (20, SHORT, 0.21)]
    acc.step()
    assert len(acc.funding_paid) == 4 and acc.clock == 21


def test_no_funding_while_flat_and_the_cursor_still_moves():
    emu = funded_emulator()
    acc = emu.account
    for _ in range(15):
        acc.step()
    assert acc.funding_paid == [] and acc.balance == 10_000.0 and acc.funding.next == 3


def test_funding_clock_rejects_unsorted_or_ragged_arrays():
    with pytest.raises(ValueError, match="ascending"):
        FundingClock([2, 1], [0.0, 0.0])
    with pytest.raises(ValueError, match="length"):
        FundingClock([1, 2], [0.0])


def test_an_entry_the_margin_cannot_carry_stays_unfilled_at_the_fill():
    emu = funded_emulator(balance=1000.0)
    acc = emu.account
    acc.set_leverage(2)
    # long 0.5 at 2000 (taker 0.05 %: fee 0.5): IM 500, balance 999.5
    acc.place(is_buy=True, qty=0.5, price=0.0, order_type="MARKET", position_side=LONG)
    ids = []
    for price in (1990.0, 1980.0, 1970.0):  # each alone fits at placement (IM <= 499.5)
        o = acc.place(is_buy=True, qty=0.2, price=price, position_side=LONG)
        assert o.status == "NEW", o
        ids.append(o.id)
    acc.candles[10, 3] = 1960.0  # candle 10 reaches all three
    fills = acc.step()
    # 1990: IM (1000 + 398) / 2 = 699 after it; 1980 needs 198 of ~999.42 + 2.0 - 699 = 302:
    # fills; 1970 needs 197 of ~999.34 + 6.0 - 897 = 108: refused, still resting
    assert [f["price"] for f in fills] == [1990.0, 1980.0]
    assert acc.margin_refused == 1
    assert ids[2] in acc.open_orders and ids[0] not in acc.open_orders


def test_a_candle_gapping_past_the_liquidation_price_fills_nothing_before_liquidating():
    emu = funded_emulator(balance=150.0)
    acc = emu.account
    acc.place(is_buy=True, qty=1.0, price=0.0, order_type="MARKET", position_side=LONG)
    entry = acc.place(is_buy=True, qty=0.011, price=1900.0, position_side=LONG)
    assert entry.status == "NEW"
    liq, _ = acc.liq_price()
    assert 1750.0 < liq < 1900.0
    assert acc.step() == []  # candle 10, the one the position opened in: flat at 2000
    acc.candles[11, 1:5] = (1700.0, 1710.0, 1690.0, 1705.0)  # opens below the liquidation price
    fills = acc.step()
    assert [f["kind"] for f in fills] == [KIND_LIQUIDATION]
    assert fills[0]["price"] == 1700.0  # at the open: the first traded price is past it
    assert acc.balance == 0.0 and acc.positions[LONG].size == 0.0
    assert entry.status == "CANCELED"  # never filled


@pytest.fixture(params=["binance", "bybit"])
async def venue(request):
    emu = funded_emulator(request.param)
    await emu.start()
    ex = create_exchange(request.param, api_key="key", secret="secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    sent: list = []
    publish = emu.ws._publish
    emu.ws._publish = lambda topic, msg: (sent.append(msg), publish(topic, msg))
    yield request.param, emu, ex, sent
    await ex.close()
    await emu.stop()


async def test_funding_reaches_ccxt_as_the_venue_reports_it(venue):
    from passivbot.exchanges.registry import make_adapter

    name, emu, ex, sent = venue
    acc = emu.account
    open_both(acc)
    adapter = make_adapter(name, ex, "ETHUSDT")
    watch = asyncio.ensure_future(ex.watch_balance())
    await eventually(lambda: any(c.kind == "user" or "wallet" in c.topics for c in emu.conns),
                     timeout=W)
    await emu.advance(4)  # candles 10..13: the funding at 13
    assert len(acc.funding_paid) == 2
    bal = await asyncio.wait_for(watch, W)
    assert adapter.wallet_balance(bal) == pytest.approx(acc.balance, abs=1e-9)
    if name == "binance":
        upd = [m for m in sent if m.get("e") == "ACCOUNT_UPDATE" and m["a"]["m"] == "FUNDING_FEE"]
        assert len(upd) == 1 and upd[0]["a"]["P"] == []  # cross margin: the balance alone
        assert float(upd[0]["a"]["B"][0]["bc"]) == pytest.approx(-0.1)
    else:
        ex_rows = [r for m in sent if m.get("topic") == "execution" for r in m["data"]]
        funding = [r for r in ex_rows if r["execType"] == "Funding"]
        assert [(r["side"], float(r["execFee"]), float(r["execQty"])) for r in funding] == [
            ("Buy", 0.2, 1.0), ("Sell", -0.1, 0.5)]
        assert all(r["orderId"] == "" and float(r["feeRate"]) == 0.0001 for r in funding)
        assert any(m.get("topic") == "wallet" for m in sent[sent.index(next(
            m for m in sent if m.get("topic") == "execution" and m["data"][0]["execType"]
            == "Funding")):])


async def test_market_data_serves_the_events_that_have_happened(venue):
    name, emu, ex, _ = venue
    await emu.advance(4)  # now: candle 14's open; the events before it: 3 (one before start)
    rows = await asyncio.wait_for(ex.fetch_funding_rate_history(SYM), W)
    assert [r["fundingRate"] for r in rows] == [0.0005, 0.0001]


async def test_binance_serves_the_mark_the_account_was_charged_at():
    emu = funded_emulator()
    await emu.start()
    ex = create_exchange("binance", api_key="key", secret="secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    try:
        await emu.advance(12)  # through candle 21: the event at candle 20's open is served
        raw = await asyncio.wait_for(ex.fapiPublicGetFundingRate({"symbol": "ETHUSDT"}), W)
        assert [(float(r["fundingRate"]), float(r["markPrice"])) for r in raw][-1] == (
            -0.0002, 2100.0)
    finally:
        await ex.close()
        await emu.stop()


def test_cli_loads_the_bundled_funding_of_its_symbol_by_default():
    from passivbot.data.bundled import load_bundled
    from passivbot.emulator.__main__ import load_emulator_funding, parse_args

    candles = np.array(load_bundled("ETHUSDT"))[:1440 * 3]
    args = parse_args(["--symbol", "ETHUSDT"])
    fs = load_emulator_funding(args, candles)
    assert fs.source in ("bundled", "cache") and len(fs) == 9  # 3 days of 8 h events
    emu = Emulator("binance", "ETHUSDT", candles, start_index=1440, funding=fs)
    assert emu.funding.shape == (9, 3)
    assert emu.account.funding.next == 3  # the first day's events are history
    assert load_emulator_funding(parse_args(["--funding", "off"]), candles) is None


def test_emulator_and_backtest_count_the_same_funding_events_for_any_times():
    """Property: for funding times anywhere (before the start, on an open, between opens,
    past the end), the emulator's clock settles through candle n-1 exactly the events the
    backtest counts (S_FUNDING_EVENTS), never one twice."""
    from hypothesis import given, settings, strategies as st

    from passivbot.backtest.engine import S_FUNDING_EVENTS, run_backtest
    from passivbot.config import side_params
    from passivbot.markets import market_spec
    from harness.parity import busy_config

    n = 30
    c = flat_candles(n, 2000.0, spread=1.0)
    cfg, spec = busy_config(), market_spec("binance", "ETHUSDT")
    lp, sp = side_params(cfg.long), side_params(cfg.short)

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.integers(-4, 2 * n + 4).map(lambda k: k * 30_000), max_size=8,
                    unique=True), st.integers(2, n))
    def check(offsets, m):  # offsets on and between candle opens; the first m candles run
        times = np.sort(np.array(offsets, dtype=np.int64)) + int(c[0, 0])
        rates = np.full(len(times), 0.0001)
        s = run_backtest(c[:m], lp, sp, spec.market_array(), spec.brackets_array(), 1000.0, 0.0002,
                         0.0005, funding_times=times, funding_rates=rates)[2]
        emu = Emulator("binance", "ETHUSDT", c, start_index=1, realism="minute",
                       funding=(times, rates))
        skipped = emu.account.funding.next
        for _ in range(m - 1):
            emu.account.step()
        assert emu.account.funding.next - skipped == s[S_FUNDING_EVENTS]
        assert skipped == int((times <= c[0, 0]).sum())

    check()


def test_a_market_order_pays_the_open_one_step_through_the_book_with_the_taker_fee():
    """The backtest's price for the equity stop's close (`fills.market_price_nb`): in minute
    mode a market order executes at the open of the candle in progress, one price step (0.01)
    against the taker: candle 10 opens at 2000, so a buy pays 2000.01 and a sell 1999.99."""
    emu = funded_emulator()
    acc = emu.account
    assert acc.candles[acc.clock, 1] == 2000.0
    acc.place(is_buy=True, qty=1.0, price=0.0, order_type="MARKET", position_side=LONG)
    acc.place(is_buy=False, qty=0.5, price=0.0, order_type="MARKET", position_side=SHORT)
    buy, sell = acc.fills[-2], acc.fills[-1]
    assert (buy["price"], sell["price"]) == (2000.01, 1999.99)
    assert buy["taker"] and buy["fee"] == pytest.approx(2000.01 * acc.taker_fee)
    # a crossing limit order is not a market order: it still gets the open (minute mode)
    acc.place(is_buy=True, qty=0.1, price=2010.0, position_side=LONG)
    assert acc.fills[-1]["price"] == 2000.0


def test_realistic_mode_prices_a_market_order_at_the_open_by_the_same_rule():
    """Before the candle's path has moved (between candles, where the bot sends the stop's
    close) the realistic mode uses the same rule; once the path moved, the book's far side."""
    c = flat_candles(40, 2000.0, spread=1.0)
    emu = Emulator("binance", "ETHUSDT", c, start_index=10, realism="full")
    acc = emu.account
    acc.set_hedge_mode(True)
    acc.place(is_buy=True, qty=1.0, price=0.0, order_type="MARKET", position_side=LONG)
    assert acc.fills[-1]["price"] == 2000.01
    acc.set_tick(2000.5, 2000.5, 2000.51, 30_000)  # half-way through the candle
    acc.place(is_buy=False, qty=0.5, price=0.0, order_type="MARKET", position_side=LONG)
    assert acc.fills[-1]["price"] == 2000.5  # the bid


# -- the account's funding history: Binance income, Bybit funding executions --------------------
# funded_emulator with open_both: long 1.0, short 0.5. Event 2 (rate +0.01 %, mark = candle
# 13's open 2000): long pays 0.2, short receives 0.1; event 3 (rate -0.02 %, mark 2100): long
# receives 0.42, short pays 0.21. Times: the events' own (candle 12's open + 30 s, candle 20's).
CHARGED = [(LONG, -0.2, 0.0001), (SHORT, 0.1, 0.0001), (LONG, 0.42, -0.0002),
           (SHORT, -0.21, -0.0002)]  # (side, received, rate)


async def test_ccxt_reads_the_funding_the_emulator_charged_with_the_venues_sign(venue):
    from passivbot.exchanges.registry import make_adapter

    name, emu, ex, _ = venue
    acc = emu.account
    open_both(acc)
    await emu.advance(12)  # candles 10..21: events 2 and 3 charged
    c = acc.candles
    times = [int(c[12, 0]) + 30_000] * 2 + [int(c[20, 0])] * 2
    assert [(e["time"], e["side"], round(-e["pay"], 12)) for e in acc.funding_log] == [
        (t, s, a) for t, (s, a, _) in zip(times, CHARGED)]
    raw = await asyncio.wait_for(ex.fetch_funding_history(SYM, since=int(c[0, 0])), W)
    # ccxt's amount is the venue's number: Binance `income` (received +), Bybit `execFee`
    # (paid +); sorted by time, the two rows of one time in the venue's order
    sign = 1.0 if name == "binance" else -1.0
    assert sorted((r["timestamp"], round(sign * r["amount"], 12)) for r in raw) == sorted(
        (t, a) for t, (_, a, _) in zip(times, CHARGED))
    adapter = make_adapter(name, ex, "ETHUSDT")
    adapter.symbol = SYM
    got = await adapter.fetch_funding(int(c[0, 0]), acc.now_ms(), lambda fn: fn())
    assert sorted((e.ts_ms, round(e.amount, 12)) for e in got) == sorted(
        (t, a) for t, (_, a, _) in zip(times, CHARGED))
    if name == "bybit":  # the venue names the side and the rate
        assert sorted((e.ts_ms, e.side, e.rate) for e in got) == sorted(
            (t, s, r) for t, (s, _, r) in zip(times, CHARGED))
    else:
        assert all(e.side is None and e.rate is None for e in got)
    assert len({e.id for e in got}) == 4


async def charged_venue(name: str):
    """An emulator that charged CHARGED (both positions open, candles 10..21 run), and ccxt."""
    emu = funded_emulator(name)
    await emu.start()
    ex = create_exchange(name, api_key="key", secret="secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    open_both(emu.account)
    await emu.advance(12)
    return emu, ex


async def test_binance_income_filters_by_time_type_and_pages_as_documented():
    emu, ex = await charged_venue("binance")
    try:
        await _binance_income_checks(emu, ex)
    finally:
        await ex.close()
        await emu.stop()


async def _binance_income_checks(emu, ex):
    acc = emu.account
    t2, t3 = int(acc.candles[12, 0]) + 30_000, int(acc.candles[20, 0])
    q = {"symbol": "ETHUSDT", "incomeType": "FUNDING_FEE"}
    rows = await ex.fapiPrivateGetIncome(q)
    assert [(r["time"], r["income"], r["incomeType"], r["asset"]) for r in rows] == [
        (t2, "-0.2", "FUNDING_FEE", "USDT"), (t2, "0.1", "FUNDING_FEE", "USDT"),
        (t3, "0.42", "FUNDING_FEE", "USDT"), (t3, "-0.21", "FUNDING_FEE", "USDT")]
    assert [r["income"] for r in await ex.fapiPrivateGetIncome({**q, "startTime": t3})] == [
        "0.42", "-0.21"]  # startTime inclusive
    assert [r["income"] for r in await ex.fapiPrivateGetIncome({**q, "endTime": t2})] == [
        "-0.2", "0.1"]  # endTime inclusive
    page = {**q, "startTime": t2, "limit": 1}
    assert [r["income"] for r in await ex.fapiPrivateGetIncome(page)] == ["-0.2"]
    assert [r["income"] for r in await ex.fapiPrivateGetIncome({**page, "page": 3})] == ["0.42"]
    assert [r["income"] for r in await ex.fapiPrivateGetIncome({**q, "limit": 1})] == ["-0.21"]
    assert await ex.fapiPrivateGetIncome({**q, "incomeType": "COMMISSION"}) == []


async def test_bybit_funding_executions_page_newest_first_by_cursor():
    emu, ex = await charged_venue("bybit")
    try:
        await _bybit_funding_checks(ex)
    finally:
        await ex.close()
        await emu.stop()


async def _bybit_funding_checks(ex):
    q = {"category": "linear", "symbol": "ETHUSDT", "execType": "Funding", "limit": 3}
    first = (await ex.privateGetV5ExecutionList(q))["result"]
    fees = [r["execFee"] for r in first["list"]]
    assert fees == ["0.21", "-0.42", "-0.1"] and first["nextPageCursor"]  # paid positive
    assert [(r["side"], r["feeRate"], r["execQty"], r["execType"]) for r in first["list"]] == [
        ("Sell", "-0.0002", "0.5", "Funding"), ("Buy", "-0.0002", "1", "Funding"),
        ("Sell", "0.0001", "0.5", "Funding")]
    rest = (await ex.privateGetV5ExecutionList({**q, "cursor": first["nextPageCursor"]}))
    assert [r["execFee"] for r in rest["result"]["list"]] == ["0.2"]
    assert rest["result"]["nextPageCursor"] == ""
    trades = (await ex.privateGetV5ExecutionList({**q, "execType": "Trade"}))["result"]["list"]
    assert all(r["execType"] == "Trade" for r in trades) and len(trades) == 2  # the 2 opens


@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_funding_history_without_a_symbol_lists_every_symbols_own(name):
    from tests.test_emulator_multi import two

    c = two(40)
    t = int(c[0][12, 0])
    emu = Emulator(name, ["ETHUSDT", "BTCUSDT"], c, start_index=10, realism="minute",
                   funding=[([t], [0.0001]), ([t], [0.0003])])
    await emu.start()
    ex = create_exchange(name, api_key="key", secret="secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    try:
        await asyncio.wait_for(ex.load_markets(), W)
        eth, btc = emu.accounts["ETHUSDT"], emu.accounts["BTCUSDT"]
        for b, qty in ((eth, 1.0), (btc, 0.01)):
            b.set_hedge_mode(True)
            b.place(is_buy=True, qty=qty, price=0.0, order_type="MARKET", position_side=LONG)
        await emu.advance(4)
        # ETH long 1.0 x 2000 x 0.01 % = 0.2 paid; BTC long 0.01 x 50000 x 0.03 % = 0.15 paid
        assert [(e["side"], round(e["pay"], 12)) for e in eth.funding_log] == [(LONG, 0.2)]
        assert [(e["side"], round(e["pay"], 12)) for e in btc.funding_log] == [(LONG, 0.15)]
        rows = await asyncio.wait_for(ex.fetch_funding_history(None), W)
        sign = 1.0 if name == "binance" else -1.0
        assert sorted((r["symbol"], round(sign * r["amount"], 12)) for r in rows) == [
            ("BTC/USDT:USDT", -0.15), ("ETH/USDT:USDT", -0.2)]
        one = await asyncio.wait_for(ex.fetch_funding_history("BTC/USDT:USDT"), W)
        assert [round(sign * r["amount"], 12) for r in one] == [-0.15]
        assert one[0]["id"] in {r["id"] for r in rows}  # a row's id does not depend on the query
    finally:
        await ex.close()
        await emu.stop()


@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_adapter_reads_every_page_of_the_funding_history_once(name):
    """A page of 3 rows (the venues' are 1000 and 100): 10 events x 2 positions = 20 rows read
    page by page (Binance by time from the last row, two rows sharing a millisecond; Bybit by
    cursor, newest first), each once, oldest first, with the emulator's amounts."""
    import dataclasses

    from passivbot.exchanges.registry import make_adapter

    c = flat_candles(40, 2000.0, spread=1.0)
    times = [int(c[k, 0]) for k in range(12, 22)]
    rates = [0.0001 * (k + 1) for k in range(10)]
    emu = Emulator(name, "ETHUSDT", c, start_index=10, realism="minute", funding=(times, rates))
    emu.account.set_hedge_mode(True)
    await emu.start()
    ex = create_exchange(name, api_key="key", secret="secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    try:
        await asyncio.wait_for(ex.load_markets(), W)
        open_both(emu.account)
        await emu.advance(14)
        log = emu.account.funding_log
        assert len(log) == 20
        a = make_adapter(name, ex, "ETHUSDT")
        a.symbol = SYM
        a.caps = dataclasses.replace(a.caps, funding_page=3)
        calls = []

        async def rest(fn):
            calls.append(1)
            return await fn()

        got = await a.fetch_funding(int(c[0, 0]), emu.account.now_ms(), rest)
        assert len(got) == 20 and len({e.id for e in got}) == 20
        assert [e.ts_ms for e in got] == sorted(e.ts_ms for e in got)
        assert sorted((e.ts_ms, round(e.amount, 10)) for e in got) == sorted(
            (x["time"], round(-x["pay"], 10)) for x in log)
        assert len(calls) >= 7  # 20 rows, 3 a page
    finally:
        await ex.close()
        await emu.stop()
