"""Many markets, one wallet: one process trading several symbols of one account.

A `MultiBot` owns one `LiveBot` per symbol (the per-symbol logic unchanged: its own state,
streams, calculator calls, reconciliation) and gives them what an account shares:
- one ccxt client, so one rate-limit guard (`exchanges/guard.py`: a Retry-After or a ban from
  any symbol's request pauses every request) and the fewest connections the exchange allows
  (ccxt multiplexes every symbol's subscriptions: Binance market streams by SUBSCRIBE on a few
  sockets and one listen-key user stream, Bybit one public and one private socket);
- one order budget (`execution.TokenBucket`) for all symbols' creates and cancels;
- one wallet balance: every symbol sizes its grid from the account's wallet balance (its
  balance stream and REST), with wallet_exposure_limit = total / n_positions per symbol
  (`config/multi.py`), so the symbols' exposures sum to at most the shared total;
- which symbols may open (n_positions < symbols): the pure kernel `passivbot.selection`, the
  one the multi-symbol backtest calls, at the same minutes (every `select_every` closed minutes
  from the first minute the bot trades), on the same inputs (each symbol's last `select_window`
  closed 1m candles from REST, its positions from REST); a flat side not chosen places no
  initial entry, a side with a position is always managed until it closes.

The selection runs inside the first per-symbol cycle that sees a due minute (`before_decide`,
under one lock), before any symbol decides its orders for the next minute; then every symbol
re-decides.

Bounded loss (`equity_stop_*`, `unstuck_*` keys) is the account's, as in the multi-symbol
backtest (`live/multi_risk.py`): one equity stop on the account's equity, decided once per
closed minute after every symbol applied that close, closing every symbol and blocking entries
on every symbol; unstuck per symbol and side with the account's peak balance. Its state lives
in ONE file, `options.risk_state_path` (start_bot.py: `prepare_risk_state(log_dir, exchange,
user, "MULTI-<config name>", ...)`); the symbols' bots keep no file of their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import numpy as np

from passivbot.config.multi import MultiConfig
from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Redactor
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.bounded_loss import stop_close
from passivbot.live.multi_risk import AccountRisk, SymbolRisk
from passivbot.live.state import MINUTE_MS
from passivbot.records import LONG, P_ENABLED, SHORT
from passivbot.selection import SELECT_EVERY, SELECT_WINDOW, score_nb, select_nb

# The account's bounded-loss decision at a minute waits at most this long for a symbol one
# minute behind (its candle close arriving late); then it counts at its last close.
RISK_WAIT_S = 5.0


class SharedClient:
    """The account's ccxt client as each symbol's bot sees it: every call goes to the one
    client, except `close()`, which only the MultiBot does (after every symbol shut down)."""

    def __init__(self, ex) -> None:
        object.__setattr__(self, "_ex", ex)

    def __getattr__(self, name: str):
        return getattr(self._ex, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._ex, name, value)

    async def close(self) -> None:
        return None


def make_adapters(exchange: str, ex, symbols: tuple[str, ...]) -> list[ExchangeAdapter]:
    """One adapter per symbol over one client and one guard (registry.make_adapter's for the
    first symbol: the guard wraps the client's transport once)."""
    from passivbot.exchanges.registry import MODULES, make_adapter

    first = make_adapter(exchange, ex, symbols[0])
    out = [first]
    mod = MODULES[exchange]
    for sym in symbols[1:]:
        a = ExchangeAdapter(ex, mod.CAPS, mod.EXTRACT, sym)
        a.guard = first.guard
        out.append(a)
    share_sockets(ex, len(symbols))
    shared = SharedClient(ex)
    for a in out:
        a.ex = shared
    return out


# Market-data subscriptions per symbol (kline, ticker, book ticker) and what one Binance
# USD-M websocket carries (200 streams per connection, Binance's documented limit).
SUBSCRIPTIONS_PER_SYMBOL = 3
BINANCE_STREAMS_PER_SOCKET = 200


def share_sockets(ex, n_symbols: int) -> None:
    """ccxt's binance opens a new socket for each subscription (round-robin over up to 50 per
    endpoint) unless told otherwise: put the symbols' market streams on as few sockets as
    Binance allows. (Bybit: ccxt already uses one public and one private socket.)"""
    limits = getattr(ex, "options", {}).get("streamLimits")
    if isinstance(limits, dict) and "linear" in limits:
        need = -(-SUBSCRIPTIONS_PER_SYMBOL * n_symbols // BINANCE_STREAMS_PER_SOCKET)
        limits["linear"] = max(1, need)


class SymbolBot(LiveBot):
    """One symbol's LiveBot in a MultiBot: unchanged, except that its bounded-loss rules are
    the account's (`multi_risk.SymbolRisk`, installed at setup, before anything trades)."""

    account_risk: AccountRisk | None = None

    async def setup(self) -> None:
        await super().setup()
        acc = self.account_risk
        if acc is not None:
            r = SymbolRisk(acc, self.adapter.symbol_id, self.log, self.risk.maker_fee)
            self.risk = r
            self.sync.risk = r if acc.active else None
            self.view.risk = r


class MultiBot:
    def __init__(self, exchange: str, ex, config: MultiConfig, log: logging.Logger,
                 redact: Redactor | None = None, options: BotOptions = BotOptions(),
                 select_every: int = SELECT_EVERY, select_window: int = SELECT_WINDOW,
                 risk_wait_s: float = RISK_WAIT_S) -> None:
        self.config, self.log, self.ex = config, log, ex
        self.redact = redact or Redactor()
        self.select_every, self.select_window = int(select_every), int(select_window)
        # the account's bounded-loss state, in options.risk_state_path (None: in memory)
        self.risk = AccountRisk(config.configs, options.risk_state_path, log)
        self.risk_wait_s = float(risk_wait_s)
        self._moved = asyncio.Event()  # set (and replaced) when a symbol reaches a new close
        per_symbol = dataclasses.replace(options, risk_state_path=None)  # no file per symbol
        adapters = make_adapters(exchange, ex, config.symbols)
        self.bots: dict[str, LiveBot] = {}
        for sym, a in zip(config.symbols, adapters):
            bot = SymbolBot(a, config.configs[sym], log.getChild(sym), self.redact, per_symbol)
            bot.account_risk = self.risk
            bot.before_decide = self.before_decide
            self.bots[sym] = bot
        first = next(iter(self.bots.values()))
        for bot in self.bots.values():  # one order budget for the account
            bot.executor.bucket = first.executor.bucket
        self.enabled = {s: b.state.params[:, P_ENABLED].copy() for s, b in self.bots.items()}
        self.allowed = {s: np.zeros(2, dtype=bool) for s in self.bots}
        if config.selecting:  # nothing opens before the first selection (the backtest's rule)
            for bot in self.bots.values():
                bot.state.params[:, P_ENABLED] = 0.0
        self.t_start: int | None = None  # open time of the first minute traded
        self.selected_ts = -1  # the minute of the last selection
        self.selections = 0
        self._lock = asyncio.Lock()
        # Every symbol set up: the selection reads all of them, so a symbol's cycles wait for
        # it (a restart never decides with the pre-selection gate on an open side's grid).
        self._ready = asyncio.Event()
        self.stopping = asyncio.Event()

    @property
    def guard(self):
        return next(iter(self.bots.values())).guard

    # -- selection ---------------------------------------------------------------------------
    def due(self, last_closed_ts: int) -> int:
        """The open time of the latest selection minute at or before `last_closed_ts`."""
        if self.t_start is None:
            self.t_start = last_closed_ts
        m = (last_closed_ts - self.t_start) // MINUTE_MS
        return self.t_start + (m // self.select_every) * self.select_every * MINUTE_MS

    async def before_decide(self, bot: LiveBot) -> None:
        """Hook of every symbol's cycle, before it decides: the account's bounded-loss decision
        at its last closed minute (once, when every symbol has that close), the selection due
        then, and this symbol's share of an equity stop (its market closes)."""
        risk_on = self.risk.active
        if not (self.config.selecting or risk_on):
            return
        await self._ready.wait()
        if bot.state.last_closed_ts < 0 or self.stopping.is_set():
            return
        if risk_on:
            await self._account_minute(bot)
        if self.config.selecting:
            async with self._lock:
                due = self.due(bot.state.last_closed_ts)
                if due > self.selected_ts:
                    await self.select(due)
        if risk_on and self.risk.st.close_pending:
            await self._stop_closes(bot)

    async def _account_minute(self, bot: LiveBot) -> None:
        """The account decision at `bot`'s last closed minute t, made once: after every symbol
        one minute behind caught up (at most `risk_wait_s`; see live/multi_risk.py)."""
        t = bot.state.last_closed_ts
        ev, self._moved = self._moved, asyncio.Event()
        ev.set()  # wake the symbols waiting for this one
        if t <= self.risk.checked_ts:
            return
        deadline = time.monotonic() + self.risk_wait_s
        while not self.stopping.is_set():
            behind = [s for s, b in self.bots.items()
                      if t - MINUTE_MS <= b.state.last_closed_ts < t]
            left = deadline - time.monotonic()
            if not behind or left <= 0:
                if behind:
                    self.log.warning("account bounded loss at %d: %s not closed after %.1f s: "
                                     "counted at their last close", t, ", ".join(behind),
                                     self.risk_wait_s)
                break
            try:
                await asyncio.wait_for(self._moved.wait(), left)
            except asyncio.TimeoutError:
                pass
        if t > self.risk.checked_ts and not self.stopping.is_set():
            self.risk.observe(t, bot.state.balance, {s: b.state for s, b in self.bots.items()})

    async def _stop_closes(self, bot: LiveBot) -> None:
        """The equity stop fired (or its closes are not confirmed): this symbol's orders
        cancelled and positions closed at market (bounded_loss.stop_close, retried soon on a
        failure); once every symbol is flat the stop's closes are done."""
        if bot.state.psize.max() > 0.0:
            if not await stop_close(bot.risk, bot.adapter, bot.sync, bot.log):
                bot._retry_soon(2.0)
        if all(b.state.psize.max() <= 0.0 for b in self.bots.values()):
            self.risk.all_flat()

    async def select(self, ts: int) -> None:
        """Choose per side which symbols may open (selection.select_nb) from each symbol's
        candles up to minute `ts` and the positions now; apply it to every symbol."""
        syms = list(self.bots)
        scores = np.full(len(syms), np.nan)
        eligible = np.zeros(len(syms), dtype=np.bool_)
        is_open = np.zeros((2, len(syms)), dtype=np.bool_)
        start = ts - (self.select_window - 1) * MINUTE_MS
        for k, sym in enumerate(syms):
            bot = self.bots[sym]
            c = await bot.sync.fetch_closed_candles(start, ts + MINUTE_MS)
            c = np.ascontiguousarray(c[c[:, 0] <= ts]) if len(c) else c
            if len(c) and int(c[-1, 0]) == ts:
                eligible[k] = True
                scores[k] = score_nb(c, 0, len(c))
            a = bot.adapter
            got = a.positions(await bot.sync.rest(lambda a=a: a.ex.fetch_positions([a.symbol])))
            for j, side in enumerate((LONG, SHORT)):
                is_open[j, k] = got.get(side, (0.0, 0.0))[0] > 0.0
        n = self.config.n_positions
        for j in range(2):
            allowed = select_nb(scores, eligible, is_open[j], n)
            for k, sym in enumerate(syms):
                self.allowed[sym][j] = allowed[k]
                self.bots[sym].state.params[j, P_ENABLED] = \
                    self.enabled[sym][j] if allowed[k] else 0.0
        self.selected_ts = ts
        self.selections += 1
        chosen = {side: [s for s in syms if self.allowed[s][j]]
                  for j, side in enumerate(("long", "short"))}
        self.log.info("selection at %s UTC: long %s, short %s",
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts / 1000)), chosen["long"],
                      chosen["short"])
        for bot in self.bots.values():
            bot.trigger("selection")

    # -- the account ------------------------------------------------------------------------
    def exposures(self) -> tuple[float, float]:
        """(long, short): the sum over symbols of position cost / wallet balance, from the
        bots' states (the shared limit bounds each)."""
        out = [0.0, 0.0]
        for bot in self.bots.values():
            st = bot.state
            if st.balance > 0.0:
                for j in range(2):
                    out[j] += st.psize[j] * st.pprice[j] / st.balance
        return out[0], out[1]

    def snapshot(self):
        """The account's status page snapshot: the wallet and a section per symbol."""
        from passivbot.live.snapshot import account_snapshot

        return account_snapshot(self.bots)

    async def start(self) -> None:
        """Set up and start every symbol (in config order); a failure stops those started."""
        try:
            for bot in self.bots.values():
                await bot.start()
                if self.t_start is None and bot.state.last_closed_ts >= 0:
                    self.t_start = bot.state.last_closed_ts
        except BaseException:
            await self.stop()
            raise
        self._ready.set()
        loop = asyncio.get_running_loop()
        self._watchers = [loop.create_task(self._watch(bot)) for bot in self.bots.values()]
        for bot in self.bots.values():  # the first selection, then every symbol decides again
            bot.trigger("ready")

    async def _watch(self, bot: LiveBot) -> None:
        await bot.stopping.wait()
        if bot.stop_error is not None:  # one account: a stop-class error stops every symbol
            for other in self.bots.values():
                other.fail(bot.stop_error)
        self.stopping.set()

    @property
    def stop_error(self):
        return next((b.stop_error for b in self.bots.values() if b.stop_error is not None),
                    None)

    def fail(self, err) -> None:
        for bot in self.bots.values():
            bot.fail(err)
        self.stopping.set()

    async def run_until_stopped(self) -> None:
        await self.stopping.wait()

    def settled(self) -> bool:
        return all(b.settled() for b in self.bots.values())

    async def wait_settled(self, timeout: float = 5.0) -> bool:
        results = await asyncio.gather(*(b.wait_settled(timeout) for b in self.bots.values()))
        return all(results) and self.settled()

    async def stop(self, cancel_on_exit: bool = False) -> dict[str, list[dict]]:
        """Stop every symbol (orders left or cancelled per symbol, positions never closed),
        then close the client. Returns the orders left open per symbol."""
        self.stopping.set()
        self._ready.set()  # release cycles waiting for a start that will not finish
        for bot in self.bots.values():
            bot.stopping.set()
        for t in getattr(self, "_watchers", []):
            t.cancel()
        left = {}
        for sym, bot in self.bots.items():
            left[sym] = await bot.stop(cancel_on_exit)
        try:
            await self.ex.close()
        except Exception:  # noqa: BLE001 - on the way out
            pass
        return left
