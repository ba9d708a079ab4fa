"""The bounded-loss rules of a multi-symbol account (`live/multi.py`'s MultiBot): the
multi-symbol backtest's decisions (`backtest/multi_replay.py`), made by the same
`passivbot.risk` kernels on the same account state, persisted in ONE file
(`live/risk_state.py`, with each symbol side's unstuck loss under `symbols`).

What the multi backtest does at the close of each minute t, after every symbol's funding and
fills of t, and how the bot matches it:
- the account's peak wallet balance is raised from the wallet balance (`AccountRisk.observe`);
- equity stop: `risk.equity_stop_nb` on the ACCOUNT's close equity (wallet balance + every
  holding symbol's unrealized pnl of both sides at its candle's close, added in symbol order),
  at t's close time. On fire every symbol's orders are cancelled and its positions closed with
  reduce-only market orders (`bounded_loss.stop_close`, per symbol: the backtest charges the
  next candle's open one price step through the book with the taker fee, and so does the
  emulator), and no symbol places an entry until the cool-down ends (`SymbolRisk.entries`);
- auto-unstuck per symbol and side: `risk.closes_with_unstuck_nb` with the account's peak
  balance and that symbol side's own realized unstuck loss (`SymbolRisk.closes`, the
  one-symbol rule with the account's peak); every reduce-only fill outside a stop adds its
  max(0, fee - pnl) to its symbol side's loss (`BoundedLoss.on_trade`).

Each symbol's bot decides in its own cycle at its own candle close. The account decision for
minute t is made once, before any symbol decides its orders for t + 1: MultiBot.before_decide
waits (`MultiBot._account_minute`) until every symbol's bot has applied its close of t; a
symbol more than a minute behind (a halted market, a stream down) is not waited for and
counts at its last close (as the backtest marks a symbol whose data ended), one a minute
behind is waited for at most `wait_s` seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from passivbot import risk
from passivbot.config.risk import stop_params, unstuck_params
from passivbot.live.bounded_loss import BoundedLoss, RiskRules, until_text
from passivbot.live.risk_state import RiskState, load_risk_state
from passivbot.live.state import MINUTE_MS, SIDES, BotState


class AccountRisk(RiskRules):
    """The account's bounded-loss state and its per-minute decision (see module doc). `path`
    None: in memory only (tests; a real MultiBot passes its account file)."""

    def __init__(self, configs: dict, path: str | Path | None, log: logging.Logger) -> None:
        first = next(iter(configs.values()))
        self.sparams = stop_params(first)  # account-level keys: every symbol's config has them
        self.rparams = {s: np.stack([unstuck_params(c.long), unstuck_params(c.short)])
                        for s, c in configs.items()}
        self.stop_on = bool(self.sparams[risk.S_DRAWDOWN] > 0.0)
        self.unstuck_on = any(bool(r[:, risk.U_THRESHOLD].max() > 0.0)
                              for r in self.rparams.values())
        self.path = Path(path) if path is not None else None
        self.log = log
        self.st: RiskState = load_risk_state(self.path) if self.path is not None else RiskState()
        for s in configs:
            self.st.symbols.setdefault(s, [0.0, 0.0])
        self.checked_ts = -1  # open time of the last minute decided
        self.stops_fired = 0
        if self.st.stop_until_ms > 0:
            log.error("EQUITY STOP (account) in force from the state file %s: no entries on any "
                      "symbol %s", self.path, until_text(self.st.stop_until_ms))

    def observe(self, ts: int, balance: float, states: dict[str, BotState]) -> bool:
        """The account's decision at the close of minute `ts` (open time), from the wallet
        balance and every symbol's state in config order (positions, close): raises the peak
        balance, runs the equity stop. True when the stop fired (every symbol must close;
        `close_pending` is set and saved before any order when a symbol holds a position)."""
        self.checked_ts = ts
        changed = False
        if balance > self.st.peak_balance:
            self.st.peak_balance, changed = float(balance), True
        fired = False
        if self.stop_on or self.st.stop_until_ms > 0:
            equity = balance
            for s in states.values():  # multi_replay's close equity: holders only, in symbol order
                psl, ppl, pss, pps = s.psize[0], s.pprice[0], s.psize[1], s.pprice[1]
                if psl > 0.0 or pss > 0.0:
                    c = s.close_price
                    equity = equity + psl * (c - ppl) - pss * (c - pps)
            decision, until, peak = risk.equity_stop_nb(
                float(equity), self.st.peak_equity, np.int64(self.st.stop_until_ms),
                np.int64(ts + MINUTE_MS), self.sparams)
            changed |= int(until) != self.st.stop_until_ms or float(peak) != self.st.peak_equity
            if decision == risk.STOP_FIRE:
                fired = True
                self.stops_fired += 1
                holders = [k for k, s in states.items() if s.psize.max() > 0.0]
                self.log.error(
                    "EQUITY STOP (account): equity %.2f is %.2f%% below its peak %.2f (limit "
                    "%.2f%%): closing every position at market (%s); no entries on any symbol "
                    "%s", equity, 100.0 * (1.0 - equity / self.st.peak_equity)
                    if self.st.peak_equity else 0.0, self.st.peak_equity,
                    100.0 * self.sparams[risk.S_DRAWDOWN], ", ".join(holders) or "none open",
                    until_text(int(until)))
                self.st.close_pending = bool(holders)
            self.st.stop_until_ms, self.st.peak_equity = int(until), float(peak)
        if changed or fired:
            self.save()  # before any order: a restart after this sees the stop
        return fired

    def all_flat(self) -> None:
        """Every symbol is flat after a stop: its closes are done."""
        if self.st.close_pending:
            self.st.close_pending = False
            self.save()
            self.log.warning("EQUITY STOP (account): every position closed")


class SymbolRisk(BoundedLoss):
    """One symbol's view of the account's rules, as its LiveBot's `risk` (decide, sync and the
    status page call it like a one-symbol BoundedLoss): entries blocked by the account's stop,
    unstuck closes with the account's peak balance and this symbol's own losses, saved in the
    account's file. The stop itself is the MultiBot's (`before_cycle` only tracks prices)."""

    def __init__(self, account: AccountRisk, symbol: str, log: logging.Logger,
                 maker_fee: float = 0.0) -> None:
        self.account, self.symbol = account, symbol
        self.rparams = account.rparams[symbol]
        self.sparams = account.sparams
        self.unstuck_on = bool(self.rparams[:, risk.U_THRESHOLD].max() > 0.0)
        self.stop_on = account.stop_on
        self.path = None
        self.log = log
        self.maker_fee = float(maker_fee)
        self.checked_ts = -1
        self.last_pprice = np.zeros(2)

    @property
    def st(self) -> RiskState:
        """The account's state with this symbol's unstuck losses (the same list: a loss added
        here is the account's)."""
        a = self.account.st
        return RiskState(a.peak_balance, a.symbols[self.symbol], a.peak_equity,
                         a.stop_until_ms, a.close_pending)

    @property
    def stops_fired(self) -> int:
        return self.account.stops_fired

    @property
    def active(self) -> bool:
        return self.account.active

    def save(self) -> None:
        self.account.save()

    def before_cycle(self, state: BotState) -> str:
        """Only the last position price per side (on_trade prices a close that flattened the
        side with it); the account decides the stop (MultiBot)."""
        for j in range(len(SIDES)):
            if state.psize[j] > 0.0:
                self.last_pprice[j] = state.pprice[j]
        return ""
