"""Shutdown: by default orders stay on the exchange (listed in a warning); with
`--cancel-on-exit` the bot's own orders (client id prefix `pb`) are cancelled first.
Positions are never closed by shutdown: a market close at the wrong moment is a loss the
user did not ask for."""

from __future__ import annotations

import logging

from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Redactor, describe
from passivbot.live.diff import is_ours
from passivbot.live.state import BotState
from passivbot.retry import retry_async


def _line(o: dict) -> str:
    return (f"  {o.get('side')} {o.get('amount')} @ {o.get('price')} "
            f"(id {o.get('id')}, client id {o.get('clientOrderId')})")


async def shutdown(adapter: ExchangeAdapter, state: BotState, log: logging.Logger,
                   redact: Redactor, cancel_on_exit: bool) -> list[dict]:
    """Returns the orders left open. Never raises for exchange errors (logs them)."""
    a = adapter
    try:
        orders = await retry_async(lambda: a.ex.fetch_open_orders(a.symbol), attempts=3,
                                   base_delay=0.2, max_delay=2.0)
    except Exception as e:  # noqa: BLE001 - best effort on the way out
        log.warning("could not list open orders at exit: %s", describe(e, redact))
        orders = [{"id": o.id, "clientOrderId": o.client_id, "side": "?", "amount": o.qty,
                   "price": o.price} for o in state.open_orders.values()]
    if cancel_on_exit:
        ours = [o for o in orders if is_ours(o.get("clientOrderId"))]
        for o in ours:
            try:
                await retry_async(lambda o=o: a.cancel_order(str(o["id"])), attempts=3,
                                  base_delay=0.2, max_delay=2.0)
            except Exception as e:  # noqa: BLE001
                log.warning("cancel %s at exit failed: %s", o.get("id"), describe(e, redact))
        cancelled = {o["id"] for o in ours}
        log.info("cancelled %d order(s) on exit", len(cancelled))
        orders = [o for o in orders if o["id"] not in cancelled]
    if orders:
        log.warning("WARNING: %d order(s) left open on %s %s (they can still fill; restart the "
                    "bot to manage them, or use --cancel-on-exit):\n%s", len(orders),
                    a.caps.name, a.symbol, "\n".join(_line(o) for o in orders))
    positions = [(n, state.psize[j], state.pprice[j]) for j, n in enumerate(("long", "short"))
                 if state.psize[j] > 0]
    if positions:
        log.warning("positions stay open (shutdown never closes them): %s",
                    ", ".join(f"{n} {s:g}@{p:g}" for n, s, p in positions))
    try:
        await a.ex.close()
    except Exception:  # noqa: BLE001
        pass
    return orders
