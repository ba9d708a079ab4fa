"""Many markets, one wallet, live: the MultiBot (passivbot/live/multi.py) on the multi-symbol
emulator matches the multi-symbol backtest fill by fill, shares one client, guard and order
budget, streams every symbol over a few sockets, and keeps the symbols' summed exposure under
the shared limit at every minute."""

import logging

import numpy as np
import pytest

from harness.live import fall_then_rise
from harness.parity_multi import busy_multi_dict, load_aligned, run_parity_multi, summary_lines
from passivbot.config.multi import multi_config_from_dict
from passivbot.markets import market_spec
from passivbot.records import P_ENABLED

SYMS = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT"]


def check(rep):
    assert rep.ok, "\n".join(summary_lines(rep))
    assert rep.match_rate == 100.0 and abs(rep.balance_diff) <= 1e-6


@pytest.mark.parametrize("exchange,realism,n_positions", [
    ("binance", "minute", None), ("bybit", "minute", 2),
    ("binance", "full", 2), ("bybit", "full", None)])
async def test_multi_parity_four_symbols_four_hours(exchange, realism, n_positions):
    """4 bundled symbols x 4 hours on one wallet: same fills (minute, symbol, side, kind,
    price, qty), same balance, same positions; with n_positions 2 the selection runs on both
    sides at the same minutes (every 30 here) and chooses alike."""
    cfg = multi_config_from_dict(busy_multi_dict(SYMS, n_positions), "test")
    # 4 hours: with the re-pricing tolerance the initial entries rest still for longer, and in
    # the first 3 hours of day 2 only ETHUSDT filled on Bybit with 2 positions; day 3 trades two
    candles = load_aligned(SYMS, 3, 240 / 1440)
    rep = await run_parity_multi(cfg, candles, exchange, realism=realism, select_every=30)
    check(rep)
    assert len(rep.backtest.fills) >= 20
    assert len({k[1] for k in rep.live.fills}) >= 2  # several symbols traded
    if n_positions is not None:
        assert rep.live.selections == 9 and rep.live.max_holding[0] <= n_positions
    # every symbol's streams over a few sockets: Binance market + public + user, Bybit
    # public + private (ccxt multiplexes the subscriptions on one client)
    assert rep.live.connections <= (3 if exchange == "binance" else 2)


def falling_candles(exchange: str) -> list[np.ndarray]:
    """Each symbol falls 15 % over 80 minutes, then rises 10 %: longs re-enter to their limit."""
    px = {"ETHUSDT": 2000.0, "BTCUSDT": 50_000.0, "SOLUSDT": 150.0, "XRPUSDT": 2.0}
    out = []
    for k, s in enumerate(SYMS):
        x = fall_then_rise(n_history=30, n_fall=80, n_rise=60, price=px[s], fall=0.15, rise=0.1)
        step = market_spec("binance", s).price_step
        x[:, 1:5] = np.round(np.round(x[:, 1:5] / step) * step, 6)
        x[:, 5] = 1000.0 / px[s] * (1 + 0.1 * k)  # different scores for the selection
        out.append(x)
    return out


@pytest.mark.parametrize("exchange,n_positions", [("binance", 2), ("bybit", 4)])
async def test_shared_exposure_limit_binds_live(exchange, n_positions):
    """Shared long limit 0.8: every symbol's long re-enters down a 15 % fall, so the limit
    binds; the sum of the symbols' exposures (emulator truth and the bots' view, polled every
    minute) reaches it and never exceeds it by more than one qty step per symbol."""
    total = 0.8
    d = busy_multi_dict(SYMS, n_positions, total=total)
    for side in ("long", "short"):
        d[side].update(initial_qty_pct=0.15, rentry_pprice_dist=0.01, ddown_factor=1.0,
                       ema_span_0=5.0, ema_span_1=10.0)
    d["short"]["enabled"] = False
    cfg = multi_config_from_dict(d, "bind")
    candles = falling_candles(exchange)
    rep = await run_parity_multi(cfg, candles, exchange, funding=False, select_every=20)
    check(rep)
    balance = 10_000.0
    tol = sum(market_spec("binance", s).qty_step * c[:, 2].max() for s, c in
              zip(SYMS, candles)) / balance
    for seen in (rep.live.max_exposure[0], rep.live.max_exposure_bots[0]):
        assert total * 0.95 <= seen <= total + tol, summary_lines(rep)
    assert rep.live.max_holding[0] == n_positions  # the binding limit is shared, not per bot
    if n_positions == 2:
        assert rep.live.selections > 0


async def test_multibot_shares_one_client_guard_and_order_budget():
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.live.multi import MultiBot

    cfg = multi_config_from_dict(busy_multi_dict(SYMS, 2), "test")
    ex = create_exchange("binance", api_key="k", secret="s", emulator="127.0.0.1:9",
                         rate_limit=False)
    try:
        mb = MultiBot("binance", ex, cfg, logging.getLogger("test.multi"))
        bots = list(mb.bots.values())
        assert [b.adapter.symbol_id for b in bots] == SYMS
        assert len({id(b.guard) for b in bots}) == 1 and bots[0].guard is not None
        assert len({id(b.executor.bucket) for b in bots}) == 1
        assert all(b.adapter.ex._ex is ex for b in bots)
        # nothing may open before the first selection (n_positions 2 < 4 symbols)
        assert all((b.state.params[:, P_ENABLED] == 0.0).all() for b in bots)
    finally:
        await ex.close()


def test_multibot_selects_at_the_backtests_default_cadence_and_window():
    """A MultiBot built without select_every/select_window chooses at the minutes and over the
    window the multi-symbol backtest uses by default (both read passivbot.selection)."""
    import inspect

    from passivbot.backtest.multi import run_multi_backtest
    from passivbot.live.multi import MultiBot

    bt = inspect.signature(run_multi_backtest).parameters
    live = inspect.signature(MultiBot.__init__).parameters
    for name in ("select_every", "select_window"):
        assert live[name].default == bt[name].default, name


def test_due_minutes_count_from_the_first_traded_minute():
    from passivbot.live.multi import MultiBot

    mb = MultiBot.__new__(MultiBot)
    mb.t_start, mb.select_every = None, 60
    t0 = 1_700_000_040_000
    assert mb.due(t0) == t0
    assert mb.due(t0 + 59 * 60_000) == t0
    assert mb.due(t0 + 60 * 60_000) == t0 + 3_600_000
    assert mb.due(t0 + 181 * 60_000) == t0 + 3 * 3_600_000




async def test_open_position_is_managed_after_its_symbol_drops_out_of_the_selection():
    """n_positions 1 of 2: ETH holds a long at start and keeps its slot (its take-profits rest)
    although BTC scores higher; BTC opens nothing. Once ETH's long closes, the next selection
    gives the slot to BTC, whose initial entry then rests; ETH opens nothing."""
    from harness.emulator import flat_candles
    from harness.parity_multi import settle
    from passivbot.records import LONG
    from tests.multi_helpers import eth_long_btc_flat

    n = 40
    eth, btc = flat_candles(n, 2000.0, spread=1.0), flat_candles(n, 50_000.0, spread=10.0)
    eth[12, 2] = 2100.0  # minute 12: ETH trades up through every take-profit of the long
    async with eth_long_btc_flat(eth, btc, 1, "test.multi.select") as (emu, mb):

        def resting(sym):
            return {(o.side, o.close) for o in emu.accounts[sym].open_orders.values()}

        assert mb.allowed["ETHUSDT"][0] and not mb.allowed["BTCUSDT"][0]
        assert (LONG, True) in resting("ETHUSDT") and (LONG, False) not in resting("BTCUSDT")
        while emu.clock < 16:  # the close at minute 12, the next selection at minute 15
            await emu.advance(1)
            await settle(mb, emu)
        assert emu.accounts["ETHUSDT"].positions[LONG].size == 0.0
        assert mb.selections == 2
        assert mb.allowed["BTCUSDT"][0] and not mb.allowed["ETHUSDT"][0]
        assert (LONG, False) in resting("BTCUSDT") and not resting("ETHUSDT")


async def test_realistic_path_waits_for_every_bot_between_points():
    """The lockstep barrier inside a realistic candle (harness.parity_multi.advance_barrier)
    holds the path until every bot is settled, not only until the emulator is idle: a bot
    still deciding (here: not settled for 0.2 s, no request in flight) must see the book of
    the point it reacts to. Emulator.advance(idle_s) alone published all points meanwhile."""
    import time

    from harness.parity_multi import advance_barrier
    from passivbot.emulator import Emulator

    candles = load_aligned(["ETHUSDT", "BTCUSDT"], 3, 10 / 1440)
    emu = Emulator("binance", ["ETHUSDT", "BTCUSDT"], candles, start_index=1, realism="full")
    published = []
    on_event = emu.ws.on_event
    emu.ws.on_event = lambda kind, ev: (published.append(ev.get("price")), on_event(kind, ev))

    class Busy:  # a MultiBot whose bots are still deciding for 0.2 s
        def __init__(self):
            self.ready = time.monotonic() + 0.2
            self.seen_before_ready = None

        def settled(self):
            if time.monotonic() >= self.ready:
                if self.seen_before_ready is None:
                    self.seen_before_ready = len(published)
                return True
            return False

    await emu.start()
    try:
        mb = Busy()
        t0 = time.monotonic()
        await advance_barrier(mb, emu, timeout=5.0)
        assert time.monotonic() - t0 >= 0.2
        assert mb.seen_before_ready == 2  # point 0 of both symbols, nothing after it
        assert len(published) > 2 and emu.clock == 2
    finally:
        await emu.stop()
