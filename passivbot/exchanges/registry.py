"""Adapter lookup by exchange name: the only table that lists the supported exchanges."""

from __future__ import annotations

from passivbot.exchanges import binance, bybit
from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.guard import ExchangeGuard

MODULES = {"binance": binance, "bybit": bybit}


def make_adapter(exchange: str, ex, symbol_id: str) -> ExchangeAdapter:
    """The adapter for `exchange` over the ccxt.pro client `ex`, trading `symbol_id`."""
    mod = MODULES[exchange]
    adapter = ExchangeAdapter(ex, mod.CAPS, mod.EXTRACT, symbol_id)
    adapter.guard = ExchangeGuard(ex, mod.CAPS)  # rate-limit cool-down and server clock
    return adapter
