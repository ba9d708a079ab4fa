"""The live bot: set up the account, keep state from streams, decide and execute, heal, stop.

Life cycle: `setup()` (hedge mode, leverage, market specs, tiers, state over REST, EMA warm-up)
-> `start()` (stream tasks, the cycle loop, reconciliation, status) -> `stop()`. Every event
that can change the ideal orders (a fill, a candle close, a position or balance change) calls
`trigger()`; the cycle loop debounces them, so a burst gives one decide/execute cycle. A tick
is not such an event: the calculator prices from the last closed candle, as the backtest.
`wait_settled()` lets a lockstep test (or the bench) wait until no cycle is pending or running.

Who owns what: `LiveBot` the life cycle, tasks and the cycle loop; `StateSync` (live/sync.py)
every change of the state, from streams and REST; `Executor` every order request; the
exchange guard (exchanges/guard.py) the rate-limit cool-down and the server clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np

from passivbot.config import LiveConfig, live_config_to_dict, side_params
from passivbot.config.sanity import min_entry_warnings
from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Redactor, StopError, describe
from passivbot.live.bounded_loss import BoundedLoss, stop_close
from passivbot.live.console import liq_price, status_line
from passivbot.live.decide import decide
from passivbot.live.execution import Executor
from passivbot.live.shutdown import shutdown
from passivbot.live.state import MINUTE_MS, SIDES, BotState
from passivbot.live.streams import Stream, close_ws_clients, run_stream
from passivbot.live.sync import StateSync
from passivbot.live.view import ErrorTap, LiveView, report_missed_fills
from passivbot.records import M_MIN_COST, M_MIN_QTY, N_MARKET, P_EMA_SPAN_0, P_EMA_SPAN_1
from passivbot.retry import Backoff, backoff_delay


@dataclass(frozen=True)
class BotOptions:
    max_actions: int = 20  # order actions per cycle
    debounce_s: float = 0.02  # a burst of events within this gives one cycle
    reconcile_every_s: float = 60.0  # REST positions, balance, open orders
    status_every_s: float = 30.0
    summary_every_s: float = 900.0  # the multi-line summary (and one at shutdown)
    market_silence_s: float | None = None  # market stream silent this long: resubscribe
    #                                        (None: the exchange's cadence, Capabilities)
    use_local_clock: bool = True  # local clock + server offset (False: event times only,
    #                               for lockstep harnesses whose exchange clock stands still)
    warmup_span_mult: float = 3.0  # warm up on this many x the largest EMA span
    max_warmup_candles: int = 20_000
    settle_quiet_s: float = 0.03
    orders_per_s: float | None = None  # None: the exchange's budget (Capabilities)
    close_grace_ms: int = 2_500  # with the local clock: wait for the candle's final update
    late_ms: int = 5_000  # with the local clock: a candle this late after the grace -> REST
    fill_grace_s: float = 2.0  # an order traded through must be reported within this
    liveness_every_s: float = 0.5  # how often the user-stream liveness is checked
    clock_tick_s: float = 0.25  # local-clock resolution (candle closes by the clock)
    risk_state_path: str | None = None  # bounded-loss state file (None: kept in memory only)
    # Cap of every backoff of the bot's own loops (stream reconnects, failed cycles, persistent
    # rejections, skipped creates); a fault campaign lowers it to reach a long streak of
    # failures (the 1,025 where an uncapped exponent overflowed) in minutes, not hours.
    backoff_max_s: float = 30.0


class LiveBot:
    def __init__(self, adapter: ExchangeAdapter, config: LiveConfig, log: logging.Logger,
                 redact: Redactor | None = None, options: BotOptions = BotOptions()) -> None:
        self.adapter, self.config, self.log, self.opt = adapter, config, log, options
        self.redact = redact or Redactor()
        params = np.stack([side_params(config.long), side_params(config.short)])
        local = options.use_local_clock
        self.state = BotState(params=params, close_grace_ms=options.close_grace_ms if local else 0,
                              late_ms=options.late_ms if local else MINUTE_MS)
        self.guard = getattr(adapter, "guard", None)  # None for scripted test adapters
        if self.guard is not None:
            self.guard.log = log
        self.executor = Executor(adapter, self.state, log, self.redact, options.orders_per_s,
                                 guard=self.guard)
        self.sync = StateSync(adapter, self.state, self.executor, log, self.redact,
                              self.trigger, self.guard, options.fill_grace_s)
        self.sync.on_silent_user = self.restart_user_stream
        self.view = LiveView(self.state, log, config.symbol, adapter.caps.name,
                             liq=lambda: liq_price(self.state, self.brackets, self.mmr_add))
        self.view.config = live_config_to_dict(config)
        self.sync.on_fill = self.view.on_trade
        self.journal_path = None  # set by the caller with the journal: fills while down
        self._error_tap = ErrorTap(self.view, self.redact)
        log.addHandler(self._error_tap)
        self.market = np.zeros(4)
        self.brackets = np.zeros((1, 3))
        self.mmr_add = 0.0
        self.stopping = asyncio.Event()
        self.stop_error: StopError | None = None
        self._dirty = asyncio.Event()
        self._cycling = False
        self._last_event = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        self.streams: list[Stream] = []
        self.cycles = 0
        # Consecutive cycles whose actions asked for a reconcile / skipped a create; failures.
        self.heal_streak = 0
        self.skip_streak = 0
        cap = options.backoff_max_s
        self.fail_backoff = Backoff(min(1.0, cap), cap)
        self._retry_handle: asyncio.TimerHandle | None = None
        self.decide_times: list[float] = []  # seconds per decide step (state -> plan)
        self.risk: BoundedLoss | None = None  # bounded loss (live/bounded_loss.py), at setup
        # Called (awaited with the bot) after the candles are applied and before each decide:
        # the multi-symbol bot's symbol selection (live/multi.py); None for one symbol.
        self.before_decide = None

    @property
    def time_offset(self) -> int:
        return self.sync.time_offset

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        """Everything before trading; raises ccxt errors (the caller classifies them)."""
        a, sync = self.adapter, self.sync
        await a.load_market()
        self.market = a.market_array()
        # -- bounded loss hook: load the persisted state before anything can trade --
        self.risk = BoundedLoss(self.config, self.opt.risk_state_path, self.log,
                                float(a.market.get("maker") or 0.0))
        self.sync.risk = self.risk if self.risk.active else None
        self.view.risk = self.risk  # the page and the summary show the stop and unstuck state
        await sync.refresh_time()  # before any signed request: ccxt signs with server time
        for name, call in (("hedge mode", a.set_hedge_mode),
                           ("leverage", lambda: a.set_leverage(self.config.leverage))):
            await sync.setup_call(name, call)
        self.brackets, self.mmr_add = await sync.rest(a.fetch_brackets)
        await self.reconcile()
        await self.warm_up()
        self.log.info("market %s: price step %g, qty step %g, min qty %g, min cost %g, "
                      "passive ticks %g, re-pricing tolerance %g", a.symbol,
                      *self.market[:N_MARKET])
        self.log.info("adopted: long %g@%g, short %g@%g, %d open orders, balance %.2f",
                      self.state.psize[0], self.state.pprice[0], self.state.psize[1],
                      self.state.pprice[1], len(self.state.open_orders), self.state.balance)
        min_qty, min_cost = float(self.market[M_MIN_QTY]), float(self.market[M_MIN_COST])
        for w in min_entry_warnings(self.config, self.state.balance, min_cost, min_qty,
                                    self.state.close_price):
            self.log.warning("warning: %s", w)
        v = self.view
        v.maker_fee = float(a.market.get("maker") or 0.0) if isinstance(a.market, dict) else 0.0
        v.taker_fee = float(a.market.get("taker") or 0.0) if isinstance(a.market, dict) else 0.0
        v.resync(force=True)
        v.funding.attach(a, sync.rest, self.redact)  # funding: read at start, then hourly
        await v.funding.startup(self.journal_path)  # (live/funding.py; before missed fills)
        if self.journal_path is not None:
            try:
                await report_missed_fills(v, a, sync.rest, self.journal_path)
            except Exception as e:  # noqa: BLE001 - a report, never a reason not to trade
                self.log.warning("fills made while the bot was down are not reported: cannot "
                                 "read the trade history (%s)", describe(e, self.redact))
        v.started(self.state.exchange_time)

    def warmup_candles(self) -> int:
        """Closed 1m candles `warm_up` reads: warmup_span_mult x the largest EMA span of either
        side, at least 2, at most max_warmup_candles (a replay of the warm-up needs the same)."""
        p = self.state.params
        span = float(max(p[:, P_EMA_SPAN_0].max(), p[:, P_EMA_SPAN_1].max()))
        return int(min(self.opt.max_warmup_candles,
                       max(2, np.ceil(span * self.opt.warmup_span_mult))))

    async def warm_up(self) -> None:
        """EMAs from recent closed 1m candles (`warmup_candles` of them)."""
        n = self.warmup_candles()
        now = self.state.exchange_time
        start = (now // MINUTE_MS - n) * MINUTE_MS
        candles = await self.sync.fetch_closed_candles(start, now)
        if len(candles) == 0:
            raise StopError("no closed 1m candles to warm up the EMAs from")
        self.state.warm_up(candles)
        self.log.info("EMAs warmed on %d candles up to %s", len(candles),
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(candles[-1, 0] / 1000)))

    async def reconcile(self) -> None:
        """REST truth: positions, wallet balance, open orders (replaces the stream view)."""
        await self.sync.reconcile()

    # -- run -------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.setup()
        ex = self.adapter.ex
        sym = self.adapter.symbol
        silence = self.opt.market_silence_s or self.adapter.caps.market_silence_s
        user = self.adapter.reset_user_stream_auth
        s = self.sync
        self.streams = [
            Stream("orders", lambda: ex.watch_orders(sym), s.on_orders, on_error=user),
            Stream("trades", lambda: ex.watch_my_trades(sym), s.on_trades, on_error=user),
            Stream("positions", lambda: ex.watch_positions([sym]), s.on_positions,
                   on_error=user),
            Stream("balance", lambda: ex.watch_balance(), s.on_balance, on_error=user),
            Stream("candles", lambda: ex.watch_ohlcv(sym, "1m"), s.on_candles, silence, "ohlcv"),
            Stream("ticker", lambda: ex.watch_ticker(sym), s.on_ticker, silence, "ticker"),
            Stream("book", lambda: ex.watch_bids_asks([sym]), s.on_book),
        ]
        loop = asyncio.get_running_loop()
        for st in self.streams:
            price = st.name in ("candles", "ticker")  # a stale price is what a user must see
            self._tasks.append(loop.create_task(run_stream(
                st, ex=ex, stopping=self.stopping, on_reconnect=self.request_reconcile,
                base_delay=min(0.5, self.opt.backoff_max_s), max_delay=self.opt.backoff_max_s,
                on_stop=self.fail, log=self.log, redact=self.redact,
                on_closed=self._restart_others,
                on_down=(lambda s: self.view.stream_down(s.name)) if price else None,
                on_up=(lambda s: self.view.stream_up(s.name)) if price else None),
                name=f"stream-{st.name}"))
        self._tasks.append(loop.create_task(self._cycle_loop(), name="cycle"))
        self._tasks.append(loop.create_task(self._every(self.opt.reconcile_every_s,
                                                        self.request_reconcile), name="reconcile"))
        self._tasks.append(loop.create_task(self._every(self.opt.status_every_s,
                                                        self.print_status), name="status"))
        self._tasks.append(loop.create_task(self._every(self.opt.summary_every_s,
                                                        self.print_summary), name="summary"))
        self._tasks.append(loop.create_task(self._every(1.0, self._view_tick), name="view"))
        self._tasks.append(loop.create_task(self._every(self.opt.liveness_every_s,
                                                        self._check_liveness), name="liveness"))
        if self.opt.use_local_clock:
            self._tasks.append(loop.create_task(self._every(self.opt.clock_tick_s,
                                                            self._tick_clock), name="clock"))
        self.trigger("start")

    async def run_until_stopped(self) -> None:
        await self.stopping.wait()

    def fail(self, err: StopError) -> None:
        """A stop-class error anywhere: remember it and stop the bot."""
        if self.stop_error is None:
            self.stop_error = err
            self.log.error("stopping: %s", err)
        self.stopping.set()

    # -- events ----------------------------------------------------------------------------
    def trigger(self, reason: str = "") -> None:
        self._last_event = time.monotonic()
        self._dirty.set()

    def request_account(self) -> None:
        self.sync.need_account = True
        self.trigger("account")

    def request_reconcile(self) -> None:
        self.sync.need_reconcile = True
        self.trigger("reconcile")

    def restart_user_stream(self) -> None:
        """The user stream went silent: a fresh listen key and fresh connections for every
        stream (then the bot reconciles)."""
        self.adapter.reset_user_stream_auth()
        if not self.stopping.is_set():
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._reconnect_all(), name="restart-streams"))

    async def _reconnect_all(self) -> None:
        await close_ws_clients(self.adapter.ex)
        for s in self.streams:
            s.restart()

    def _restart_others(self, closed: Stream) -> None:
        for s in self.streams:
            if s is not closed:
                s.restart()

    def _check_liveness(self) -> None:
        if self.sync.overdue():
            self.trigger("liveness")

    def _tick_clock(self) -> None:
        """Exchange time from the local clock. The estimate never lags what the exchange's
        own messages showed (their time is adopted: a clock that jumped, or a local clock
        running slow), and never goes back (BotState.note_time keeps the maximum)."""
        now = int(time.time() * 1000)
        self.sync.time_offset = max(self.sync.time_offset, self.state.exchange_time - now)
        self.state.note_time(now + self.sync.time_offset)
        st = self.state
        if st.last_closed_ts + 2 * MINUTE_MS + st.close_grace_ms + st.late_ms <= st.exchange_time:
            self.trigger("clock")  # a minute closed long ago and no candle: read it from REST
        elif self.state.pending and min(self.state.pending) + MINUTE_MS + \
                self.state.close_grace_ms <= self.state.exchange_time:
            self.trigger("clock")  # a candle's grace ran out: apply its last update

    async def _every(self, seconds: float, fn) -> None:
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), seconds)
                return
            except asyncio.TimeoutError:
                fn()

    def print_status(self) -> None:
        self.log.info(status_line(self.state, self.brackets, self.mmr_add, self.view))

    def print_summary(self) -> None:
        for line in self.view.summary_lines():
            self.log.info(line)

    def _view_tick(self) -> None:
        try:
            self.view.resync()
            self.view.equity_tick()
        except Exception as e:  # noqa: BLE001 - e.g. the journal's disk is full: keep trading
            self.log.warning("equity sample failed: %s", describe(e, self.redact))

    # -- the cycle -------------------------------------------------------------------------
    async def _cycle_loop(self) -> None:
        while not self.stopping.is_set():
            await self._dirty.wait()
            if self.stopping.is_set():
                return
            self._cycling = True
            try:
                if self.opt.debounce_s > 0:
                    await asyncio.sleep(self.opt.debounce_s)
                self._dirty.clear()
                await self.cycle()
                self.fail_backoff.reset()
                if self.heal_streak > 3:  # a persistent rejection: do not spin on it
                    await self._pause(backoff_delay(self.heal_streak - 3, 0.5,
                                                    self.opt.backoff_max_s))
            except StopError as e:
                self.fail(e)
            except Exception as e:  # noqa: BLE001 - transient IO after retries: heal later
                delay = self.fail_backoff.fail()
                why = self.redact(f"{type(e).__name__}: {e}")
                self.log.warning("cycle failed (%d in a row, next try in %.1fs): %s",
                                 self.fail_backoff.streak, delay, why)
                if self.fail_backoff.streak == 1 and self.view.alerter is not None:
                    self.view.alerter.on_error(self.view.now_ms(), f"cycle failed: {why}")
                self.sync.need_reconcile = True
                await self._pause(delay)
                self._dirty.set()
            finally:
                self._cycling = False
                self._last_event = time.monotonic()

    async def cycle(self) -> None:
        """One decide/execute cycle on fresh state."""
        sync = self.sync
        if sync.overdue():
            await sync.check_user_stream()
        healing = sync.need_reconcile
        if healing:
            await sync.reconcile()
        elif sync.need_account:
            await sync.refresh_account()
        await sync.apply_candles(fill_now=healing)
        self.view.funding.note()  # positions at this market minute (live/funding.py)
        risk = self.sync.risk
        if risk is not None:  # -- bounded loss hook: the equity stop (live/bounded_loss.py) --
            if risk.before_cycle(self.state) and not await stop_close(risk, self.adapter, sync,
                                                                      self.log):
                self._retry_soon(2.0)
        if self.before_decide is not None:
            await self.before_decide(self)
        t0 = time.perf_counter()
        plan = decide(self.state, self.market, self.opt.max_actions, risk)
        self.decide_times.append(time.perf_counter() - t0)
        if len(self.decide_times) > 10_000:
            del self.decide_times[:5_000]
        self.cycles += 1
        if plan.empty:
            return
        out = await self.executor.run(plan)
        self.heal_streak = self.heal_streak + 1 if out.reconcile else 0
        self.skip_streak = self.skip_streak + 1 if out.skipped else 0
        # Retry refused creates soon (with backoff), held ones when their hold ends; not at
        # the next unrelated event.
        delays = ([backoff_delay(self.skip_streak, 0.5, self.opt.backoff_max_s)]
                  if out.skipped else []) + \
            ([out.hold_s] if out.held else [])
        if delays:
            self._retry_soon(min(delays))
        if out.reconcile:
            sync.need_reconcile = True
        if out.reconcile or plan.truncated:
            self._dirty.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the bot stops meanwhile."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _retry_soon(self, delay: float) -> None:
        """One cycle in `delay` seconds (a rejected create is retried with backoff: 0.5 s,
        1 s, 2 s ... 30 s while it keeps being rejected, e.g. insufficient margin)."""
        if self._retry_handle is not None:
            self._retry_handle.cancel()
        self._retry_handle = asyncio.get_running_loop().call_later(delay, self.trigger, "retry")

    def settled(self) -> bool:
        return (not self._dirty.is_set() and not self._cycling and self.executor.in_flight == 0
                and not self.sync.need_account and not self.sync.need_reconcile)

    async def wait_settled(self, timeout: float = 5.0) -> bool:
        """True once no cycle is pending or running and no action is outstanding, for
        `settle_quiet_s` with no new event; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        await asyncio.sleep(0)  # let already-delivered messages be handled first
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                return True
            if self.settled() and time.monotonic() - self._last_event >= self.opt.settle_quiet_s:
                return True
            await asyncio.sleep(0.005)
        return False

    def ended_tasks(self) -> list[str]:
        """Names of the background tasks (streams, cycle, timers) that have ended: empty while
        the bot runs whole; a stream that gave up for good shows here."""
        return [t.get_name() for t in self._tasks if t.done()]

    async def kill_tasks(self) -> None:
        """Cancel every background task and wait for them, running no shutdown code: orders
        stay resting, nothing is reported (what a SIGKILL leaves; `stop` is the orderly way)."""
        self.stopping.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- stop ------------------------------------------------------------------------------
    async def stop(self, cancel_on_exit: bool = False) -> list[dict]:
        """Stop tasks; cancel our orders if asked, else list them. Positions are never closed.

        Returns the orders left open on the exchange (as ccxt dicts)."""
        self.stopping.set()
        self._dirty.set()
        if self._retry_handle is not None:
            self._retry_handle.cancel()
        for t in self._tasks:
            if t.get_name() != "cycle":
                t.cancel()
        cycle = [t for t in self._tasks if t.get_name() == "cycle"]
        if cycle:  # let an in-flight cycle finish its actions (bounded)
            try:
                await asyncio.wait_for(asyncio.shield(cycle[0]), 10.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                cycle[0].cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        left = await shutdown(self.adapter, self.state, self.log, self.redact, cancel_on_exit)
        if self.view.started_ms or self.stop_error is not None:
            reason = str(self.stop_error) if self.stop_error is not None else "stopped by the user"
            try:
                self.view.stopped(reason)
            except Exception as e:  # noqa: BLE001 - the orders are handled; only a report failed
                self.log.warning("shutdown summary failed: %s", describe(e, self.redact))
        self.log.removeHandler(self._error_tap)
        return left


__all__ = ["BotOptions", "LiveBot", "SIDES"]
