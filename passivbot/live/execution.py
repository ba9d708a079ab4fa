"""Execution: carry out a Plan on the exchange within its rate limits, errors as decisions.

Cancels first, then creates, in the plan's order (nearest to the price first). Each call goes
through `passivbot.retry.retry_async` for transient errors and `exchanges.errors.classify`
for the rest. A create keeps its client order id across retries, so a create that reached the
exchange before its answer was lost comes back as "duplicate id": treated as placed, and the
state is reconciled from REST.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Action, Redactor, StopError, classify, describe
from passivbot.live.diff import OpenOrder, Plan, Wanted
from passivbot.live.state import BotState
from passivbot.records import KIND_NAMES, LONG
from passivbot.retry import retry_async

CLIENT_ID_PREFIX = "pb"


def new_client_id(w: Wanted) -> str:
    """`pb` + side (l/s) + entry/close (e/c) + random: unique, <= 36 chars, marks our orders."""
    return f"{CLIENT_ID_PREFIX}{'l' if w.side == LONG else 's'}{'c' if w.close else 'e'}" \
           f"-{uuid.uuid4().hex[:24]}"


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


@dataclass
class Outcome:
    cancelled: int = 0
    created: int = 0
    skipped: int = 0
    reconcile: bool = False


class Executor:
    def __init__(self, adapter: ExchangeAdapter, state: BotState, log: logging.Logger,
                 redact: Redactor, orders_per_s: float | None = None, retry_attempts: int = 4, retry_base: float = 0.2,
                 retry_max: float = 5.0) -> None:
        self.adapter, self.state, self.log, self.redact = adapter, state, log, redact
        caps = adapter.caps
        rate = orders_per_s or caps.orders_per_s
        self.bucket = TokenBucket(rate, max(caps.order_burst, int(rate)))
        self.retry = dict(attempts=retry_attempts, base_delay=retry_base, max_delay=retry_max)
        self.terminated: deque[str] = deque(maxlen=512)  # ids the stream saw end
        self._skip_logged: set = set()
        self.in_flight = 0
        self.counts = {"create": 0, "cancel": 0, "errors": 0}

    def note_terminated(self, order_id: str) -> None:
        self.terminated.append(order_id)

    def _on_retry(self, op: str):
        def cb(attempt: int, exc: BaseException, delay: float) -> None:
            self.log.warning("%s retry %d in %.2fs: %s", op, attempt, delay,
                             describe(exc, self.redact))
        return cb

    async def _call(self, op: str, fn) -> tuple[object | None, Action | None]:
        """(result, None) on success, (None, action) on a classified failure."""
        await self.bucket.take()
        self.in_flight += 1
        try:
            return await retry_async(fn, on_retry=self._on_retry(op), **self.retry), None
        except Exception as e:  # noqa: BLE001 - classified below; non-ccxt errors re-raised
            try:
                action = classify(e, op)
            except TypeError:
                raise e from None
            self.counts["errors"] += 1
            if action is Action.STOP:
                raise StopError(describe(e, self.redact)) from None
            if action is Action.RETRY:  # retries exhausted: heal on the next cycle
                action = Action.RECONCILE
            self._last_error = describe(e, self.redact)
            return None, action
        finally:
            self.in_flight -= 1

    async def run(self, plan: Plan) -> Outcome:
        out = Outcome()
        for o in plan.cancels:
            res, action = await self._call("cancel", lambda o=o: self.adapter.cancel_order(o.id))
            self.counts["cancel"] += 1
            if action is None or action is Action.RECONCILE:
                # Gone either way; if it filled meanwhile, the fill arrives by stream/REST.
                self.state.open_orders.pop(o.id, None)
            if action is None:
                out.cancelled += 1
            else:
                self.log.info("cancel %s: %s -> %s", o.id, self._last_error, action.value)
                out.reconcile = True
        for w in plan.creates:
            cid = new_client_id(w)
            res, action = await self._call(
                "create", lambda w=w, cid=cid: self.adapter.create_order(
                    w.side, w.close, w.qty, w.price, cid))
            self.counts["create"] += 1
            key = (w.side, w.kind)
            if action is None:
                out.created += 1
                self._skip_logged.discard(key)
                oid = str(res.get("id"))
                if oid not in self.terminated and res.get("status") not in ("closed", "canceled",
                                                                            "expired", "rejected"):
                    self.state.remember_order(OpenOrder(oid, cid, w.side, w.close, w.qty,
                                                        w.price))
            elif action is Action.SKIP:
                out.skipped += 1
                if key not in self._skip_logged:  # logged once until it succeeds again
                    self._skip_logged.add(key)
                    self.log.warning("skipped %s %s %s @ %s: %s",
                                     "long" if w.side == LONG else "short", KIND_NAMES[w.kind],
                                     w.qty, w.price, self._last_error)
            else:
                self.log.info("create %s: %s -> %s", cid, self._last_error, action.value)
                out.reconcile = True
        return out
