"""Webhook alerts: fills, stops, errors and disconnections POSTed to a URL from the live config
(`alerts` section; Telegram's bot API `sendMessage` is one such URL).

- Never blocks trading: `on_*` methods only queue; one background task sends.
- Rate-limited: at most one message per `min_interval_s`; events arriving in between are sent
  together in the next message, so nothing is lost silently (a bounded queue: beyond
  `MAX_PENDING` the oldest are dropped and the next message says how many).
- A failed send (network, HTTP 429 / 5xx) is retried with a growing wait (Retry-After or
  Telegram's `retry_after` honoured), at most `MAX_ATTEMPTS` times, then dropped with a warning.
- Secrets: message text goes through the bot's redactor; the URL (which may hold a bot token)
  is never logged: log lines name only its host (`redact_url`).

Several symbols on one account (live/multi.py): ONE Alerter, so one rate limit for the account;
each symbol's LiveView gets `alerter.for_symbol(SYMBOL)`, which starts every text with the
symbol (`ETHUSDT: error: ...`; a fill's text starts with it already) and tags the event with it.

Payloads: format "json" -> `{"source": "passivbot", "bot": ..., "text": ..., "events":
[{"event", "ts_ms", "text"}, ...]}` (plus `"symbol"` on an event from `for_symbol`); format
"telegram" -> `{"chat_id", "text", "disable_web_page_preview": true}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from passivbot.config.services import AlertsConfig, redact_url
from passivbot.live.snapshot import FillView

MAX_PENDING = 200
MAX_ATTEMPTS = 3
MAX_TEXT = 3500  # Telegram's limit is 4096 characters per message
EVENT_KIND = {"fill": "fills", "stop": "stops", "error": "errors", "disconnected":
              "disconnections", "reconnected": "disconnections"}


@dataclass(frozen=True)
class AlertEvent:
    event: str  # fill | stop | error | disconnected | reconnected
    ts_ms: int
    text: str
    symbol: str = ""  # the symbol of a multi-symbol account's event (for_symbol), else ""


def _utc(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(ts_ms / 1000))


def fill_text(symbol: str, f: FillView) -> str:
    """`ETHUSDT long buy 0.012 @ 1810.25 (maker, fee 0.0043, PnL +0.0000)`."""
    return (f"{symbol} {f.position_side} {f.side} {f.qty:g} @ {f.price:g} "
            f"({'maker' if f.maker else 'taker'}, fee {f.fee:.4f}, PnL {f.realized_pnl:+.4f})")


class AlertEvents:
    """The events a LiveView reports (its `alerter` interface), as texts for `_queue`."""

    def on_fill(self, symbol: str, fill: FillView) -> None:
        self._queue("fill", fill.ts_ms, fill_text(symbol, fill))

    def on_stop(self, ts_ms: int, reason: str) -> None:
        self._queue("stop", ts_ms, f"bot stopped: {reason}")

    def on_error(self, ts_ms: int, message: str) -> None:
        self._queue("error", ts_ms, f"error: {message}")

    def on_disconnect(self, since_ms: int) -> None:
        self._queue("disconnected", since_ms, f"disconnected since {_utc(since_ms)}: "
                    "prices may be stale, orders stay on the exchange")

    def on_reconnect(self, ts_ms: int, down_s: float) -> None:
        self._queue("reconnected", ts_ms, f"reconnected after {down_s:.0f} s")

    def _queue(self, event: str, ts_ms: int, text: str) -> None:
        raise NotImplementedError


class Alerter(AlertEvents):
    """Queue and send alerts for one bot. `start()` once inside the event loop, `close()` at
    shutdown (flushes what is pending, bounded by the HTTP timeout)."""

    def __init__(self, cfg: AlertsConfig, bot_name: str, redact: Callable[[str], str] = str,
                 log: logging.Logger | None = None):
        self.cfg, self.bot_name, self.redact = cfg, bot_name, redact
        self.log = log or logging.getLogger("passivbot.alerts")
        self.pending: deque[AlertEvent] = deque()
        self.dropped = 0
        self.sent_messages = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None
        self._next_send = 0.0  # loop time before which no message goes out
        self.where = redact_url(cfg.url)

    # -- what the bot calls (AlertEvents' on_*) ----------------------------------------------
    def for_symbol(self, symbol: str) -> SymbolAlerts:
        """What one symbol's LiveView calls on a multi-symbol account: this Alerter's queue and
        rate limit, every message naming `symbol`."""
        return SymbolAlerts(self, symbol)

    def _queue(self, event: str, ts_ms: int, text: str, symbol: str = "") -> None:
        if not self.cfg.enabled or EVENT_KIND[event] not in self.cfg.events:
            return
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(AlertEvent(event, int(ts_ms), self.redact(text), symbol))
        self._wake.set()

    # -- sending ----------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._task = asyncio.create_task(self._run(), name="alerts")

    async def close(self) -> None:
        """Stop the sender, try once to send what is pending, close the HTTP session."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.pending and self._session is not None:
            await self._send_batch(final=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._next_send - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # rate limit: events keep queueing meanwhile
            if self.pending:
                await self._send_batch()

    def payload(self, batch: list[AlertEvent], dropped: int) -> dict:
        """The JSON body for `batch` in the configured format."""
        lines = [e.text for e in batch]
        if dropped:
            lines.append(f"({dropped} older alerts dropped: too many at once)")
        head = f"passivbot {self.bot_name}"
        text = head + ": " + lines[0] if len(lines) == 1 else \
            f"{head}: {len(batch)} events\n" + "\n".join(f"- {x}" for x in lines)
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT - 20] + "\n... (truncated)"
        if self.cfg.format == "telegram":
            return {"chat_id": self.cfg.chat_id, "text": text, "disable_web_page_preview": True}
        return {"source": "passivbot", "bot": self.bot_name, "text": text, "dropped": dropped,
                "events": [_event_json(e) for e in batch]}

    async def _send_batch(self, final: bool = False) -> None:
        loop = asyncio.get_running_loop()
        batch, dropped = list(self.pending), self.dropped
        self.pending.clear()
        self.dropped = 0
        body = self.payload(batch, dropped)
        delay = max(self.cfg.min_interval_s, 1.0)
        try:
            await self._deliver(body, batch, final, delay, loop)
        except asyncio.CancelledError:  # closing mid-retry: keep the batch for the final flush
            self.pending.extendleft(reversed(batch))
            self.dropped += dropped
            raise

    async def _deliver(self, body: dict, batch: list[AlertEvent], final: bool, delay: float,
                       loop: asyncio.AbstractEventLoop) -> None:
        why = None
        for attempt in range(1 if final else MAX_ATTEMPTS):
            retry_after, why = await self._post(body)
            if why is None:
                self.sent_messages += 1
                self._next_send = loop.time() + self.cfg.min_interval_s
                if self.pending:
                    self._wake.set()
                return
            if final or attempt == MAX_ATTEMPTS - 1:
                break
            wait = min(300.0, max(delay, retry_after or 0.0))
            self.log.warning("alert to %s not sent (%s); retrying in %.0f s", self.where, why,
                             wait)
            await asyncio.sleep(wait)
            delay *= 2
        self.log.warning("alert to %s dropped after %d attempt(s) (%s): %d event(s)", self.where,
                         1 if final else MAX_ATTEMPTS, why, len(batch))
        self._next_send = loop.time() + self.cfg.min_interval_s

    async def _post(self, body: dict) -> tuple[float | None, str | None]:
        """(retry_after seconds or None, None on success or why it failed). Never raises;
        the reason never contains the URL (aiohttp's exception texts may)."""
        assert self._session is not None
        try:
            async with self._session.post(self.cfg.url, data=json.dumps(body),
                                          headers={"Content-Type": "application/json"}) as r:
                if r.status < 300:
                    return None, None
                retry_after = _retry_after(r.headers.get("Retry-After"))
                if r.status == 429 and retry_after is None:
                    try:
                        retry_after = float((await r.json())["parameters"]["retry_after"])
                    except Exception:  # not Telegram's shape: use our own backoff
                        retry_after = None
                return retry_after, f"HTTP {r.status}"
        except asyncio.TimeoutError:
            return None, f"no answer in {self.cfg.timeout_s:g} s"
        except aiohttp.ClientError as e:
            return None, type(e).__name__
        except OSError as e:
            return None, f"{type(e).__name__} {e.errno}"


class SymbolAlerts(AlertEvents):
    """One symbol's alerts on a multi-symbol account (`Alerter.for_symbol`): the LiveView's
    `alerter` interface, queued on the account's one Alerter with the symbol in each text.
    The Alerter's owner starts and closes it, not the symbols."""

    def __init__(self, alerter: Alerter, symbol: str) -> None:
        self.alerter, self.symbol = alerter, symbol

    def _queue(self, event: str, ts_ms: int, text: str) -> None:
        if event != "fill":  # a fill's text starts with its symbol already
            text = f"{self.symbol}: {text}"
        self.alerter._queue(event, ts_ms, text, self.symbol)


def _event_json(e: AlertEvent) -> dict:
    d = {"event": e.event, "ts_ms": e.ts_ms, "text": e.text}
    if e.symbol:
        d["symbol"] = e.symbol
    return d


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
