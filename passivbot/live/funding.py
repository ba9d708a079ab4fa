"""Funding paid or received, read from the exchange's own history and shown like fills.

Funding reaches the wallet balance without a message that says so (Binance's ACCOUNT_UPDATE
carries only the balance change; ccxt drops Bybit's funding executions), so the bot reads it
back: `ExchangeAdapter.fetch_funding` (ccxt `fetch_funding_history`: Binance
`GET /fapi/v1/income?incomeType=FUNDING_FEE`, Bybit `GET /v5/execution/list?execType=Funding`).
Both venues settle funding on whole hours of market time, so it is read

- at start: what settled since two hours before the journal's last line (the previous run read
  up to an hour before it stopped; what it had already journalled is not reported again), and
- once a minute after each whole hour (`READ_DELAY_MS`), looking back one more hour
  (`OVERLAP_MS`) so a row the venue posts late is still found: one REST GET per hour per
  symbol (Binance weight 30 of its 2,400 a minute; Bybit 1 of 50 a second), never per cycle.

Each event is reported once, keyed by (time, symbol, the venue's row id: Binance `tranId`, Bybit
`execId`, one per position charged): a console line ("funding ETHUSDT long paid 0.1230 USDT at
rate 0.0100 %"), the session total (received positive, the backtest's `funding_net` sign),
the journal (`funding` lines, which the report turns into the backtest's funding figures), the
status page. Binance's income rows name neither the side nor the rate: the side is inferred from
the positions the view saw at the funding minute (one side open, or two sides whose payments are
in the ratio of their sizes) and the rate from payment / (size x last price), shown as "≈";
where that is ambiguous the line says the amount only.

Times are exchange (market) ms; amounts in the quote currency (USDT).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from passivbot.exchanges.adapter import FundingEvent
from passivbot.exchanges.errors import describe
from passivbot.live.state import MINUTE_MS
from passivbot.records import LONG, SHORT
from passivbot.report.funding import derived_rate, infer_sides

HOUR_MS = 3_600_000
READ_DELAY_MS = MINUTE_MS  # read once the first candle after the hour has closed
OVERLAP_MS = HOUR_MS  # each read also looks at the hour before the last one read
RESTART_LOOKBACK_MS = 2 * HOUR_MS  # at start: before the journal's last line
SIDE_NAME = {LONG: "long", SHORT: "short"}
MARK_MINUTES = 180  # positions and price per market minute kept for Binance's side inference


def next_read_ms(now_ms: int) -> int:
    """The first read time (a whole hour + READ_DELAY_MS) after `now_ms`."""
    t = now_ms // HOUR_MS * HOUR_MS + READ_DELAY_MS
    return t if t > now_ms else t + HOUR_MS


class FundingLedger:
    """One per `LiveView` (so one per symbol, also in a multi-symbol bot). The bot calls
    `attach(adapter, rest, redact)` and `await startup(journal_path)` at setup, and `note()`
    after each candle; the view calls `tick()` every second (reads when due, in a task) and
    `cancel()` at shutdown."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.adapter = None
        self.rest = None
        self.redact = lambda text: text  # the bot's Redactor, at attach
        self.seen: set[tuple[int, str, str]] = set()
        self.total = 0.0  # received positive
        self.by_side = {LONG: 0.0, SHORT: 0.0}
        self.events = 0
        self.reads = 0  # REST reads done (each one fetch_funding: one GET below a page)
        self.read_from_ms: int | None = None
        self.next_read_ms: int | None = None
        self._task: asyncio.Task | None = None
        self.closed = False  # the bot is stopping: no new read
        self._marks: OrderedDict[int, tuple[float, float, float]] = OrderedDict()

    # -- life cycle ------------------------------------------------------------------------
    def attach(self, adapter: Any, rest: Any, redact: Any = None) -> None:
        """The symbol's adapter, the bot's REST wrapper (retry + guard), its Redactor."""
        self.adapter, self.rest = adapter, rest
        if redact is not None:
            self.redact = redact

    async def startup(self, journal_path: Path | None) -> int:
        """Read what settled while the bot was down (with a journal) and arm the hourly read.
        Returns how many events were reported; a failed read is a warning, never a stop."""
        from passivbot.live.resume import resume_point
        from passivbot.report.journal import JournalError, read_journal

        now = self.view.now_ms()
        self.read_from_ms = now
        self.next_read_ms = next_read_ms(self.view.market_ms())
        if journal_path is None or self.adapter is None:
            return 0
        try:
            point = resume_point(journal_path)
            if point is None:
                return 0
            sym = self.adapter.symbol_id
            for r in read_journal(journal_path).get("funding", []):
                if r.get("symbol", sym) == sym:
                    self.seen.add((int(r["ts_ms"]), sym, str(r.get("id", ""))))
        except (JournalError, OSError) as e:
            self.view.log.warning("journal unreadable (%s): funding settled while the bot was "
                                  "down is not reported", e)
            return 0
        self.read_from_ms = max(0, point[0] - 1 - RESTART_LOOKBACK_MS)
        n = await self.read(now, missed=True)
        if n >= 0:
            self.view.log.info("%s funding event(s) while the bot was down (since %s UTC)",
                               n or "no", _ymdhm(point[0]))
        return max(n, 0)

    def cancel(self) -> None:
        """At shutdown: cancel a read in flight, start no other."""
        self.closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def note(self) -> None:
        """The positions and price at this market minute (Binance's side inference), the last
        seen during the minute: noted after each candle is applied (the bot's cycle) and every
        second (`tick`)."""
        v, st = self.view, self.view.state
        m = v.market_ms()
        self._marks[m] = (float(st.psize[0]), float(st.psize[1]), float(st.last_price))
        self._marks.move_to_end(m)  # the latest view during the minute wins
        while len(self._marks) > MARK_MINUTES:
            self._marks.popitem(last=False)

    def tick(self) -> None:
        """Every second: note the minute; start the hourly read when due (one at a time)."""
        self.note()
        v = self.view
        m = v.market_ms()
        if self.adapter is None or self.closed or self.next_read_ms is None or \
                m < self.next_read_ms:
            return
        if self._task is not None and not self._task.done():
            return
        self.next_read_ms = next_read_ms(m)
        self._task = asyncio.get_running_loop().create_task(self.read(v.now_ms()),
                                                            name="funding-read")

    # -- reading ---------------------------------------------------------------------------
    async def read(self, now_ms: int, missed: bool = False) -> int:
        """Fetch [read_from_ms, now_ms + 1 min] and report what is new; -1 when the read
        failed (logged; the next read covers the same span again)."""
        start = int(self.read_from_ms if self.read_from_ms is not None else now_ms)
        try:
            self.reads += 1
            got = await self.adapter.fetch_funding(start, now_ms + MINUTE_MS, self.rest)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a report, never a reason not to trade
            self.view.log.warning("funding not read (%s): retried after the next whole hour",
                                  describe(e, self.redact))
            return -1
        self.read_from_ms = max(start, now_ms // HOUR_MS * HOUR_MS - OVERLAP_MS)
        return self.report(got, missed)

    def report(self, events: list[FundingEvent], missed: bool = False) -> int:
        """Report the events not seen before, grouped by time (sides inferred per time)."""
        new = [e for e in events if (e.ts_ms, e.symbol_id, e.id) not in self.seen]
        by_ts: dict[int, list[FundingEvent]] = {}
        for e in new:
            by_ts.setdefault(e.ts_ms, []).append(e)
        for ts in sorted(by_ts):
            group = by_ts[ts]
            mark = self._mark_at(ts)
            sides = infer_sides(group, None if mark is None else mark[:2])
            for e, side in zip(group, sides):
                self.seen.add((e.ts_ms, e.symbol_id, e.id))
                self.on_event(e, side, mark, missed)
        return len(new)

    def _mark_at(self, ts: int) -> tuple[float, float, float] | None:
        """(size long, size short, price) the view noted at the latest minute <= ts (within 5
        minutes), None when it was not running then."""
        near = [m for m in self._marks if ts - 5 * MINUTE_MS <= m <= ts]
        return self._marks[max(near)] if near else None

    def on_event(self, e: FundingEvent, side: int | None, mark: tuple | None,
                 missed: bool = False) -> None:
        """One funding settlement: totals, console line, journal, status page."""
        v = self.view
        self.events += 1
        self.total += e.amount
        if side is not None:
            self.by_side[side] += e.amount
        size = price = 0.0
        if mark is not None and side is not None:
            size, price = mark[0 if side == LONG else 1], mark[2]
        rate, approx = e.rate, ""
        if rate is None:
            rate, approx = derived_rate(side, e.amount, size, price), "≈"
        v.recorder.add_funding(SIDE_NAME.get(side, ""), e.amount)
        when = f" (while the bot was down, at {_ymdhm(e.ts_ms)})" if missed else \
            f" [market {_ymdhm(e.ts_ms)[5:]}]" if v.mode == "paper" else ""
        rate_txt = f" at rate {approx}{rate * 100:.4f} %" if rate is not None else ""
        v.log.info("funding %s%s %s %.4f USDT%s%s | session funding %+.4f USDT", e.symbol_id,
                   f" {SIDE_NAME[side]}" if side is not None else "",
                   "paid" if e.amount < 0 else "received", abs(e.amount), rate_txt, when,
                   self.total)
        if v.journal is not None:
            v.journal.funding(e.ts_ms, SIDE_NAME.get(side, ""), e.amount,
                              0.0 if rate is None else rate, price, size,
                              float(v.state.balance), e.id, e.symbol_id)

    # -- what is shown ---------------------------------------------------------------------
    def text(self) -> str:
        """'funding session -1.2300 USDT (long -1.5000, short +0.2700; 6 events)': four
        decimals, as a grid's funding is often cents a day and +0.00 would read as none."""
        sides = ", ".join(f"{SIDE_NAME[s]} {a:+.4f}" for s, a in self.by_side.items() if a)
        more = f"{sides}; " if sides else ""
        n = f"{self.events} event" + ("" if self.events == 1 else "s")
        return f"funding session {self.total:+.4f} USDT ({more}{n}, read hourly)"


def _ymdhm(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts_ms / 1000))
