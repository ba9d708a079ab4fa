"""Helpers for tests and the bench that drive the emulator: synthetic candles, polling.

Part of the `harness` package (not tests/) so the bench and every area's tests can use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import numpy as np

T0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000)


def flat_candles(n: int, price: float, spread: float = 0.0, t0: int = T0) -> np.ndarray:
    """(n, 6) candles at `price`, high/low `spread` away; tests then shape single rows."""
    c = np.zeros((n, 6))
    c[:, 0] = t0 + 60_000 * np.arange(n)
    c[:, 1] = c[:, 4] = price
    c[:, 2] = price + spread
    c[:, 3] = price - spread
    c[:, 5] = 1.0
    return c


async def eventually(pred: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0,
                     every: float = 0.01) -> None:
    """Poll `pred` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        r = pred()
        if asyncio.iscoroutine(r):
            r = await r
        if r:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.1fs" % timeout)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def emulated_venue(exchange: str, candles: np.ndarray, symbol: str = "ETHUSDT",
                         **emulator_kw: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(emulator, ccxt client, adapter with its market loaded) for one symbol, served on
    127.0.0.1 and closed however the test ends; `emulator_kw` goes to `Emulator`."""
    from passivbot.emulator import Emulator
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.exchanges.registry import make_adapter

    emu = Emulator(exchange, symbol, candles, **emulator_kw)
    await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    try:
        adapter = make_adapter(exchange, ex, symbol)
        await adapter.load_market()
        yield emu, ex, adapter
    finally:
        await ex.close()
        await emu.stop()
