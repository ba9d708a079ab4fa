"""Multi-symbol parity: the multi-symbol backtest and the live MultiBot trading the multi-symbol
emulator (one wallet) must produce the same fills and the same balance.

`run_parity_multi(cfg, candles, exchange)`: `passivbot.backtest.multi.run_multi_backtest` over
the symbols' candles (one minute axis, `emulator.wallet.align_candles`), then
`passivbot.live.multi.MultiBot` (real ccxt, one client) against an `Emulator` serving the same
candles for all symbols on one account, in lockstep, and compares:
- the fills as (minute, symbol, side, kind, price, qty), in settlement order (minute, then
  symbol order, as both settle);
- the final wallet balance and every symbol's positions;
- at every minute (a poll after the bot settled), the sum over symbols of each side's wallet
  exposure on the emulator (the exchange's truth), against the shared limit
  (`max_exposure`: the largest seen, per side).

Alignment as in `harness.parity`: the backtest seeds on candles[0] (EMA warm-up 0), the
emulator starts at index 1 with one extra candle past the end; the selection (n_positions <
symbols) runs at minute 0 and every `select_every` minutes on both sides.

Specs: each symbol's own (`markets.market_spec`). Bybit's bundled snapshot has only ETHUSDT
and BTCUSDT; for the others the Bybit run serves the Binance spec of the symbol over the Bybit
protocol (`bybit_specs`), the same arrays to both sides - the protocol and the engines are what
parity tests, not the spec's numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from harness.live import state_caught_up
from harness.parity import (
    BALANCE_TOL, BUSY_OVERRIDES, FillCounts, align_fills, lockstep_options,
)
from passivbot.markets import DEFAULT_FEES, MarketSpec, market_spec
from passivbot.records import (
    KIND_CLOSE, KIND_FUNDING, KIND_NAMES, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG, SHORT,
)

MultiKey = tuple  # (minute, symbol, side, kind, price, qty)


def specs_for(exchange: str, symbols: list[str]) -> dict[str, MarketSpec]:
    """Each symbol's spec on `exchange`; where none is bundled (Bybit), Binance's."""
    out = {}
    for s in symbols:
        try:
            out[s] = market_spec(exchange, s)
        except KeyError:
            out[s] = market_spec("binance", s)
    return out


def busy_multi_dict(symbols: list[str], n_positions: int | None = None,
                    total: float = 1.2, leverage: int = 10) -> dict:
    """A multi-symbol live config dict: ETH-J1 made busy (harness.parity.BUSY_OVERRIDES) on
    every symbol, the shared limit `total` per side."""
    from passivbot.config import live_config_to_dict, load_live_config

    d = live_config_to_dict(load_live_config("ETH-J1"))
    for side in ("long", "short"):
        d[side].update(BUSY_OVERRIDES)
        d[side].pop("wallet_exposure_limit", None)
    d.pop("symbol", None)
    d.update(symbols=list(symbols), total_wallet_exposure_limit={"long": total, "short": total},
             leverage=leverage)
    if n_positions is not None:
        d["n_positions"] = n_positions
    return d


# Bounded loss of the short multi parity test (tests/test_live_multi_risk.py) and
# `bench/parity_multi.py --config bounded-loss`: unstuck above 0.15 x the limit, 20 % of the
# position per close at the band, 1 % of the peak balance each symbol side may lose to it.
UNSTUCK = dict(unstuck_threshold=0.15, unstuck_close_pct=0.2, unstuck_ema_dist=0.0,
               unstuck_loss_allowance_pct=0.01)


def bounded_loss_multi_dict(symbols: list[str], drawdown: float = 0.006, cooldown: int = 60,
                            n_positions: int | None = None) -> dict:
    """`busy_multi_dict` with UNSTUCK on both sides of every symbol and the account's equity
    stop at `drawdown` with a `cooldown`-minute pause."""
    d = busy_multi_dict(symbols, n_positions)
    for side in ("long", "short"):
        d[side].update(UNSTUCK)
    d.update(equity_stop_drawdown=drawdown, equity_stop_cooldown_minutes=cooldown)
    return d


def load_aligned(symbols: list[str], start_day: float, days: float) -> list[np.ndarray]:
    """The bundled samples of `symbols` on their common minutes, days [start, start + days)
    plus one candle (the backtest's last minute is then settled by the emulator too)."""
    from passivbot.data.bundled import load_bundled
    from passivbot.emulator.wallet import align_candles

    al = align_candles([np.array(load_bundled(s)) for s in symbols])
    i0 = int(start_day * 1440)
    i1 = i0 + int(days * 1440) + 1
    return [np.ascontiguousarray(c[i0:i1]) for c in al]


def fundings_for(exchange: str, symbols: list[str], candles: list[np.ndarray]) -> list:
    """Each symbol's funding events over the span (bundled sample; none known: empty)."""
    from passivbot.data.perp import load_funding

    out = []
    for s, c in zip(symbols, candles):
        f = load_funding(exchange, s, int(c[0, 0]), int(c[-1, 0]) + 60_000)
        out.append((np.asarray(f.times_ms, np.int64), np.asarray(f.rates, np.float64),
                    np.asarray(f.mark, np.float64)))
    return out


@dataclass
class MultiOutcome:
    fills: list[MultiKey]
    balance: float
    positions: dict[str, tuple[tuple[float, float], tuple[float, float]]]
    seconds: float = 0.0
    n_candles: int = 0
    unsettled: list[int] = field(default_factory=list)
    max_exposure: tuple[float, float] = (0.0, 0.0)  # per side, the largest sum seen (emulator)
    selections: int = 0
    max_exposure_bots: tuple[float, float] = (0.0, 0.0)  # the same, as the bots saw it
    max_holding: tuple[int, int] = (0, 0)  # per side, most symbols holding a position at once
    connections: int = 0  # websockets open once every symbol subscribed
    n_unstuck: int = 0  # backtest: its unstuck closes and equity-stop closes (compared as
    n_stop: int = 0  # reduce-only closes: the exchange sees no reason)
    stops_fired: int = 0  # times the account's equity stop fired (backtest S_STOPS; live
    #                       MultiBot.risk.stops_fired)


@dataclass
class MultiReport(FillCounts):
    exchange: str
    symbols: list[str]
    n_candles: int
    backtest: MultiOutcome
    live: MultiOutcome
    matched: int
    mismatches: list[str]

    @property
    def positions_equal(self) -> bool:
        for s in self.symbols:
            for a, b in zip(self.backtest.positions[s], self.live.positions[s]):
                if abs(a[0] - b[0]) >= 1e-9 or abs(a[1] - b[1]) > 1e-6 * max(1.0, abs(a[1])):
                    return False
        return True

    @property
    def ok(self) -> bool:
        return (self.matched == len(self.backtest.fills) == len(self.live.fills)
                and abs(self.balance_diff) <= BALANCE_TOL and self.positions_equal
                and not self.live.unsettled)


def key(minute, sym, side, kind, price, qty) -> MultiKey:
    return (int(minute), sym, int(side), int(kind), float(f"{price:.10g}"), float(f"{qty:.10g}"))


def describe(k: MultiKey) -> str:
    side = "long" if k[2] == LONG else "short"
    return f"minute {k[0]} {k[1]}: {side} {KIND_NAMES[k[3]]} {k[5]:g} @ {k[4]:g}"


def backtest_outcome(cfg, candles: list[np.ndarray], specs: dict, fundings: list,
                     starting_balance: float, maker: float, taker: float,
                     select_every: int, select_window: int,
                     bounded_loss: bool = False) -> MultiOutcome:
    """The multi backtest's fills and final state. `bounded_loss`: with the config's unstuck
    keys per symbol and its equity stop on the account; their closes compare as KIND_CLOSE."""
    from passivbot.backtest.account import S_STOPS
    from passivbot.backtest.multi import SymbolInput, run_multi_backtest
    from passivbot.backtest.multi_nb import (
        AE_BALANCE, SE_PPRICE_LONG, SE_PPRICE_SHORT, SE_PSIZE_LONG, SE_PSIZE_SHORT,
    )
    from passivbot.config import side_params
    from passivbot.config.risk import stop_params, unstuck_params

    ins = []
    for s, c, f in zip(cfg.symbols, candles, fundings):
        sp, live = specs[s], cfg.configs[s]
        risk = dict(long_risk=unstuck_params(live.long), short_risk=unstuck_params(live.short)) \
            if bounded_loss else {}
        ins.append(SymbolInput(s, c, side_params(live.long), side_params(live.short),
                               sp.market_array(), sp.brackets_array(), sp.mmr_add,
                               f[0], f[1], f[2], 0, **risk))
    n = cfg.n_positions if cfg.selecting else None
    stop = stop_params(cfg.configs[cfg.symbols[0]]) if bounded_loss else None
    t0 = time.perf_counter()
    res = run_multi_backtest(ins, starting_balance, maker, taker, leverage=float(cfg.leverage),
                             n_positions=None if n is None else (n, n),
                             select_every=select_every, select_window=select_window,
                             stop_params=stop)
    kinds = res.fills["kind"]
    reduce_only = (KIND_UNSTUCK_CLOSE, KIND_STOP_CLOSE)
    keys = [key(x["minute"], cfg.symbols[int(k)], x["side"],
                KIND_CLOSE if x["kind"] in reduce_only else x["kind"], x["price"], x["qty"])
            for x, k in zip(res.fills, res.fill_symbol) if x["kind"] != KIND_FUNDING]
    last = res.symbol_equity[-1]
    pos = {s: ((float(last[k, SE_PSIZE_LONG]), float(last[k, SE_PPRICE_LONG])
                if last[k, SE_PSIZE_LONG] > 0 else 0.0),
               (float(last[k, SE_PSIZE_SHORT]), float(last[k, SE_PPRICE_SHORT])
                if last[k, SE_PSIZE_SHORT] > 0 else 0.0))
           for k, s in enumerate(cfg.symbols)}
    return MultiOutcome(keys, float(res.equity[-1, AE_BALANCE]), pos, time.perf_counter() - t0,
                        len(candles[0]), n_unstuck=int((kinds == KIND_UNSTUCK_CLOSE).sum()),
                        n_stop=int((kinds == KIND_STOP_CLOSE).sum()),
                        stops_fired=int(res.summary[S_STOPS]))


def emulator_exposure(emu) -> tuple[float, float]:
    """Per side, the sum over symbols of position cost / wallet balance on the emulator."""
    bal = emu.wallet.balance
    if bal <= 0.0:
        return 0.0, 0.0
    return tuple(sum(a.positions[s].size * a.positions[s].price for a in emu.accounts.values())
                 / bal for s in (LONG, SHORT))


def caught_up(mb, emu) -> bool:
    """Every symbol's bot sees its emulator book's last closed candle, the wallet balance and
    its positions."""
    return all(state_caught_up(bot.state, emu.accounts[sym], emu.accounts[sym].candles)
               for sym, bot in mb.bots.items())


async def settle(mb, emu, timeout: float = 10.0, idle_s: float = 0.001) -> None:
    """Lockstep barrier for all symbols (harness.live.settle's, for a MultiBot)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await emu.wait_idle(idle_s, timeout)
        if caught_up(mb, emu) and await mb.wait_settled(timeout):
            if await emu.wait_idle(idle_s, timeout) and mb.settled() and caught_up(mb, emu):
                return
        await asyncio.sleep(idle_s / 2)
    raise AssertionError(f"the bots did not settle with the emulator in {timeout}s at clock "
                         f"{emu.clock}")


async def advance_barrier(mb, emu, idle_s: float = 0.001, timeout: float = 15.0) -> list:
    """One candle (emulator.advance's lockstep candle) whose realistic-mode path waits after
    every point until the emulator is idle AND every symbol's bot is settled (no cycle
    pending or running, no action in flight).

    `Emulator.advance(idle_s=...)` waits only for the emulator to be idle: no request in
    flight, no stream message queued, for `idle_s`. A bot between a tick and its request (its
    1 ms debounce, a calculator call, another symbol's cycle holding the event loop) looks
    idle, so with four bots the path could move on before a bot placed the orders it decided
    at the close: an entry then went out behind a later point's book (7-day Binance run,
    minute 4269 ETHUSDT: long initial entry 0.264 rested at 2308.4 live, the backtest's
    2311.45), and the parity depended on the machine's load. The backtest's model is the bot
    done before the path moves; this barrier makes the lockstep run that model."""
    async def pause(k: int, t_ms: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await emu.wait_idle(idle_s, timeout)
            if mb.settled():
                await asyncio.sleep(0)  # messages delivered meanwhile are handled first
                if mb.settled() and await emu.wait_idle(idle_s, timeout) and mb.settled():
                    return
            await asyncio.sleep(idle_s / 2)

    fills = await emu._candle(emu.realism.lockstep_points, pause, lockstep=True)
    emu._cut_old_conns()
    await asyncio.sleep(0)
    return fills


def subscribed(emu, n_symbols: int) -> bool:
    topics = [t.lower() for c in emu.conns for t in c.topics]
    user = any(c.kind == "user" for c in emu.conns) or "order" in topics
    return user and sum("kline" in t for t in topics) >= n_symbols and \
        sum("ticker" in t for t in topics) >= n_symbols


async def live_outcome(cfg, candles: list[np.ndarray], exchange: str, specs: dict,
                       fundings: list, starting_balance: float, maker: float, taker: float,
                       select_every: int, select_window: int, realism="minute",
                       time_limit_s: float | None = None, minute_timeout: float = 10.0,
                       max_unsettled: int = 20, progress=None, options=None) -> MultiOutcome:
    from passivbot.emulator import Emulator
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.live.multi import MultiBot

    n = len(candles[0])
    ext = []
    for c in candles:
        extra = c[-1:].copy()
        extra[0, 0] += 60_000
        ext.append(np.concatenate([c, extra]))
    emu = Emulator(exchange, list(cfg.symbols), ext, start_index=1,
                   starting_balance=starting_balance, maker_fee=maker, taker_fee=taker,
                   realism=realism, funding=fundings, specs=specs)
    await emu.start()
    ex = create_exchange(exchange, api_key="parity-key", secret="parity-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    log = logging.getLogger(f"harness.parity_multi.{exchange}")
    log.setLevel(logging.WARNING)
    mb = MultiBot(exchange, ex, cfg, log, options=options or lockstep_options(),
                  select_every=select_every, select_window=select_window)
    t0 = time.perf_counter()
    unsettled: list[int] = []
    hi, hi_bots, holding = [0.0, 0.0], [0.0, 0.0], [0, 0]
    n_conns = 0
    try:
        await asyncio.wait_for(mb.start(), 60)
        deadline = time.monotonic() + 20
        while not subscribed(emu, len(cfg.symbols)):
            if time.monotonic() > deadline:
                raise AssertionError("the bots did not subscribe their streams in time")
            await asyncio.sleep(0.01)
        await settle(mb, emu)
        n_conns = len(emu.conns)
        while emu.clock < n:
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                break
            await advance_barrier(mb, emu)
            try:
                await settle(mb, emu, timeout=minute_timeout)
            except AssertionError:
                unsettled.append(emu.clock)
                if len(unsettled) >= max_unsettled:
                    break
            hi = [max(a, b) for a, b in zip(hi, emulator_exposure(emu))]
            hi_bots = [max(a, b) for a, b in zip(hi_bots, mb.exposures())]
            for j, side in enumerate((LONG, SHORT)):
                holding[j] = max(holding[j], sum(a.positions[side].size > 0
                                                 for a in emu.accounts.values()))
            if progress is not None:
                progress(emu.clock, n)
    finally:
        await mb.stop()
        await emu.stop()
    books = list(emu.accounts.values())
    rows = []
    for k, (sym, acc) in enumerate(emu.accounts.items()):
        merged: list[list] = []
        for f in acc.fills:  # a partial fill's executions are one fill of the rule
            if merged and merged[-1][6] == f["order_id"] and merged[-1][0] == f["minute"]:
                merged[-1][5] += f["qty"]
            else:
                merged.append([f["minute"], sym, f["side"], f["kind"], f["price"], f["qty"],
                               f["order_id"], k, f["n"]])
        rows += merged
    rows.sort(key=lambda r: (r[0], r[7], r[8]))
    keys = [key(*r[:6]) for r in rows]
    pos = {s: tuple((a.positions[sd].size, a.positions[sd].price if a.positions[sd].size else 0.0)
                    for sd in (LONG, SHORT)) for s, a in emu.accounts.items()}
    return MultiOutcome(keys, books[0].balance, pos, time.perf_counter() - t0, books[0].clock,
                        unsettled, (hi[0], hi[1]), mb.selections, (hi_bots[0], hi_bots[1]),
                        (holding[0], holding[1]), n_conns, stops_fired=mb.risk.stops_fired)


def compare(exchange: str, symbols: list[str], n: int, bt: MultiOutcome,
            live: MultiOutcome) -> MultiReport:
    matched, out = align_fills(bt.fills, live.fills, describe)
    return MultiReport(exchange, symbols, n, bt, live, matched, out)


async def run_parity_multi(cfg, candles: list[np.ndarray], exchange: str,
                           starting_balance: float = 10_000.0, realism="minute",
                           select_every: int = 60, select_window: int = 1440,
                           funding: bool = True, time_limit_s: float | None = None,
                           progress=None, bounded_loss: bool = False,
                           options=None) -> MultiReport:
    """The multi backtest, then the MultiBot on the multi emulator over the same candles (see
    module). With `time_limit_s` the live run may stop early; both are then compared over the
    candles it reached. `bounded_loss`: the backtest with the config's unstuck and equity-stop
    keys (the MultiBot always applies them); `options`: the bots' (default lockstep_options)."""
    fees = DEFAULT_FEES[exchange]
    maker, taker = fees["maker_fee"], fees["taker_fee"]
    syms = list(cfg.symbols)
    specs = specs_for(exchange, syms)
    f = fundings_for(exchange, syms, candles) if funding else \
        [(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))] * len(syms)
    live = await live_outcome(cfg, candles, exchange, specs, f, starting_balance, maker, taker,
                              select_every, select_window, realism, time_limit_s,
                              minute_timeout=15.0,  # 4+ bots on a loaded machine
                              progress=progress, options=options)
    n = min(live.n_candles, len(candles[0]))
    bt = backtest_outcome(cfg, [c[:n] for c in candles], specs, f, starting_balance, maker,
                          taker, select_every, select_window, bounded_loss)
    return compare(exchange, syms, n, bt, live)


def summary_lines(rep: MultiReport) -> list[str]:
    b, lv = rep.backtest, rep.live
    lines = [f"{rep.exchange}: {len(rep.symbols)} symbols x {rep.n_candles} candles, fills "
             f"backtest {len(b.fills)} live {len(lv.fills)}, matched {rep.matched} "
             f"({rep.match_rate:.1f} %)",
             f"{rep.exchange}: final balance backtest {b.balance:.6f} live {lv.balance:.6f} "
             f"(diff {rep.balance_diff:.2e}); positions equal {rep.positions_equal}; "
             f"selections {lv.selections}; max exposure sum long {lv.max_exposure[0]:.4f} short "
             f"{lv.max_exposure[1]:.4f}; websockets {lv.connections}; live run "
             f"{lv.seconds:.1f} s"]
    if b.stops_fired or lv.stops_fired or b.n_unstuck:
        lines.append(f"{rep.exchange}: account equity stop fired backtest {b.stops_fired} live "
                     f"{lv.stops_fired} ({b.n_stop} stop closes), {b.n_unstuck} unstuck closes")
    if lv.unsettled:
        lines.append(f"{rep.exchange}: bots not caught up at {len(lv.unsettled)} minutes, "
                     f"first {lv.unsettled[:20]}")
    lines += [f"{rep.exchange}: MISMATCH {m}" for m in rep.mismatches[:50]]
    return lines
