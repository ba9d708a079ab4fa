"""Execution: carry out a Plan on the exchange within its rate limits, errors as decisions.

Cancels first, then creates, in the plan's order (nearest to the price first). Each call goes
through the exchange guard (shared rate-limit cool-down, clock resync), `passivbot.retry` for
transient errors and `exchanges.errors.classify` for the rest. Rules that keep exposure and
request counts bounded:

- A create keeps its client order id across retries, so a create that reached the exchange
  before its answer was lost comes back as "duplicate id": treated as placed, reconciled.
- A cancel that failed for a transient reason (HTTP 503s) leaves the order as resting: no
  order of the same side and direction is created in that cycle, so the replacement never
  rests beside the order it replaces (never more exposure resting than the ideal).
- Grid orders, entries and closes, are post-only (a close that crossed would pay the taker fee
  the backtest does not book). Entries are priced behind the book when it is known (a buy
  never above the best bid, a sell never below the best ask); the calculator's price is
  remembered for the diff, so the order is not re-priced on every tick. Closes keep the
  calculator's price (one tick outside the last close): one that would cross is held back
  below, as an entry is.
- Batches: cancels and creates go out in batches of the venue's batch size
  (`caps.batch_cancel_max` / `batch_create_max`: Binance 10 / 5, Bybit 10 / 10; one request
  each, `exchanges.batch`), a lone order as a single call. Each order of a batch is decided on
  its own answer: a refused create is skipped, held or reconciled as a single create would be,
  the others stay placed; a cancel whose answer is an error or missing counts as failed (the
  order may still rest: its side is blocked as above). A batch refused as a whole (503, 429)
  is retried as a whole, with the same client ids (a retried create that had reached the
  exchange comes back "duplicate id": placed).
- A post-only order that would cross (Binance -5022; Bybit's cancel with
  `EC_PostOnlyWillTakeLiquidity`, reported by the order stream) is held back with backoff
  (5 s doubling to 30 s, jittered down to half: sends at >= 0, 2.5, 7.5, 17.5, 32.5, 47.5,
  62.5 s): at most 6 sends in any minute while it keeps crossing, one log line.
  The hold is for that order (side, direction, calculator's price): when the calculator's
  price moves (the next closed minute), the new order is sent at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass

from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Action, Redactor, StopError, classify, describe
from passivbot.live.diff import CLIENT_ID_PREFIX, OpenOrder, Plan, Wanted
from passivbot.live.state import BotState
from passivbot.records import KIND_NAMES, LONG
from passivbot.retry import backoff_delay, retry_async

# Post-only cross hold: base x 2^(n-1) capped, "equal jitter" (>= half): holds of >= 2.5, 5, 10,
# 15, 15 ... s, so 7 sends span >= 62.5 s (4 s would allow 7 in 59 s).
CROSS_BASE_S, CROSS_MAX_S = 5.0, 30.0
CROSS_FORGET_S = 60.0  # a key that did not cross for this long starts its backoff afresh


def new_client_id(w: Wanted) -> str:
    """`pb` + side (l/s) + entry/close (e/c) + random: unique, <= 36 chars, marks our orders."""
    return f"{CLIENT_ID_PREFIX}{'l' if w.side == LONG else 's'}{'c' if w.close else 'e'}" \
           f"-{uuid.uuid4().hex[:24]}"


def behind_book(w: Wanted, bid: float, ask: float) -> float:
    """The post-only price of entry `w`: the calculator's price, moved behind the top of
    book if it would cross (a buy never above the best bid, a sell never below the best ask).
    Closes (post-only too: a crossing one is held back) and an unknown book (0) keep the
    price."""
    if w.close:
        return w.price
    if w.is_buy:
        return min(w.price, bid) if bid > 0 else w.price
    return max(w.price, ask) if ask > 0 else w.price


class TokenBucket:
    """At most `rate` calls per second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.t = time.monotonic()

    async def take(self) -> None:
        for _ in range(1000):
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
            self.t = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self.tokens) / self.rate)


def hold_key(side: int, close: bool, price: float) -> tuple:
    """What a post-only hold is for: one order of the calculator (side, direction, price)."""
    return (side, close, round(price, 8))


class CrossHolds:
    """Per order key (`hold_key`): how long a post-only entry that crossed is held back."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._keys: dict[tuple, list[float]] = {}  # key -> [streak, last cross, hold until]

    def crossed(self, key: tuple) -> float:
        """Count a cross; the seconds the key is held."""
        now = self.clock()
        streak, last, _ = self._keys.get(key, (0, -math.inf, 0.0))
        streak = 1 if now - last > CROSS_FORGET_S else int(streak) + 1
        hold = backoff_delay(streak, CROSS_BASE_S, CROSS_MAX_S)
        self._keys[key] = [streak, now, now + hold]
        return hold

    def held_for(self, key: tuple) -> float:
        entry = self._keys.get(key)
        return max(0.0, entry[2] - self.clock()) if entry else 0.0

    def streak(self, key: tuple) -> int:
        entry = self._keys.get(key)
        return int(entry[0]) if entry else 0


@dataclass
class Outcome:
    cancelled: int = 0
    created: int = 0
    skipped: int = 0  # refused creates (margin, limits, crossed just now)
    held: int = 0  # creates not sent: a post-only hold runs for them
    reconcile: bool = False
    hold_s: float = 0.0  # the soonest a held create may be sent again


async def _direct(fn):
    return await fn()


class Executor:
    def __init__(self, adapter: ExchangeAdapter, state: BotState, log: logging.Logger,
                 redact: Redactor, orders_per_s: float | None = None, retry_attempts: int = 4,
                 retry_base: float = 0.2, retry_max: float = 5.0, guard=None) -> None:
        self.adapter, self.state, self.log, self.redact = adapter, state, log, redact
        caps = adapter.caps
        rate = orders_per_s or caps.orders_per_s
        self.bucket = TokenBucket(rate, max(caps.order_burst, int(rate)))
        self.retry = dict(attempts=retry_attempts, base_delay=retry_base, max_delay=retry_max)
        self.guarded = guard.call if guard is not None else _direct
        self.terminated: deque[str] = deque(maxlen=512)  # ids the stream saw end
        self.holds = CrossHolds()
        self._skip_logged: set = set()
        self._last_error = ""
        self.in_flight = 0
        self.counts = {"create": 0, "cancel": 0, "errors": 0, "crossed": 0, "batches": 0}

    def note_terminated(self, order_id: str) -> None:
        self.terminated.append(order_id)

    def note_crossed(self, side: int, close: bool, price: float, detail: str) -> None:
        """A post-only entry crossed (refused, or accepted then cancelled): hold it back.
        `price`: the calculator's price of that order."""
        key = hold_key(side, close, price)
        hold = self.holds.crossed(key)
        self.counts["crossed"] += 1
        if self.holds.streak(key) == 1:  # one line per crossing episode
            self.log.warning("post-only %s %s would take liquidity (%s): held %.1fs, "
                             "retried with backoff while it keeps crossing",
                             "long" if side == LONG else "short", "close" if close else "entry",
                             detail, hold)

    def _on_retry(self, op: str):
        def cb(attempt: int, exc: BaseException, delay: float) -> None:
            self.log.warning("%s retry %d in %.2fs: %s", op, attempt, delay,
                             describe(exc, self.redact))
        return cb

    async def _call(self, op: str, fn, n: int = 1) -> tuple[object | None, Action | None]:
        """(result, None) on success, (None, action) on a classified failure (RETRY: the
        retries ran out). `n`: orders the request carries (tokens taken from the bucket)."""
        for _ in range(n):
            await self.bucket.take()
        self.in_flight += 1
        try:
            return await retry_async(lambda: self.guarded(fn), on_retry=self._on_retry(op),
                                     **self.retry), None
        except Exception as e:  # noqa: BLE001 - classified below; non-ccxt errors re-raised
            return None, self._classify(e, op)
        finally:
            self.in_flight -= 1

    def _classify(self, e: BaseException, op: str) -> Action:
        """A call's or one batch row's error -> its Action (STOP raises StopError)."""
        try:
            action = classify(e, op)
        except TypeError:
            raise e from None
        self.counts["errors"] += 1
        if action is Action.STOP:
            raise StopError(describe(e, self.redact)) from None
        self._last_error = describe(e, self.redact)
        return action

    def _row_action(self, row, op: str) -> Action | None:
        """One batch row's answer -> None (done) or its Action; a row without an answer is
        RETRY (unknown: the order may or may not have been placed / cancelled)."""
        if isinstance(row, BaseException):
            return self._classify(row, op)
        if row is None:
            self.counts["errors"] += 1
            self._last_error = "no answer for this order in the batch"
            return Action.RETRY
        return None

    def batch_sizes(self) -> tuple[int, int]:
        """(cancels, creates) per request: the venue's batch sizes where the adapter has the
        batch calls (a test double or an adapter without them sends every order alone)."""
        caps = self.adapter.caps
        return (caps.batch_cancel_max if hasattr(self.adapter, "cancel_orders") else 1,
                caps.batch_create_max if hasattr(self.adapter, "create_orders") else 1)

    async def run(self, plan: Plan) -> Outcome:
        out = Outcome()
        blocked: set[tuple] = set()  # (side, close) with a cancel that may not have happened
        n_cancel, n_create = self.batch_sizes()
        for chunk in chunks(plan.cancels, n_cancel):
            if len(chunk) == 1:
                o = chunk[0]
                _, action = await self._call(
                    "cancel", lambda o=o: self.adapter.cancel_order(o.id))
                self._cancelled(o, action, out, blocked)
                continue
            rows, action = await self._call(
                "cancel", lambda c=chunk: self.adapter.cancel_orders([o.id for o in c]),
                n=len(chunk))
            self.counts["batches"] += 1
            for i, o in enumerate(chunk):
                self._cancelled(o, action if action is not None else
                                self._row_action(rows[i], "cancel"), out, blocked)
        creates = []
        for w in plan.creates:
            if (w.side, w.close) in blocked:
                continue
            held = self.holds.held_for(hold_key(w.side, w.close, w.price))
            if held > 0:
                out.held += 1
                out.hold_s = held if out.hold_s == 0 else min(out.hold_s, held)
                continue
            creates.append(w)
        for chunk in chunks(creates, n_create):
            if len(chunk) == 1:
                await self._create(chunk[0], out)
            else:
                await self._create_batch(chunk, out)
        return out

    def _cancelled(self, o: OpenOrder, action: Action | None, out: Outcome,
                   blocked: set) -> None:
        self.counts["cancel"] += 1
        if action is None:
            out.cancelled += 1
            self.state.open_orders.pop(o.id, None)
            return
        if action is Action.RECONCILE:
            # Gone (filled or cancelled meanwhile); a fill arrives by stream or REST.
            self.state.open_orders.pop(o.id, None)
        else:  # transient failures outlasted the retries, or no answer: it may still rest
            blocked.add((o.side, o.close))
        self.log.info("cancel %s: %s -> %s", o.id, self._last_error, action.value)
        out.reconcile = True

    def _priced(self, w: Wanted) -> tuple[str, float]:
        """A new client id and the post-only price (behind the book) for `w`."""
        cid = new_client_id(w)
        price = behind_book(w, self.state.bid, self.state.ask)
        if price != w.price:
            self.state.note_ideal_price(cid, w.price)
        return cid, price

    async def _create(self, w: Wanted, out: Outcome) -> None:
        cid, price = self._priced(w)
        res, action = await self._call(
            "create", lambda: self.adapter.create_order(w.side, w.close, w.qty, price, cid))
        self._created(w, cid, price, res, action, out)

    async def _create_batch(self, ws: list[Wanted], out: Outcome) -> None:
        priced = [self._priced(w) for w in ws]
        rows, action = await self._call(
            "create", lambda: self.adapter.create_orders(
                [(w.side, w.close, w.qty, p, cid) for w, (cid, p) in zip(ws, priced)]),
            n=len(ws))
        self.counts["batches"] += 1
        for i, (w, (cid, price)) in enumerate(zip(ws, priced)):
            if action is not None:
                self._created(w, cid, price, None, action, out)
            else:
                row = rows[i]
                self._created(w, cid, price, row, self._row_action(row, "create"), out)

    def _created(self, w: Wanted, cid: str, price: float, res, action: Action | None,
                 out: Outcome) -> None:
        """Act on one create's answer (a single call's or a batch row's)."""
        self.counts["create"] += 1
        key = (w.side, w.kind)
        if action is None:
            out.created += 1
            self._skip_logged.discard(key)
            oid = str(res.get("id"))
            if oid not in self.terminated and res.get("status") not in (
                    "closed", "canceled", "expired", "rejected"):
                self.state.remember_order(OpenOrder(
                    oid, cid, w.side, w.close, w.qty, price,
                    w.price if price != w.price else None))
        elif action is Action.CROSSED:
            out.held += 1
            self.note_crossed(w.side, w.close, w.price, self._last_error)
            held = self.holds.held_for(hold_key(w.side, w.close, w.price))
            out.hold_s = held if out.hold_s == 0 else min(out.hold_s, held)
        elif action is Action.SKIP:
            out.skipped += 1
            if key not in self._skip_logged:  # logged once until it succeeds again
                self._skip_logged.add(key)
                self.log.warning("skipped %s %s %s @ %s: %s",
                                 "long" if w.side == LONG else "short", KIND_NAMES[w.kind],
                                 w.qty, price, self._last_error)
        else:
            self.log.info("create %s: %s -> %s", cid, self._last_error, action.value)
            out.reconcile = True


def chunks(items: list, size: int) -> list[list]:
    """`items` in consecutive groups of at most `size` (>= 1), order kept."""
    size = max(1, int(size))
    return [items[i:i + size] for i in range(0, len(items), size)]
