"""Parity: the backtester and the real live bot trading the emulator must produce the same fills.

`run_parity(cfg, candles, exchange)` runs `backtest.engine.run_backtest` over `candles`, then
the live bot (`LiveBot` over real ccxt from `create_exchange`, start_bot's code path) against
an `Emulator` replaying the same candles in lockstep, with the same starting balance, fees and
market spec (`markets.market_spec(exchange, symbol)`), and compares:

- the fill sequences as (minute, side, kind, price, qty) tuples, in settlement order;
- the final wallet balance and both positions (size, price).

Start alignment: the backtester seeds its EMAs and last price on candles[0] and rests its
first orders for candle 1. The emulator starts at `start_index=1`, so the only closed candle
the bot can warm up on is candles[0]: its warm-up (`LiveBot.warm_up`, seeded with the first
close, whatever the history's length) gives the same EMAs, and its first orders rest for
candle 1. The emulator gets one extra candle past the end so that the last backtested candle
(n-1) can be settled (`advance` needs candle `clock` to exist).

Lockstep: each minute the emulator settles one candle, then the harness waits until the bot
has caught up (same closed candle, price, balance, positions) and is idle
(`settle` below, a 1 ms idle window). After every settled minute the emulator's book is
compared with the calculator's ideal orders for the emulator's own state
(`harness.live.expected_orders`): a book that is not ideal is reported with its minute
(`book_mismatches`).

Numbers cross JSON as strings (ccxt formats qty and price to the market's precision), so
prices and quantities are compared after rounding to 10 significant digits and balances
within 1e-6 of a quote unit.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from passivbot.backtest.engine import (
    EQ_BALANCE, EQ_PPRICE_LONG, EQ_PPRICE_SHORT, EQ_PSIZE_LONG, EQ_PSIZE_SHORT, run_backtest,
)
from passivbot.config import LiveConfig, side_params
from passivbot.markets import DEFAULT_FEES, market_spec
from passivbot.records import (
    KIND_CLOSE, KIND_FUNDING, KIND_NAMES, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG, SHORT,
)

FillKey = tuple  # (minute, side, kind, price, qty)
BALANCE_TOL = 1e-6
# ETH-J1 made busy: a bigger first entry, tight spacing, short EMAs and a narrow take-profit
# band, so a day of bundled ETHUSDT has entries, re-entries and closes on both sides.
BUSY_OVERRIDES = {"initial_qty_pct": 0.1, "rentry_pprice_dist": 0.005, "ema_span_0": 60.0,
                  "ema_span_1": 180.0, "min_markup": 0.002, "markup_range": 0.004}


def busy_config(base: str = "ETH-J1") -> LiveConfig:
    """The parity runs' config: `base` with BUSY_OVERRIDES on both sides."""
    from passivbot.config import live_config_from_dict, live_config_to_dict, load_live_config

    d = live_config_to_dict(load_live_config(base))
    for side in ("long", "short"):
        d[side].update(BUSY_OVERRIDES)
    return live_config_from_dict(d, f"{base} (parity overrides)")


def fill_key(minute: int, side: int, kind: int, price: float, qty: float) -> FillKey:
    return (int(minute), int(side), int(kind), float(f"{price:.10g}"), float(f"{qty:.10g}"))


def describe_fill(k: FillKey) -> str:
    side = "long" if k[1] == LONG else "short"
    return f"minute {k[0]}: {side} {KIND_NAMES[k[2]]} {k[4]:g} @ {k[3]:g}"


@dataclass
class Outcome:
    """What one run produced: fills, final wallet balance, positions (size, price) per side."""

    fills: list[FillKey]
    balance: float
    positions: tuple[tuple[float, float], tuple[float, float]]
    seconds: float = 0.0
    book_mismatches: list[int] = field(default_factory=list)  # minutes with a non-ideal book
    n_candles: int = 0  # candles run (live: may stop early at a time limit)
    unsettled: list[int] = field(default_factory=list)  # minutes the bot never caught up with


class FillCounts:
    """What every parity report derives from its `backtest` and `live` outcomes (`fills`,
    `balance`) and its `matched` count (one symbol here, several in harness.parity_multi)."""

    @property
    def total(self) -> int:
        return max(len(self.backtest.fills), len(self.live.fills))

    @property
    def match_rate(self) -> float:
        """Matched fills / the longer sequence, in percent (100 with no fill on either side)."""
        return 100.0 if self.total == 0 else 100.0 * self.matched / self.total

    @property
    def balance_diff(self) -> float:
        return self.live.balance - self.backtest.balance


def align_fills(bt: list, live: list, describe) -> tuple[int, list[str]]:
    """(matched, mismatches): the two fill sequences aligned by their longest matching blocks;
    each fill on one side only described as "backtest only ..." / "live only ..."."""
    sm = difflib.SequenceMatcher(None, bt, live, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks())
    out = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            out += [f"backtest only {describe(k)}" for k in bt[i1:i2]]
            out += [f"live only {describe(k)}" for k in live[j1:j2]]
    return matched, out


@dataclass
class ParityReport(FillCounts):
    exchange: str
    n_candles: int
    backtest: Outcome
    live: Outcome
    matched: int
    mismatches: list[str]  # "backtest only minute ..." / "live only minute ..."

    @property
    def positions_equal(self) -> bool:
        return all(abs(a[0] - b[0]) < 1e-9 and abs(a[1] - b[1]) <= 1e-6 * max(1.0, abs(a[1]))
                   for a, b in zip(self.backtest.positions, self.live.positions))

    @property
    def ok(self) -> bool:
        return (self.matched == len(self.backtest.fills) == len(self.live.fills)
                and abs(self.balance_diff) <= BALANCE_TOL and self.positions_equal
                and not self.live.book_mismatches and not self.live.unsettled)


def funding_arrays(funding) -> tuple:
    """(times int64, rates, marks) of a `data.perp.FundingSeries` (or a (times, rates[, marks])
    tuple); None: no funding. The same arrays go to the backtester and the emulator."""
    if funding is None:
        return None
    from passivbot.emulator.perp import FundingClock

    c = FundingClock.of(funding)
    return c.times, c.rates, c.marks


def backtest_outcome(cfg: LiveConfig, candles: np.ndarray, exchange: str,
                     starting_balance: float, maker_fee: float, taker_fee: float,
                     funding=None, bounded_loss: bool = False) -> Outcome:
    """The backtester's fills and final state over `candles` with the exchange's market spec,
    the config's leverage (the initial-margin rule) and `funding` (see `funding_arrays`);
    funding rows are balance changes, not fills: the final balance carries them.
    `bounded_loss`: with the config's unstuck / equity-stop keys; their close kinds compare as
    KIND_CLOSE (the emulator sees a reduce-only order, not the bot's reason for it)."""
    spec = market_spec(exchange, cfg.symbol)
    f = funding_arrays(funding)
    t0 = time.perf_counter()
    extra = {}
    if bounded_loss:
        from passivbot.config.risk import stop_params, unstuck_params
        extra = dict(long_risk=unstuck_params(cfg.long), short_risk=unstuck_params(cfg.short),
                     stop_params=stop_params(cfg))
    fills, equity, _ = run_backtest(candles, side_params(cfg.long), side_params(cfg.short),
                                    spec.market_array(), spec.brackets_array(), starting_balance,
                                    maker_fee, taker_fee, spec.mmr_add,
                                    leverage=float(cfg.leverage),
                                    funding_times=None if f is None else f[0],
                                    funding_rates=None if f is None else f[1],
                                    funding_marks=None if f is None else f[2], **extra)
    fills = [x for x in fills if x["kind"] != KIND_FUNDING]
    kinds = [KIND_CLOSE if bounded_loss and x["kind"] in (KIND_UNSTUCK_CLOSE, KIND_STOP_CLOSE)
             else x["kind"] for x in fills]
    keys = [fill_key(x["minute"], x["side"], k, x["price"], x["qty"])
            for x, k in zip(fills, kinds)]
    last = equity[-1]
    return Outcome(keys, float(last[EQ_BALANCE]),
                   ((float(last[EQ_PSIZE_LONG]), float(last[EQ_PPRICE_LONG])),
                    (float(last[EQ_PSIZE_SHORT]), float(last[EQ_PPRICE_SHORT]))),
                   time.perf_counter() - t0, n_candles=len(candles))


def lockstep_options():
    """The bot's options for lockstep runs: start_bot's emulator mode (no local clock, the
    emulator's candle clock), a short debounce and quiet time so a minute settles quickly,
    and an order rate that does not throttle an emulator whose minutes pass in milliseconds."""
    from passivbot.live.bot import BotOptions

    return BotOptions(use_local_clock=False, debounce_s=0.001, settle_quiet_s=0.001,
                      reconcile_every_s=10.0, status_every_s=1e9, orders_per_s=1000)


async def start_bot(exchange: str, cfg: LiveConfig, emu, options=None, log_level: str = "WARNING",
                    timeout_ms: int | None = None):
    """A LiveBot on real ccxt (create_exchange with the emulator host), started and settled.
    `timeout_ms`: the ccxt client's request timeout (default ccxt's 10 s)."""
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.exchanges.errors import Redactor
    from passivbot.exchanges.registry import make_adapter
    from passivbot.live.bot import LiveBot
    from harness.live import settle, wait_subscribed

    ex = create_exchange(exchange, api_key="parity-key", secret="parity-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    if timeout_ms is not None:
        ex.timeout = timeout_ms
    log = logging.getLogger(f"harness.parity.{exchange}")
    log.setLevel(getattr(logging, log_level))
    bot = LiveBot(make_adapter(exchange, ex, cfg.symbol), cfg, log, Redactor(),
                  options or lockstep_options())
    try:
        await asyncio.wait_for(bot.start(), 30)
        await wait_subscribed(emu)
        await settle(bot, emu)
    except BaseException:
        await bot.stop()
        raise
    return bot


async def settle(bot, emu, timeout: float = 10.0, idle_s: float = 0.001) -> None:
    """`harness.live.settle` with a 1 ms idle window (see there why that is safe)."""
    from harness.live import settle as lockstep_settle

    await lockstep_settle(bot, emu, timeout, idle_s)


def book_is_ideal(bot, emu) -> bool:
    from harness.live import emulator_book, expected_orders, wanted_book

    acc = emu.account
    exp = expected_orders(acc, emu.candles, 0, bot.state.params, bot.market)
    book = emulator_book(acc)
    # an entry the venue refuses for margin now (the one rule, `Account.entry_fits`; the
    # backtest refuses it at the fill by the same function with the same inputs) may be
    # missing; one placed when it fitted rests on (exchanges cancel nothing for margin)
    exp = [w for w in exp if w.close or acc.entry_fits(w.qty, w.price, acc.last_price)
           or wanted_book([w])[0] in book]
    return book == wanted_book(exp)


def merged_fills(fills: list[dict]) -> list[FillKey]:
    """The emulator's executions as the fill rule's fills: consecutive executions of one order
    in one minute (a partial fill's parts, realistic mode) are one fill of their summed qty."""
    out: list[list] = []
    for f in fills:
        if out and out[-1][5] == f["order_id"] and out[-1][0] == f["minute"]:
            out[-1][4] += f["qty"]
        else:
            out.append([f["minute"], f["side"], f["kind"], f["price"], f["qty"], f["order_id"]])
    return [fill_key(*row[:5]) for row in out]


async def live_outcome(cfg: LiveConfig, candles: np.ndarray, exchange: str,
                       starting_balance: float, maker_fee: float, taker_fee: float,
                       minute_timeout: float = 10.0, check_book: bool = True,
                       progress=None, time_limit_s: float | None = None,
                       realism="full", max_unsettled: int = 20, funding=None) -> Outcome:
    """The live bot's fills trading the emulator in lockstep over candles[1:] (see module).

    With `time_limit_s`, stops after the minute that crosses it; `Outcome.n_candles` says how
    many candles were run (the backtest to compare with is over candles[:n_candles]).
    `realism`: the emulator's mode ("full": intra-minute path, spread, partial fills; "minute").
    A minute the bot does not catch up with (its price, balance or positions differ from the
    emulator's after `minute_timeout`) is recorded in `Outcome.unsettled` and the run goes on;
    after `max_unsettled` such minutes it stops there (compared over the candles reached)."""
    from passivbot.emulator import Emulator

    n = len(candles)
    extra = candles[-1:].copy()
    extra[0, 0] += 60_000
    emu = Emulator(exchange, cfg.symbol, np.concatenate([candles, extra]), start_index=1,
                   starting_balance=starting_balance, maker_fee=maker_fee, taker_fee=taker_fee,
                   realism=realism, funding=funding_arrays(funding))
    await emu.start()
    t0 = time.perf_counter()
    bot = None
    bad_books: list[int] = []
    unsettled: list[int] = []
    try:
        bot = await start_bot(exchange, cfg, emu)
        if check_book and not book_is_ideal(bot, emu):
            bad_books.append(emu.clock)
        while emu.clock < n:
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                break
            await emu.advance(1, idle_s=0.001)
            try:
                await settle(bot, emu, timeout=minute_timeout)
            except AssertionError:
                unsettled.append(emu.clock)
                if len(unsettled) >= max_unsettled:
                    break
            if check_book and not book_is_ideal(bot, emu):
                bad_books.append(emu.clock)
            if progress is not None:
                progress(emu.clock, n)
    finally:
        if bot is not None:
            await bot.stop()
        await emu.stop()
    acc = emu.account
    keys = merged_fills(acc.fills)
    pos = tuple((acc.positions[s].size, acc.positions[s].price if acc.positions[s].size else 0.0)
                for s in (LONG, SHORT))
    return Outcome(keys, acc.balance, pos, time.perf_counter() - t0, bad_books, acc.clock,
                   unsettled)


def compare(exchange: str, n_candles: int, bt: Outcome, live: Outcome) -> ParityReport:
    """Align the two fill sequences (longest matching blocks) and list what differs."""
    matched, out = align_fills(bt.fills, live.fills, describe_fill)
    return ParityReport(exchange, n_candles, bt, live, matched, out)


async def run_parity(cfg: LiveConfig, candles: np.ndarray, exchange: str,
                     starting_balance: float = 10_000.0, maker_fee: float | None = None,
                     taker_fee: float | None = None, progress=None,
                     time_limit_s: float | None = None, realism="full",
                     funding=None, bounded_loss: bool = False) -> ParityReport:
    """Backtest, then the live bot on the emulator over the same candles; the comparison.

    With `time_limit_s` the live run may stop early; both are then compared over the candles
    the live run reached. `realism`: the emulator's mode, "full" (default) or "minute".
    `funding`: the symbol's funding events (`data.perp.load_funding`), the same arrays charged
    by both; None: no funding."""
    fees = DEFAULT_FEES[exchange]
    maker = fees["maker_fee"] if maker_fee is None else maker_fee
    taker = fees["taker_fee"] if taker_fee is None else taker_fee
    candles = np.ascontiguousarray(candles, dtype=np.float64)
    bt = backtest_outcome(cfg, candles, exchange, starting_balance, maker, taker, funding,
                          bounded_loss)
    # bounded_loss: the ideal book check (harness.live.expected_orders) knows only the grid
    live = await live_outcome(cfg, candles, exchange, starting_balance, maker, taker,
                              check_book=not bounded_loss,
                              progress=progress, time_limit_s=time_limit_s, realism=realism,
                              minute_timeout=10.0 if realism == "minute" else 3.0,
                              funding=funding)
    if live.n_candles < len(candles):
        bt = backtest_outcome(cfg, candles[:live.n_candles], exchange, starting_balance, maker,
                              taker, funding, bounded_loss)
    return compare(exchange, live.n_candles, bt, live)


def summary_lines(rep: ParityReport) -> list[str]:
    """Human lines: counts, balances, positions, then each mismatch with its minute."""
    b, lv = rep.backtest, rep.live
    lines = [f"{rep.exchange}: {rep.n_candles} candles, fills backtest {len(b.fills)} live "
             f"{len(lv.fills)}, matched {rep.matched} ({rep.match_rate:.1f} %)",
             f"{rep.exchange}: final balance backtest {b.balance:.6f} live {lv.balance:.6f} "
             f"(diff {rep.balance_diff:.2e}); positions backtest {b.positions} live "
             f"{lv.positions}; live run {lv.seconds:.1f} s"]
    if lv.book_mismatches:
        lines.append(f"{rep.exchange}: book not ideal at {len(lv.book_mismatches)} minutes, "
                     f"first {lv.book_mismatches[:20]}")
    if lv.unsettled:
        lines.append(f"{rep.exchange}: bot not caught up with the emulator at "
                     f"{len(lv.unsettled)} minutes, first {lv.unsettled[:20]}")
    lines += [f"{rep.exchange}: MISMATCH {m}" for m in rep.mismatches]
    return lines
