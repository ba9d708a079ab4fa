"""A local Binance USDT-M / Bybit v5 exchange on 127.0.0.1 for tests and paper trading.

See docs/emulator.md. `Emulator` is the entry point; `passivbot.exchanges.ccxt_factory`
connects ccxt to it.
"""

from passivbot.emulator.server import Emulator

__all__ = ["Emulator"]
