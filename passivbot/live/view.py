"""What the trader sees while the bot runs: fills with their PnL, maker/taker and fee; the
session's realized PnL; a periodic summary; the connection state; the journal, the status page's
histories and the alerts, all fed from here so they tell the same story.

`LiveView` keeps a small ledger per side (size, entry price) and a wallet balance, advanced by
each fill as the exchange books it (an entry moves the entry price to the size-weighted mean,
a close realizes size x (price - entry), signed by side), so a fill's PnL is known when the
fill is reported, whatever the order in which the trade, position and balance messages arrive.
When no fill came for `RESYNC_S` seconds the ledger is reset to the bot's state (the
exchange's own figures). On restart the ledger starts from the journal (the positions after
its last line) and the fills made while the bot was down are read from the exchange's trade
history (`live/resume.py`), reported, journalled and replayed through the ledger. Funding paid
or received is read from the exchange's funding history at start and once after each whole
hour, and shown like a fill (`live/funding.py`, `self.funding`).

Times are exchange (market) time in ms: in paper trading the emulator's clock, whose market
time the status line shows as the end of the last closed candle.

In paper trading (`mode` "paper") a price stream down for `PAPER_GONE_S` wall seconds means
the emulator is gone (it exits at the end of its candles): `on_gone` (start_bot: stop the bot)
is called once with a message saying so, instead of retrying a dead port forever. A live or
testnet bot never stops for an outage; it keeps reconnecting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from passivbot.live.funding import FundingLedger
from passivbot.live.snapshot import FillView, RiskView, StatusRecorder, risk_view
from passivbot.live.state import MINUTE_MS, BotState
from passivbot.records import LONG, SHORT
from passivbot.report.trades import EntryKinds, ledger_step, trade_fields

RESYNC_S = 3.0
PAPER_GONE_S = 30.0  # paper trading: the emulator unreachable this long has ended (or died)
SIDE_NAME = {LONG: "long", SHORT: "short"}


def hms(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000))


def ymdhm(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts_ms / 1000))


class LiveView:
    """One per bot. `journal` (a `report.journal.JournalWriter`) and `alerter` (a
    `live.alerts.Alerter`) are optional; the caller sets `mode`, `config`, and the fee rates
    before `started()`."""

    def __init__(self, state: BotState, log: logging.Logger, symbol: str, exchange: str = "",
                 liq: Callable[[], float] = lambda: 0.0) -> None:
        self.state, self.log, self.symbol, self.exchange, self.liq = state, log, symbol, \
            exchange, liq
        self.mode = "live"
        self.config: dict[str, Any] = {}
        self.maker_fee = self.taker_fee = 0.0
        self.recorder = StatusRecorder()
        self.journal = None
        self.alerter = None
        self.started_ms = 0
        self.start_equity = 0.0
        self.fills = self.maker_fills = self.taker_fills = 0
        self.psize = [0.0, 0.0]
        self.pprice = [0.0, 0.0]
        self.balance = 0.0
        self._last_fill = -1e9  # monotonic time of the last fill
        self._seen: dict[str, None] = {}  # trade ids already reported (restart overlap)
        self._entry_kinds = EntryKinds()  # an order's parts journaled under its first kind
        self.down: dict[str, int] = {}  # stream name -> exchange ms it went down
        self.disconnected_since: int | None = None
        self._down_wall: float | None = None  # monotonic time the price streams went down
        self.on_gone: Callable[[str], None] | None = None
        self.venue = ""  # where the bot connects (for the paper "gone" message)
        self._equity_minute = -1
        self.risk = None  # the bot's `live.bounded_loss.BoundedLoss` (set by the bot at setup)
        self.unstuck_closes = 0  # reduce-only fills at a loss (fee > pnl): use the allowance
        self.funding = FundingLedger(self)  # funding paid/received, read hourly (live/funding.py)

    # -- life cycle --------------------------------------------------------------------------
    def resync(self, force: bool = False) -> None:
        """Take the bot's state (the exchange's figures) as the ledger when no fill is being
        digested."""
        if force or time.monotonic() - self._last_fill >= RESYNC_S:
            st = self.state
            for j in range(2):
                self.psize[j], self.pprice[j] = float(st.psize[j]), float(st.pprice[j])
            self.balance = float(st.balance)

    def started(self, now_ms: int) -> None:
        """The bot is set up (balance, positions, orders known): the journal's session line."""
        self.started_ms = now_ms
        self.start_equity = self.equity()[0]
        if self.journal is not None:
            self.journal.session(now_ms, self.exchange, self.symbol, self.mode,
                                 self.state.balance, self.maker_fee, self.taker_fee, self.config)

    def stopped(self, reason: str) -> None:
        """The summary, the journal's last equity line, the stop alert."""
        self.funding.cancel()
        if self.started_ms:
            self.resync()
            self.equity_tick(force=True)
            for line in self.summary_lines("at shutdown"):
                self.log.info(line)
        now = self.now_ms()
        if self.journal is not None and self.started_ms:
            self.journal.event("stop", now, reason=reason)
        if self.alerter is not None:
            self.alerter.on_stop(now, reason)

    def now_ms(self) -> int:
        return int(self.state.exchange_time or time.time() * 1000)

    def market_ms(self) -> int:
        """Market time: the end of the last closed candle (the emulator's clock in paper)."""
        st = self.state
        return int(st.last_closed_ts + MINUTE_MS) if st.last_closed_ts >= 0 else self.now_ms()

    # -- fills -------------------------------------------------------------------------------
    def on_trade(self, t: dict, side: int | None, buy: bool, missed: bool = False) -> None:
        """One execution of ours (a ccxt trade): ledger, console line, journal, page, alert."""
        tid = str(t.get("id") or "")
        if tid:
            if tid in self._seen:
                return
            self._seen[tid] = None
            if len(self._seen) > 4096:
                for k in list(self._seen)[:2048]:
                    del self._seen[k]
        qty, price, fee, maker, ts = trade_fields(t)
        ts = ts or self.now_ms()
        name = SIDE_NAME.get(side, "?")
        close = side is not None and (side == LONG) != buy
        pnl, kind = 0.0, "close" if close else "reentry"
        if side is not None:
            oid = str(t.get("order") or "")
            pnl, kind = ledger_step(self.psize, self.pprice, 0 if side == LONG else 1, close,
                                    qty, price, self._entry_kinds.get(oid))
            self._entry_kinds.remember(oid, kind)
            self.balance += pnl - fee
            r = self.risk
            if close and fee - pnl > 0.0 and r is not None and r.unstuck_on \
                    and not r.st.close_pending:
                self.unstuck_closes += 1
        self._last_fill = time.monotonic()
        self.fills += 1
        if maker is False:
            self.taker_fills += 1
        else:
            self.maker_fills += 1
        view = FillView(ts, "buy" if buy else "sell", name, qty, price, fee, pnl,
                        maker is not False)
        self.recorder.add_fill(view)
        how = {True: "maker", False: "TAKER", None: "maker?"}[maker]
        action = "close" if close else "entry"
        when = f"(while the bot was down, at {ymdhm(ts)}) " if missed else \
            f"[market {ymdhm(ts)[5:]}] " if self.mode == "paper" else ""
        self.log.info("FILL %s%s %s %g @ %g %s fee %.4f pnl %+.4f | session pnl %+.4f",
                      when, name, action, qty, price, how, fee, pnl,
                      self.recorder.session_realized_pnl - self.recorder.session_fees)
        if self.journal is not None and side is not None:
            j = 0 if side == LONG else 1
            self.journal.fill(ts, name, kind, qty, price, fee, pnl, self.psize[j],
                              self.pprice[j], self.balance, maker is not False,
                              str(t.get("order") or ""))
        if self.alerter is not None:
            self.alerter.on_fill(self.symbol, view)

    # -- equity, connection -------------------------------------------------------------------
    def equity(self) -> tuple[float, float]:
        """(equity, unrealized PnL) at the last price, from the bot's state."""
        st = self.state
        px = float(st.last_price)
        upnl = 0.0
        if px > 0:
            upnl = float(st.psize[0] * (px - st.pprice[0]) + st.psize[1] * (st.pprice[1] - px))
        return float(st.balance) + upnl, upnl

    def equity_tick(self, force: bool = False) -> None:
        """One equity point per market minute (journal and page); called every second by the
        bot, which is also when a paper session's vanished emulator is noticed."""
        self.check_gone()
        self.funding.tick()
        minute = self.market_ms() // MINUTE_MS
        if not force and minute == self._equity_minute:
            return
        self._equity_minute = minute
        st = self.state
        eq, _ = self.equity()
        ts = self.market_ms()
        self.recorder.add_equity(ts, st.balance, eq)
        if self.journal is not None:
            self.journal.equity(ts, st.balance, eq, st.last_price, st.psize[0], st.pprice[0],
                                st.psize[1], st.pprice[1], self.liq())

    def check_gone(self, now_wall: float | None = None) -> bool:
        """Paper trading: the streams down for PAPER_GONE_S -> `on_gone(message)`, once."""
        if self.mode != "paper" or self._down_wall is None or self.on_gone is None:
            return False
        down_s = (time.monotonic() if now_wall is None else now_wall) - self._down_wall
        if down_s < PAPER_GONE_S:
            return False
        self._down_wall = None
        where = f" at {self.venue}" if self.venue else ""
        self.on_gone(f"the emulator{where} has been unreachable for {down_s:.0f} s: it exits at "
                     "the end of its candles (see its summary) or was stopped; paper session "
                     "over (restart the emulator and the bot to go on)")
        return True

    def stream_down(self, name: str) -> None:
        now = self.now_ms()
        self.down.setdefault(name, now)
        if self.disconnected_since is None:
            self.disconnected_since = now
            self._down_wall = time.monotonic()
            self.log.warning("DISCONNECTED since %s UTC (stream %s): prices are stale, orders "
                             "stay on the exchange; reconnecting", hms(now), name)
            if self.alerter is not None:
                self.alerter.on_disconnect(now)

    def stream_up(self, name: str) -> None:
        if self.down.pop(name, None) is None or self.down or self.disconnected_since is None:
            return
        now = self.now_ms()
        down_s = max(0.0, (now - self.disconnected_since) / 1000)
        self.disconnected_since = None
        self._down_wall = None
        self.log.info("reconnected after %.0f s", down_s)
        if self.alerter is not None:
            self.alerter.on_reconnect(now, down_s)

    def error(self, message: str) -> None:
        now = self.now_ms()
        self.recorder.add_error(now, message)
        if self.alerter is not None:
            self.alerter.on_error(now, message)

    # -- what is printed -----------------------------------------------------------------------
    def price_text(self) -> str:
        st = self.state
        if self.disconnected_since is not None:
            return (f"DISCONNECTED since {hms(self.disconnected_since)} "
                    f"(last price {st.last_price:g} at {hms(st.last_price_ts)})")
        return f"price {st.last_price:g}"

    def pnl_text(self) -> str:
        eq, upnl = self.equity()
        r = self.recorder
        return (f"balance {self.state.balance:.2f} equity {eq:.2f} upnl {upnl:+.2f} "
                f"realized {r.session_realized_pnl - r.session_fees:+.2f} "
                f"({self.maker_fills}m/{self.taker_fills}t fills) "
                f"funding session {self.funding.total:+.4f} USDT")

    def liq_text(self) -> str:
        lp, px = self.liq(), self.state.last_price
        if lp <= 0:
            return "liq -"
        if px <= 0:
            return f"liq {lp:.6g}"
        dist = abs(px - lp) / px * 100
        if dist >= 100:  # a tiny short: its liquidation is several times the price away
            return f"liq {lp:.6g} ({lp / px:.0f}x the price)"
        return f"liq {lp:.6g} ({dist:.1f}% away)"

    def risk_view(self) -> RiskView | None:
        """The bounded-loss state for the page and the summary (None: no rules)."""
        r = self.risk
        if r is None or not (r.active or r.st.unstuck_loss[0] or r.st.unstuck_loss[1]):
            return None
        return risk_view(r, self.unstuck_closes)

    def summary_lines(self, when: str = "") -> list[str]:
        """The periodic summary: account, session PnL, positions, every open order's price."""
        st, r = self.state, self.recorder
        eq, upnl = self.equity()
        gain = (eq / self.start_equity - 1) * 100 if self.start_equity > 0 else 0.0
        since = (self.now_ms() - self.started_ms) / 3_600_000 if self.started_ms else 0.0
        out = [f"summary {when + ', ' if when else ''}market time {ymdhm(self.market_ms())} UTC"
               f"{' (paper)' if self.mode == 'paper' else ''}, "
               f"session {since:.1f} h (market time): "
               f"{self.price_text()}",
               f"  balance {st.balance:.2f} USDT, equity {eq:.2f} ({gain:+.3f}% since start), "
               f"unrealized {upnl:+.2f}, realized {r.session_realized_pnl:+.4f} - fees "
               f"{r.session_fees:.4f} = {r.session_realized_pnl - r.session_fees:+.4f}",
               f"  fills {self.fills} ({self.maker_fills} maker, {self.taker_fills} taker); "
               f"{self.funding.text()}"]
        rv = self.risk_view()
        if rv is not None:
            out.append(f"  equity stop {rv.stop_text(self.market_ms())}; {rv.unstuck_text()}")
        px = st.last_price
        for j, name in enumerate(("long", "short")):
            if st.psize[j] <= 0:
                out.append(f"  {name}: flat")
                continue
            sign = 1.0 if j == 0 else -1.0
            up = sign * st.psize[j] * (px - st.pprice[j]) if px > 0 else 0.0
            we = st.psize[j] * st.pprice[j] / st.balance if st.balance > 0 else 0.0
            out.append(f"  {name}: {st.psize[j]:g} @ {st.pprice[j]:.6g}, exposure {we:.3f}, "
                       f"upnl {up:+.2f}, {self.liq_text()}")
        orders = sorted(st.open_orders.values(), key=lambda o: -o.price)
        if not orders:
            out.append("  open orders: none")
        for o in orders:
            out.append(f"  order {SIDE_NAME.get(o.side, '?')} {'close' if o.close else 'entry'} "
                       f"{'buy' if o.is_buy else 'sell'} {o.qty:g} @ {o.price:g}")
        return out


class ErrorTap(logging.Handler):
    """Warnings and errors of the bot's log into the status page's "last errors"; errors
    (not the stop itself, which has its own alert) to the alerts."""

    def __init__(self, view: LiveView, redact: Callable[[str], str]) -> None:
        super().__init__(logging.WARNING)
        self.view, self.redact = view, redact

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.redact(record.getMessage())
            now = self.view.now_ms()
            self.view.recorder.add_error(now, msg)
            if record.levelno >= logging.ERROR and self.view.alerter is not None \
                    and not msg.startswith("stopping:"):
                self.view.alerter.on_error(now, msg)
        except Exception:  # noqa: BLE001 - a log handler must never raise
            self.handleError(record)


from passivbot.live.resume import report_missed_fills, resume_point  # noqa: E402,F401 - moved
