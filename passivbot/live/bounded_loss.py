"""The live bot's bounded-loss rules (auto-unstuck, equity stop): the backtester's decisions,
made by the same `passivbot.risk` kernels on the same state, persisted (live/risk_state.py).

What the backtest does (backtest/engine.py) and how the bot matches it:
- unstuck: a side above its threshold gets its closes from `risk.closes_with_unstuck_nb` with
  the peak balance and the side's realized unstuck loss (`closes()`, called by decide). Every
  reduce-only fill adds max(0, fee - pnl) to the side's loss (`on_trade()`): the backtest adds
  it for unstuck-close fills only, and a take-profit close is in profit after its fee (markup >
  fee), so the sum is the same; a stop close (our own market order) is not counted.
- the peak balance is raised from the wallet balance before every decision (`before_cycle`).
- equity stop: on each newly closed candle, `risk.equity_stop_nb` on the close equity (wallet
  balance + both sides' unrealized pnl at the candle's close), at the candle's close time. On
  fire: log at ERROR "EQUITY STOP", persist stop_until and close_pending FIRST, cancel all the
  bot's orders, close both positions with reduce-only market orders (the backtest charges the
  next candle's open one price step through the book, with the taker fee; the emulator fills a
  market order at the open of the candle in progress by the same rule, `fills.market_price_nb`).
  While cooling no entry is placed (`risk.filter_entries_nb`), and a position still open after
  the stop (a close that failed, a restart between the fire and the fill) is closed at market
  again until flat.
- several symbols on one account: `live/multi_risk.py` (the account's stop and peak balance,
  this module's rules per symbol through `SymbolRisk`, a subclass of BoundedLoss).
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import numpy as np

from passivbot import risk
from passivbot.config.risk import stop_params, unstuck_params
from passivbot.live.diff import CLIENT_ID_PREFIX
from passivbot.live.risk_state import (
    RiskState, clear_equity_stop, load_risk_state, save_risk_state,
)
from passivbot.live.state import MINUTE_MS, SIDES, BotState
from passivbot.records import LONG

STOP_CID = f"{CLIENT_ID_PREFIX}x"  # client ids of the stop's market closes (ours: `pb`)


def until_text(ms: int) -> str:
    """'until <time>' of a stop's end, for the log."""
    if ms >= risk.STOP_FOREVER:
        return "until cleared (start_bot.py ... --clear-equity-stop)"
    return time.strftime("until %Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def prepare_risk_state(folder: str | Path, exchange: str, user: str, symbol: str,
                       clear: bool, log: logging.Logger) -> Path:
    """The state file of this bot (`FOLDER/EXCHANGE-USER-SYMBOL.risk.json`); with `clear`
    (start_bot.py --clear-equity-stop) a stop in force is cleared first, deliberately."""
    path = Path(folder) / f"{exchange}-{user}-{symbol}.risk.json"
    if clear:
        was = load_risk_state(path).stop_until_ms
        clear_equity_stop(path)
        log.warning("equity stop cleared by --clear-equity-stop (%s; was: %s)", path,
                    "not stopped" if was == 0 else f"stopped {until_text(was)}")
    log.info("bounded-loss state file %s", path)
    return path


class RiskRules:
    """What every holder of bounded-loss rules and their persisted state shares: this
    module's BoundedLoss (one symbol) and `live.multi_risk.AccountRisk` (an account)."""

    unstuck_on: bool
    stop_on: bool
    st: RiskState
    path: Path | None

    @property
    def active(self) -> bool:
        return self.unstuck_on or self.stop_on or self.st.stop_until_ms > 0

    def save(self) -> None:
        if self.path is not None:
            save_risk_state(self.path, self.st)


class BoundedLoss(RiskRules):
    """Per-bot bounded-loss state and decisions (see module doc). `path` None: in memory
    only (tests, or rules off); a real bot passes its state file."""

    def __init__(self, config, path: str | Path | None, log: logging.Logger,
                 maker_fee: float = 0.0) -> None:
        self.rparams = np.stack([unstuck_params(config.long), unstuck_params(config.short)])
        self.sparams = stop_params(config)
        self.unstuck_on = bool(self.rparams[:, risk.U_THRESHOLD].max() > 0.0)
        self.stop_on = bool(self.sparams[risk.S_DRAWDOWN] > 0.0)
        self.path = Path(path) if path is not None else None
        self.log = log
        self.maker_fee = float(maker_fee)
        self.st: RiskState = load_risk_state(self.path) if self.path is not None else RiskState()
        self.checked_ts = -1  # open time of the last candle the stop was checked on
        self.last_pprice = np.zeros(2)  # last position price seen per side (a close keeps it)
        self.stops_fired = 0
        if self.st.stop_until_ms > 0:
            log.error("EQUITY STOP in force from the state file %s: no entries %s", self.path,
                      until_text(self.st.stop_until_ms))

    def now_ms(self, state: BotState) -> int:
        """Decision time: the close of the last closed candle (the backtest's ts + 1 minute)."""
        return state.last_closed_ts + MINUTE_MS

    def stopped_at(self, now_ms: int) -> bool:
        return not risk.entries_allowed_nb(np.int64(self.st.stop_until_ms), np.int64(now_ms))

    # -- decide (pure: called by live/decide.py) ------------------------------------------
    def closes(self, j: int, state: BotState, market: np.ndarray, lo: float, hi: float,
               closes: np.ndarray) -> np.ndarray:
        """The side's reduce-only orders: with the unstuck close when the rule applies."""
        if self.rparams[j, risk.U_THRESHOLD] <= 0.0:
            return closes
        out, _ = risk.closes_with_unstuck_nb(
            SIDES[j], state.balance, state.psize[j], state.pprice[j], lo, hi, state.close_price,
            state.params[j], self.rparams[j], market, max(self.st.peak_balance, state.balance),
            self.st.unstuck_loss[j], self.maker_fee)
        return out

    def entries(self, state: BotState, entries: np.ndarray) -> np.ndarray:
        """No entries while the stop cools down (or a stop close is pending)."""
        if self.st.close_pending:
            return entries[:0]
        return risk.filter_entries_nb(entries, np.int64(self.st.stop_until_ms),
                                      np.int64(self.now_ms(state)))

    # -- state updates ----------------------------------------------------------------------
    def on_trade(self, side: int | None, close: bool, price: float, qty: float,
                 fee: float | None, state: BotState) -> None:
        """A fill of ours: a reduce-only fill that is not a stop close adds its loss (a stop
        close happens only while close_pending, set before it is sent)."""
        if side is None or not close or self.st.close_pending or qty <= 0.0:
            return
        j = 0 if side == LONG else 1
        pprice = state.pprice[j] if state.psize[j] > 0.0 else self.last_pprice[j]
        if pprice <= 0.0:
            return
        fee_cost = abs(qty * price) * self.maker_fee if fee is None else float(fee)
        loss = max(0.0, fee_cost - side * (price - pprice) * qty)
        if loss > 0.0:
            self.st.unstuck_loss[j] += loss
            self.log.warning("unstuck loss %s +%.4f -> %.4f (allowance %.4f)",
                             "long" if j == 0 else "short", loss, self.st.unstuck_loss[j],
                             self.rparams[j, risk.U_LOSS_ALLOWANCE_PCT] * self.st.peak_balance)
            self.save()

    def before_cycle(self, state: BotState) -> str:
        """Raise the peak balance; run the stop on a newly closed candle. Returns what the
        bot must do now: "fire" or "close" (market-close what is open), or "" (nothing)."""
        changed = False
        for j in range(2):
            if state.psize[j] > 0.0:
                self.last_pprice[j] = state.pprice[j]
        if state.balance > self.st.peak_balance:
            self.st.peak_balance, changed = float(state.balance), True
        action = ""
        if self.stop_on or self.st.stop_until_ms > 0:
            if state.last_closed_ts > self.checked_ts and state.close_price > 0.0:
                self.checked_ts = state.last_closed_ts
                equity = state.balance + float(sum(
                    s * state.psize[j] * (state.close_price - state.pprice[j])
                    for j, s in enumerate(SIDES) if state.psize[j] > 0.0))
                decision, until, peak = risk.equity_stop_nb(
                    equity, self.st.peak_equity, np.int64(self.st.stop_until_ms),
                    np.int64(self.now_ms(state)), self.sparams)
                changed |= (int(until) != self.st.stop_until_ms
                            or float(peak) != self.st.peak_equity)
                if decision == risk.STOP_FIRE:
                    self.stops_fired += 1
                    self.log.error(
                        "EQUITY STOP: equity %.2f is %.2f%% below its peak %.2f (limit %.2f%%): "
                        "closing both positions at market; no entries %s", equity,
                        100.0 * (1.0 - equity / self.st.peak_equity) if self.st.peak_equity
                        else 0.0, self.st.peak_equity, 100.0 * self.sparams[risk.S_DRAWDOWN],
                        until_text(int(until)))
                    self.st.close_pending = bool(state.psize.max() > 0.0)
                    action = "fire"
                self.st.stop_until_ms, self.st.peak_equity = int(until), float(peak)
        if not action and self.st.close_pending:
            if state.psize.max() > 0.0:
                action = "close"
            else:
                self.st.close_pending, changed = False, True
                self.log.warning("EQUITY STOP: both positions closed")
        if changed or action:
            self.save()  # before any order: a restart after this sees the stop
        return action

    @staticmethod
    def stop_client_id() -> str:
        return f"{STOP_CID}-{uuid.uuid4().hex[:24]}"


async def stop_close(risk_: BoundedLoss, adapter, sync, log: logging.Logger) -> bool:
    """The stop's action: cancel every order of ours, then close both positions with
    reduce-only market orders (hedge-mode closes; the adapter adds reduceOnly where the
    exchange accepts it), then read the account back. True when every request went through;
    False: the caller retries soon (close_pending stays set until both sides are flat)."""
    import ccxt

    state, ok = sync.state, True
    for o in list(state.open_orders.values()):
        try:
            await adapter.cancel_order(o.id)
        except ccxt.OrderNotFound:
            pass
        except ccxt.BaseError as e:
            ok = False
            log.error("EQUITY STOP: cancel %s failed: %s", o.id, sync.redact(str(e)))
    for j, side in enumerate(SIDES):
        qty = float(state.psize[j])
        if qty <= 0.0:
            continue
        is_buy = side != LONG  # a close: long sells, short buys
        try:
            await adapter.ex.create_order(
                adapter.symbol, "market", "buy" if is_buy else "sell", qty, None,
                adapter.order_params(side, True, risk_.stop_client_id()))
            log.error("EQUITY STOP: %s %g closed at market", "long" if j == 0 else "short",
                      qty)
        except ccxt.BaseError as e:
            ok = False
            log.error("EQUITY STOP: market close of %s %g failed (retrying): %s",
                      "long" if j == 0 else "short", qty, sync.redact(str(e)))
    await sync.reconcile()
    return ok
