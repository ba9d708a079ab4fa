"""Websocket streams, one task each: watch, hand the update to a handler, survive failures.

A stream that errors reconnects with exponential backoff and jitter (`retry.Backoff`);
a market stream silent past its deadline is resubscribed (its ccxt connection is closed so
the next watch opens a fresh one, and the streams that shared it are restarted: ccxt leaves
the futures of a closed client pending forever). After any reconnect the bot reconciles over
REST, because events sent while the socket was down are lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import ccxt

from passivbot.exchanges.errors import Action, Redactor, StopError, classify, describe
from passivbot.retry import Backoff


@dataclass
class StreamStats:
    updates: int = 0
    errors: int = 0
    resubscribes: int = 0
    last_error: str = ""


@dataclass
class Stream:
    name: str
    watch: Callable[[], Awaitable[object]]
    handle: Callable[[object], None]
    silence_s: float | None = None  # None: may be silent (user data), healed by REST instead
    hash_hint: str = ""  # part of ccxt's message hash: which websocket client serves it
    on_error: Callable[[], None] | None = None  # e.g. forget a dead listen key
    stats: StreamStats = field(default_factory=StreamStats)
    kick: asyncio.Event = field(default_factory=asyncio.Event)

    def restart(self) -> None:
        """Abandon the pending watch and watch again (after its connection was closed: ccxt
        does not fail the futures of a client closed under them, they would wait forever)."""
        self.kick.set()


class Restarted(Exception):
    """The stream was asked to watch again."""


def _quiet(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned watch's error is not news


async def next_update(s: Stream):
    """The next update of `s`; TimeoutError after its silence deadline, Restarted on a kick.

    An abandoned watch is left to end by itself, never cancelled: cancelling a ccxt watch
    in the middle of its listen-key request would leave ccxt's single-flight authentication
    pending forever (every later user-stream watch would wait on it)."""
    watch = asyncio.ensure_future(s.watch())
    kick = asyncio.ensure_future(s.kick.wait())
    try:
        done, _ = await asyncio.wait({watch, kick}, timeout=s.silence_s,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        kick.cancel()
        if not watch.done():
            watch.add_done_callback(_quiet)
    if watch in done:
        if watch.cancelled():  # ccxt cancels the futures of a client closed under them
            raise ccxt.NetworkError(f"stream {s.name}: connection closed under the watch")
        return watch.result()
    if kick in done:
        s.kick.clear()
        raise Restarted()
    raise asyncio.TimeoutError()


async def close_ws_clients(ex, hint: str = "") -> None:
    """Close the ccxt.pro websocket clients whose subscriptions mention `hint` (all if none
    does), so the next watch opens a fresh connection and subscribes again."""
    # Only real connections: ccxt also keeps never-dialed bookkeeping clients (Binance's
    # `authenticationFlights`, whose cancelled futures would park every later listen-key
    # request forever).
    clients = [c for c in getattr(ex, "clients", {}).values()
               if hasattr(c, "close") and str(getattr(c, "url", "")).startswith("ws")]
    if hint:
        hit = [c for c in clients if any(hint in str(k) for k in
                                         list(getattr(c, "subscriptions", {}))
                                         + list(getattr(c, "futures", {})))]
        clients = hit or clients
    for client in clients:
        try:
            await client.close()
        except Exception:  # noqa: BLE001 - closing a dead socket may fail; it is gone anyway
            pass


async def run_stream(s: Stream, *, ex, stopping: asyncio.Event, on_reconnect: Callable[[], None],
                     on_stop: Callable[[StopError], None], log: logging.Logger,
                     redact: Redactor, base_delay: float = 0.5, max_delay: float = 30.0,
                     max_attempts: int | None = None,
                     on_closed: Callable[[Stream], None] | None = None,
                     on_down: Callable[[Stream], None] | None = None,
                     on_up: Callable[[Stream], None] | None = None) -> None:
    """Run one stream until `stopping` is set. It never gives up on its own (an outage of
    days still ends in a reconnect); `max_attempts` consecutive failures, if given, stop the
    bot loudly instead of leaving it without the stream. `on_down` is called when the stream
    fails or falls silent, `on_up` at its next update after that (the connection state the
    console, the page and the alerts show)."""
    failures = Backoff(base_delay, max_delay)
    down = False

    def went_down() -> None:
        nonlocal down
        if not down and on_down is not None:
            on_down(s)
        down = True
    while not stopping.is_set():
        try:
            update = await next_update(s)
        except asyncio.CancelledError:
            raise
        except Restarted:
            s.stats.resubscribes += 1
            if s.on_error is not None:
                s.on_error()
            on_reconnect()
            continue
        except asyncio.TimeoutError:
            s.stats.resubscribes += 1
            log.warning("stream %s silent for %.0fs: resubscribing", s.name, s.silence_s)
            went_down()
            await close_ws_clients(ex, s.hash_hint)
            if on_closed is not None:  # the other streams on the closed clients watch again
                on_closed(s)
            on_reconnect()
            continue
        except Exception as e:  # noqa: BLE001 - classified; non-ccxt errors are logged as bugs
            if stopping.is_set():
                return
            s.stats.errors += 1
            s.stats.last_error = describe(e, redact)
            went_down()
            try:
                action = classify(e, "stream")
            except TypeError:
                log.error("stream %s: unexpected %s", s.name, s.stats.last_error)
                action = Action.RETRY
            if action is Action.STOP:
                on_stop(StopError(s.stats.last_error))
                return
            s.kick.clear()  # about to watch afresh anyway
            delay = failures.fail()
            if max_attempts is not None and failures.streak >= max_attempts:
                on_stop(StopError(f"stream {s.name} failed {failures.streak} times in a row: "
                                  f"{s.stats.last_error}"))
                return
            if s.on_error is not None:
                s.on_error()
            log.warning("stream %s: %s; reconnecting in %.1fs", s.name, s.stats.last_error, delay)
            try:
                await asyncio.wait_for(stopping.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            on_reconnect()
            continue
        failures.reset()
        s.stats.updates += 1
        if down:
            down = False
            if on_up is not None:
                on_up(s)
        try:
            s.handle(update)
        except Exception:  # noqa: BLE001 - a bad payload must not kill the stream
            log.exception("stream %s: handler failed", s.name)
