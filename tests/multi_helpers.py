"""Shared set-up for the MultiBot tests on the emulator: two symbols, ETH holding a long."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np

from harness.parity import lockstep_options
from harness.parity_multi import busy_multi_dict, settle
from passivbot.config.multi import multi_config_from_dict
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.live.multi import MultiBot
from passivbot.records import LONG


@asynccontextmanager
async def eth_long_btc_flat(eth: np.ndarray, btc: np.ndarray, n_positions: int,
                            log_name: str) -> AsyncIterator[tuple[Emulator, MultiBot]]:
    """A Binance hedge-mode account where ETHUSDT holds a 1.0 long at 2000 and BTCUSDT is flat,
    traded by a long-only MultiBot (`n_positions` per side, shared limit 0.5, a selection every
    15 minutes) in lockstep; yields (emulator, bot) once the bot settled after its start, and
    stops both on exit. `eth`, `btc`: the symbols' 1m candles (n, 6)."""
    emu = Emulator("binance", ["ETHUSDT", "BTCUSDT"], [eth, btc], start_index=1,
                   realism="minute")
    for acc in emu.accounts.values():
        acc.hedge_mode = True
    emu.accounts["ETHUSDT"].positions[LONG].size = 1.0  # ETH holds a long: its closes rest
    emu.accounts["ETHUSDT"].positions[LONG].price = 2000.0
    d = busy_multi_dict(["ETHUSDT", "BTCUSDT"], n_positions, total=0.5)
    d["short"]["enabled"] = False
    cfg = multi_config_from_dict(d, "test")
    await emu.start()
    ex = create_exchange("binance", api_key="k", secret="s", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    mb = MultiBot("binance", ex, cfg, logging.getLogger(log_name),
                  options=lockstep_options(), select_every=15)
    try:
        await mb.start()
        await settle(mb, emu)
        yield emu, mb
    finally:
        await mb.stop()
        await emu.stop()
