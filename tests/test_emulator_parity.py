"""Fills of the emulator, driven through real ccxt, equal the shared fill rule applied directly.

A simple client (through ccxt binanceusdm or bybit) cancels and re-places a small hedged grid every
minute of real bundled candles; the same books are then replayed with fill_sequence_nb +
apply_fill_nb alone. Every fill (minute, side, kind, qty, price, fee, pnl, balance) must match,
in both realism modes: in the realistic mode some fills arrive as 2-3 executions (partial
fills), whose sums and final balance must equal the one fill of the rule.
"""

import asyncio

import numpy as np
import pytest

import ccxt
from passivbot.data.bundled import load_bundled
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.fills import apply_fill_nb, fill_sequence_nb
from passivbot.markets import DEFAULT_FEES, market_spec
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, SHORT

SYM = "ETH/USDT:USDT"
MINUTES = 240
START = 1440


def book_rows(ex, last: float, pos: dict) -> list:
    """The client's orders for this minute: (side, is_close, qty, price), none crossing."""
    rows = []
    tick = ex.market(SYM)["precision"]["price"]
    for side in (LONG, SHORT):
        size, pprice = pos[side]
        entry = last * (1 - side * 0.001 * (1 + 2 * (size > 0)))
        rows.append((side, False, 0.05, float(ex.price_to_precision(SYM, entry))))
        if size > 0:
            close = pprice * (1 + side * 0.0015)
            close = max(close, last + tick) if side == LONG else min(close, last - tick)
            rows.append((side, True, size, float(ex.price_to_precision(SYM, close))))
    return rows


def side_params(exchange: str, side: int) -> dict:
    if exchange == "binance":
        return {"positionSide": "LONG" if side == LONG else "SHORT", "timeInForce": "GTX"}
    return {"positionIdx": 1 if side == LONG else 2, "postOnly": True}


async def drive(emu, ex) -> list:
    books = []
    for _ in range(MINUTES):
        ps = await ex.fetch_positions([SYM])
        pos = {LONG: (0.0, 0.0), SHORT: (0.0, 0.0)}
        for p in ps:
            if p["contracts"]:
                pos[LONG if p["side"] == "long" else SHORT] = (p["contracts"], p["entryPrice"])
        await ex.cancel_all_orders(SYM)
        placed = []
        last = emu.account.last_price
        for side, close, qty, price in book_rows(ex, last, pos):
            is_buy = (side == LONG) != close
            try:
                await ex.create_order(SYM, "limit", "buy" if is_buy else "sell", qty, price,
                                      side_params(emu.exchange, side))
                placed.append((qty, price, KIND_CLOSE if close else KIND_REENTRY, side))
            except ccxt.OrderNotFillable:
                pass
        books.append(np.array(placed, dtype=np.float64).reshape(-1, 4))
        await emu.advance(1)
    return books


def replay(candles: np.ndarray, books: list, balance: float, fee: float, qty_step: float):
    pos = {LONG: [0.0, 0.0], SHORT: [0.0, 0.0]}
    out = []
    for j, book in enumerate(books):
        i = START + j
        for r in fill_sequence_nb(book, candles[i, 3], candles[i, 2]):
            side, kind = int(book[r, 3]), int(book[r, 2])
            if kind != KIND_CLOSE:
                kind = KIND_REENTRY if pos[side][0] > 0 else KIND_INITIAL_ENTRY
            size, pprice, balance, q, f, pnl = apply_fill_nb(
                side, kind, book[r, 0], book[r, 1], fee, pos[side][0], pos[side][1], balance,
                qty_step)
            if q <= 0:
                continue
            pos[side] = [size, pprice]
            out.append((i, side, kind, q, book[r, 1], f, pnl, balance))
    return out


def merged(fills: list) -> list:
    """Executions of one order in one minute summed into one fill (final balance kept)."""
    out = []
    for f in fills:
        if out and out[-1][-1] == f["order_id"] and out[-1][0] == f["minute"]:
            m = out[-1]
            out[-1] = (m[0], m[1], m[2], m[3] + f["qty"], m[4], m[5] + f["fee"], m[6] + f["pnl"],
                       f["balance"], f["order_id"])
        else:
            out.append((f["minute"], f["side"], f["kind"], f["qty"], f["price"], f["fee"],
                        f["pnl"], f["balance"], f["order_id"]))
    return [m[:-1] for m in out]


def close_enough(got: list, want: list) -> bool:
    return len(got) == len(want) and all(
        g[:3] == w[:3] and g[4] == w[4] and np.allclose(g[3:], w[3:], rtol=1e-12, atol=1e-12)
        for g, w in zip(got, want))


@pytest.mark.parametrize("realism", ["minute", "full"])
@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_emulator_fills_equal_the_fill_rule_applied_directly(exchange, realism):
    candles = np.array(load_bundled("ETHUSDT")[: START + MINUTES + 10])
    from passivbot.emulator.path import MINUTE, Realism

    # the client re-places its grid every minute, far faster than a venue allows in real
    # time: rate limits off here (tests/test_emulator_limits.py covers them)
    emu = Emulator(exchange, "ETHUSDT", candles, start_index=START,
                   realism=MINUTE if realism == "minute" else Realism(rate_limits=False))
    url = await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await asyncio.wait_for(ex.load_markets(), 10)
        await ex.set_position_mode(True, SYM)
        books = await asyncio.wait_for(drive(emu, ex), 60)
    finally:
        await ex.close()
        await emu.stop()
    spec = market_spec(exchange, "ETHUSDT")
    want = replay(candles, books, 10_000.0, DEFAULT_FEES[exchange]["maker_fee"], spec.qty_step)
    assert len(want) >= 10, "the scenario must exercise fills"
    assert any(w[2] == KIND_CLOSE for w in want)
    got = merged(emu.account.fills)
    if realism == "minute":
        assert got == want and len(emu.account.fills) == len(want)
    else:
        assert len(emu.account.fills) > len(want), "some fills must come in parts"
        assert close_enough(got, want), (got, want)
        assert got[-1][-1] == want[-1][-1]  # the final balance is the rule's, bit for bit
    assert not any(f["taker"] for f in emu.account.fills)


def test_liquidation_closes_both_sides_at_the_liquidation_price_with_taker_fee():
    """Core level: a leveraged long whose candle low reaches the liquidation price."""
    from harness.emulator import flat_candles
    from passivbot.margin import hedged_liq_price_nb
    from passivbot.records import KIND_LIQUIDATION

    c = flat_candles(10, 2000.0, 1.0)
    emu = Emulator("binance", "ETHUSDT", c, start_index=2, starting_balance=100.0)
    acc = emu.account
    acc.hedge_mode = True
    acc.set_leverage(100)
    assert acc.place(is_buy=True, qty=4.0, price=1999.5, position_side=LONG).status == "NEW"
    acc.step()  # the entry fills (low 1999 < 1999.5)
    acc.place(is_buy=True, qty=0.01, price=1000.0, position_side=LONG)  # rests, far below
    size, pprice = acc.positions[LONG].size, acc.positions[LONG].price
    liq, _ = hedged_liq_price_nb(acc.balance, size, pprice, 0.0, 0.0,
                                 acc.spec.brackets_array(), acc.spec.mmr_add)
    c[3, 3] = liq - 5.0
    balance = acc.balance
    fills = acc.step()
    assert fills[-1]["kind"] == KIND_LIQUIDATION and fills[-1]["price"] == liq
    # taker fee plus the margin left after the close, lost at liquidation: the balance ends at 0
    taker = size * liq * DEFAULT_FEES["binance"]["taker_fee"]
    lost = balance + size * (liq - pprice) - taker
    assert fills[-1]["fee"] == pytest.approx(taker + lost)
    assert acc.balance == 0.0 and fills[-1]["balance"] == 0.0
    assert acc.positions[LONG].size == 0.0 and not acc.open_orders
