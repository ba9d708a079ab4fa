"""Bounded loss on one account, live = backtest: the MultiBot (passivbot/live/multi.py) with the
equity stop on the ACCOUNT's equity and auto-unstuck per symbol and side with the account's
peak balance (passivbot/live/multi_risk.py) trades the multi-symbol emulator exactly as the
multi-symbol backtest replays the same candles, and a MultiBot restarted in the middle of the
account's cool-down stays stopped on every symbol."""

import asyncio
import json

import numpy as np
import pytest

from harness.live import fall_then_rise
from harness.parity import lockstep_options
from harness.parity_multi import (
    UNSTUCK, bounded_loss_multi_dict, busy_multi_dict, load_aligned, run_parity_multi, settle,
    subscribed, summary_lines,
)
from passivbot.config.multi import multi_config_from_dict
from passivbot.live.risk_state import load_risk_state
from passivbot.markets import market_spec
from passivbot.records import LONG, SHORT

SYMS = ["ETHUSDT", "BTCUSDT"]


def risk_config(symbols, drawdown: float, cooldown: int):
    return multi_config_from_dict(bounded_loss_multi_dict(symbols, drawdown, cooldown),
                                  "multi risk test")


@pytest.mark.parametrize("exchange,realism", [
    ("binance", "minute"), ("bybit", "minute"), ("binance", "full"), ("bybit", "full")])
async def test_account_equity_stop_and_unstuck_fill_exactly_as_the_multi_backtest(exchange,
                                                                                   realism):
    """ETHUSDT + BTCUSDT, 5 hours from day 2.25 of the bundled sample, account stop at 0.6 %
    drawdown, unstuck above 0.15 x the limit: the multi backtest's account stop fires at
    minute 70 and closes both symbols' shorts at the next open, then 2 unstuck closes (ETH,
    BTC) follow; the live MultiBot makes the same fills (stop and unstuck closes compared as
    reduce-only closes), the same balance and positions, on the minute emulator and on the
    realistic one (intra-minute path, spread, partial fills)."""
    cfg = risk_config(SYMS, 0.006, 60)
    candles = load_aligned(SYMS, 2.25, 300 / 1440)
    rep = await run_parity_multi(cfg, candles, exchange, realism=realism, bounded_loss=True)
    assert rep.backtest.n_stop == 2 and rep.backtest.n_unstuck == 2, summary_lines(rep)
    assert rep.backtest.stops_fired == rep.live.stops_fired == 1  # one stop, the account's
    assert rep.ok, "\n".join(summary_lines(rep))
    assert rep.match_rate == 100.0 and abs(rep.balance_diff) <= 1e-6
    assert rep.live.fills == rep.backtest.fills


# -- restart in the middle of the account's cool-down (against the emulator) ------------------
COOLDOWN = 30
PX = {"ETHUSDT": 2000.0, "BTCUSDT": 50_000.0}


def falling(symbols) -> list[np.ndarray]:
    """Each symbol flat for a day (the EMA warm-up), falls 12 % over 150 minutes, rises 16 %."""
    out = []
    for s in symbols:
        x = fall_then_rise(price=PX[s])
        step = market_spec("binance", s).price_step
        x[:, 1:5] = np.round(np.round(x[:, 1:5] / step) * step, 6)
        out.append(x)
    return out


async def new_multibot(exchange, emu, cfg, path):
    import dataclasses
    import logging
    import time

    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.live.multi import MultiBot

    ex = create_exchange(exchange, api_key="test-key", secret="test-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    log = logging.getLogger(f"test.multi_risk.{exchange}")
    opts = dataclasses.replace(lockstep_options(), risk_state_path=str(path))
    mb = MultiBot(exchange, ex, cfg, log, options=opts)
    try:
        await asyncio.wait_for(mb.start(), 60)
        deadline = time.monotonic() + 20
        while not subscribed(emu, len(cfg.symbols)):
            assert time.monotonic() < deadline, "the bots did not subscribe in time"
            await asyncio.sleep(0.01)
        await settle(mb, emu)
    except BaseException:
        await mb.stop()
        raise
    return mb


def entries_open(emu) -> dict[str, list]:
    return {s: [o for o in a.open_orders.values() if not o.close] for s, a in emu.accounts.items()}


async def step(mb, emu) -> None:
    from harness.parity_multi import advance_barrier

    await advance_barrier(mb, emu)
    await settle(mb, emu)


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_account_stop_closes_every_symbol_and_a_restart_mid_cooldown_stays_stopped(
        exchange, tmp_path):
    from passivbot.emulator import Emulator
    from passivbot.markets import DEFAULT_FEES

    path = tmp_path / f"{exchange}-user-MULTI-test.risk.json"
    cfg = risk_config(SYMS, 0.01, COOLDOWN)
    candles = falling(SYMS)
    fees = DEFAULT_FEES[exchange]
    emu = Emulator(exchange, SYMS, candles, start_index=1440, realism="minute",
                   maker_fee=fees["maker_fee"], taker_fee=fees["taker_fee"],
                   specs={s: market_spec("binance", s) for s in SYMS})
    await emu.start()
    mb = mb2 = None
    try:
        mb = await new_multibot(exchange, emu, cfg, path)
        assert all(len(e) == 2 for e in entries_open(emu).values())  # both sides, every symbol
        fired_at = None
        held = {}
        for _ in range(150):  # into the fall until the account's stop fires
            held = {s: a.positions[LONG].size + a.positions[SHORT].size
                    for s, a in emu.accounts.items()}
            await step(mb, emu)
            if load_risk_state(path).stop_until_ms > 0:
                fired_at = emu.clock - 1
                break
        assert fired_at is not None, "the account's equity stop never fired on a 12 % fall"
        assert all(v > 0 for v in held.values()), "both symbols held a position at the fire"
        st = load_risk_state(path)
        until = st.stop_until_ms
        assert until == int(candles[0][fired_at, 0]) + 60_000 * (1 + COOLDOWN)
        assert sorted(st.symbols) == sorted(SYMS) and not st.close_pending
        assert [f.name for f in tmp_path.iterdir()] == [path.name]  # no file per symbol
        for s, a in emu.accounts.items():  # every symbol closed at market at the next open
            takers = [f for f in a.fills if f["taker"]]
            step_ = a.spec.price_step
            assert takers, f"{s}: no market close"
            # one price step through the book from the open (fills.market_price_nb), taker fee
            open_ = a.candles[fired_at + 1, 1]
            assert all(f["price"] == pytest.approx(open_ - f["side"] * step_, abs=1e-9)
                       and f["fee"] == pytest.approx(f["qty"] * f["price"] * a.taker_fee,
                                                     rel=1e-9) for f in takers), takers
            assert a.positions[LONG].size == 0.0 and a.positions[SHORT].size == 0.0
        assert entries_open(emu) == {s: [] for s in SYMS}
        n_fills = {s: len(a.fills) for s, a in emu.accounts.items()}
        for _ in range(COOLDOWN // 2):  # half the cool-down: nothing opens anywhere
            await step(mb, emu)
            assert entries_open(emu) == {s: [] for s in SYMS}
        await mb.stop()  # a restart in the middle of the cool-down
        mb = None
        mb2 = await new_multibot(exchange, emu, cfg, path)
        assert mb2.risk.st.stop_until_ms == until
        assert all(b.risk.st.stop_until_ms == until for b in mb2.bots.values())
        acc0 = emu.accounts[SYMS[0]]
        while int(acc0.candles[acc0.clock - 1, 0]) + 60_000 < until:
            assert entries_open(emu) == {s: [] for s in SYMS}, \
                "an entry during the account's cool-down after a restart"
            await step(mb2, emu)
        assert {s: len(a.fills) for s, a in emu.accounts.items()} == n_fills
        # the cool-down is over at this close: every symbol places its entries again
        assert all(len(e) == 2 for e in entries_open(emu).values()), entries_open(emu)
        assert load_risk_state(path).stop_until_ms == until
    finally:
        for b in (mb, mb2):
            if b is not None:
                await b.stop(cancel_on_exit=True)
        await emu.stop()


# -- the account's state and decisions (hand-computed) ----------------------------------------
T = 1_700_000_000_000 - 1_700_000_000_000 % 60_000


def multi_cfg(drawdown=0.05, cooldown=30):
    d = busy_multi_dict(SYMS)
    d["long"].update(UNSTUCK)
    d.update(equity_stop_drawdown=drawdown, equity_stop_cooldown_minutes=cooldown)
    return multi_config_from_dict(d, "unit")


def state(cfg, sym, balance, close, ts, long=(0.0, 0.0), short=(0.0, 0.0)):
    from passivbot.config import side_params
    from passivbot.live.state import BotState

    c = cfg.configs[sym]
    st = BotState(params=np.stack([side_params(c.long), side_params(c.short)]))
    st.balance, st.close_price, st.last_closed_ts = balance, close, ts
    st.set_position(LONG, *long)
    st.set_position(SHORT, *short)
    return st


def test_account_stop_fires_on_the_account_equity_where_no_symbol_alone_would(tmp_path):
    import logging

    from passivbot.live.multi_risk import AccountRisk, SymbolRisk
    from passivbot.records import KIND_INITIAL_ENTRY

    cfg = multi_cfg(drawdown=0.05, cooldown=30)
    p = tmp_path / "acc.json"
    acc = AccountRisk(cfg.configs, p, logging.getLogger("t"))
    flat = {s: state(cfg, s, 1000.0, 100.0, T) for s in SYMS}
    assert not acc.observe(T, 1000.0, flat)  # equity 1000: the peak
    assert (acc.st.peak_equity, acc.st.peak_balance) == (1000.0, 1000.0)
    # ETH long 1 @ 100 closes at 70 (-30), BTC short 1 @ 100 closes at 125 (-25): account
    # equity 1000 - 30 - 25 = 945 < 1000 x 0.95; each symbol alone (970, 975) would not fire
    t = T + 60_000
    states = {"ETHUSDT": state(cfg, "ETHUSDT", 1000.0, 70.0, t, long=(1.0, 100.0)),
              "BTCUSDT": state(cfg, "BTCUSDT", 1000.0, 125.0, t, short=(1.0, 100.0))}
    assert acc.observe(t, 1000.0, states)
    until = t + 60_000 + 30 * 60_000  # the minute's close + the cool-down
    saved = load_risk_state(p)  # persisted before any order
    assert saved.stop_until_ms == until and saved.close_pending
    assert saved.peak_equity == pytest.approx(945.0)
    assert sorted(saved.symbols) == sorted(SYMS)
    # every symbol's entries are blocked (the stop is the account's), even a flat one
    entries = np.array([[0.1, 90.0, KIND_INITIAL_ENTRY]])
    for s in SYMS:
        r = SymbolRisk(acc, s, logging.getLogger("t"))
        assert r.entries(flat[s], entries).shape[0] == 0
        assert r.st.stop_until_ms == until and r.active
    acc.all_flat()
    assert not load_risk_state(p).close_pending
    # a restart mid cool-down: still stopped; at the close that ends it, entries again
    acc2 = AccountRisk(cfg.configs, p, logging.getLogger("t"))
    r2 = SymbolRisk(acc2, "BTCUSDT", logging.getLogger("t"))
    assert r2.entries(state(cfg, "BTCUSDT", 945.0, 100.0, until - 120_000), entries).size == 0
    assert r2.entries(state(cfg, "BTCUSDT", 945.0, 100.0, until - 60_000), entries).shape[0] == 1


def test_unstuck_loss_is_the_symbol_sides_own_saved_in_the_account_file(tmp_path):
    import logging

    from passivbot.live.multi_risk import AccountRisk, SymbolRisk

    cfg = multi_cfg()
    p = tmp_path / "acc.json"
    acc = AccountRisk(cfg.configs, p, logging.getLogger("t"))
    acc.observe(T, 2000.0, {s: state(cfg, s, 2000.0, 100.0, T) for s in SYMS})
    eth = SymbolRisk(acc, "ETHUSDT", logging.getLogger("t"), 0.0002)
    btc = SymbolRisk(acc, "BTCUSDT", logging.getLogger("t"), 0.0002)
    st = state(cfg, "ETHUSDT", 2000.0, 95.0, T, long=(2.0, 100.0))
    eth.before_cycle(st)
    # a long close of 0.5 at 96: pnl 0.5 x (96 - 100) = -2, fee 0.0096: loss 2.0096
    eth.on_trade(LONG, True, 96.0, 0.5, 0.0096, st)
    assert eth.st.unstuck_loss == pytest.approx([2.0096, 0.0])
    assert btc.st.unstuck_loss == [0.0, 0.0]  # BTC's allowance is its own
    saved = load_risk_state(p)
    assert saved.symbols["ETHUSDT"] == pytest.approx([2.0096, 0.0])
    assert saved.symbols["BTCUSDT"] == [0.0, 0.0]
    # the allowance is a share of the ACCOUNT's peak balance: 0.01 x 2000 = 20
    assert eth.st.peak_balance == 2000.0
    from passivbot import risk
    assert risk.unstuck_allowance_nb(eth.rparams[0], eth.st.peak_balance,
                                     eth.st.unstuck_loss[0]) == pytest.approx(20.0 - 2.0096)


def test_account_file_round_trips_and_clear_equity_stop_keeps_the_symbols_losses(tmp_path):
    import logging

    from passivbot import risk
    from passivbot.live.bounded_loss import prepare_risk_state
    from passivbot.live.risk_state import RiskState, RiskStateError, save_risk_state

    st = RiskState(1200.0, [0.0, 0.0], 1100.0, int(risk.STOP_FOREVER), True,
                   {"ETHUSDT": [1.5, 0.0], "BTCUSDT": [0.0, 2.25]})
    p = prepare_risk_state(tmp_path, "binance", "u", "MULTI-test", False, logging.getLogger("t"))
    assert p.name == "binance-u-MULTI-test.risk.json"
    save_risk_state(p, st)
    assert load_risk_state(p) == st
    # start_bot.py --clear-equity-stop on the account file: not stopped, losses kept
    prepare_risk_state(tmp_path, "binance", "u", "MULTI-test", True, logging.getLogger("t"))
    got = load_risk_state(p)
    assert (got.stop_until_ms, got.close_pending, got.peak_equity) == (0, False, 0.0)
    assert got.symbols == st.symbols and got.peak_balance == 1200.0
    # a one-symbol file has no `symbols` key (as it always was)
    assert "symbols" not in json.loads(RiskState().to_json())
    # a bad per-symbol entry: an error naming the file and the key, never a silent reset
    d = json.loads(p.read_text())
    d["symbols"]["BTCUSDT"] = [1.0]
    p.write_text(json.dumps(d))
    with pytest.raises(RiskStateError, match=r"MULTI-test.risk.json: symbols.BTCUSDT: must be"):
        load_risk_state(p)


async def test_restart_between_the_fire_and_the_closes_closes_every_symbols_position(tmp_path):
    """The account file says the stop fired and its closes are not confirmed (a crash after
    the fire was saved, before the market closes): the restarted MultiBot closes every symbol's
    position at market on its first cycle, places no entry, and records the closes done."""
    from passivbot.emulator import Emulator
    from passivbot.live.risk_state import save_risk_state

    path = tmp_path / "binance-user-MULTI-test.risk.json"
    cfg = risk_config(SYMS, 0.5, COOLDOWN)  # a stop that never fires by itself here
    candles = falling(SYMS)
    emu = Emulator("binance", SYMS, candles, start_index=1440, realism="minute",
                   specs={s: market_spec("binance", s) for s in SYMS})
    await emu.start()
    mb = mb2 = None
    try:
        mb = await new_multibot("binance", emu, cfg, path)
        for _ in range(100):  # into the fall until both symbols hold a long
            await step(mb, emu)
            if all(a.positions[LONG].size > 0 for a in emu.accounts.values()):
                break
        assert all(a.positions[LONG].size > 0 for a in emu.accounts.values())
        await mb.stop()
        mb = None
        st = load_risk_state(path)
        acc0 = emu.accounts[SYMS[0]]
        until = int(acc0.candles[acc0.clock - 1, 0]) + 60_000 * (1 + COOLDOWN)
        st.stop_until_ms, st.close_pending = until, True
        save_risk_state(path, st)
        mb2 = await new_multibot("binance", emu, cfg, path)
        for s, a in emu.accounts.items():
            assert a.positions[LONG].size == 0.0 and a.positions[SHORT].size == 0.0, s
            assert [f for f in a.fills if f["taker"]], f"{s}: no market close"
        assert entries_open(emu) == {s: [] for s in SYMS}
        after = load_risk_state(path)
        assert not after.close_pending and after.stop_until_ms == until
    finally:
        for b in (mb, mb2):
            if b is not None:
                await b.stop(cancel_on_exit=True)
        await emu.stop()
