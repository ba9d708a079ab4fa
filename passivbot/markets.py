"""Market specs (steps, minimums, margin tiers) known offline, per exchange and symbol.

The live bot reads the real specs from the exchange (ccxt markets and leverage tiers); this
table is what the backtester uses offline and what the emulator serves, so both trade the same
market. Values are snapshots of the exchanges' published filters and tier tables (Binance
`/fapi/v1/exchangeInfo` + `/fapi/v1/leverageBracket`, Bybit `/v5/market/instruments-info` +
`/v5/market/risk-limit`), maintenance amounts made continuous across tiers as the exchanges do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from passivbot.records import BRACKET_COLS, M_MIN_COST, M_MIN_QTY, M_PRICE_STEP, M_QTY_STEP, N_MARKET

EXCHANGES = ("binance", "bybit")

# Default fees (VIP 0, USDT-M / linear perpetuals), as rates.
DEFAULT_FEES = {
    "binance": {"maker_fee": 0.0002, "taker_fee": 0.0005},
    "bybit": {"maker_fee": 0.0002, "taker_fee": 0.00055},
}


@dataclass(frozen=True)
class Tier:
    notional_cap: float  # upper bound of the tier's position notional, quote
    mmr: float  # maintenance margin rate
    maint_amount: float  # Binance "cum" / Bybit "mmDeduction"
    max_leverage: int


@dataclass(frozen=True)
class MarketSpec:
    exchange: str
    symbol: str  # exchange id, e.g. "ETHUSDT"
    base: str
    quote: str
    price_step: float
    qty_step: float
    min_qty: float
    min_cost: float
    tiers: tuple[Tier, ...]
    # Added to every maintenance rate in the liquidation formula (Bybit counts the close fee).
    mmr_add: float = 0.0

    @property
    def ccxt_symbol(self) -> str:
        return f"{self.base}/{self.quote}:{self.quote}"

    @property
    def max_leverage(self) -> int:
        return self.tiers[0].max_leverage

    def market_array(self) -> np.ndarray:
        """Specs as the float64 array the kernels take (M_* indices)."""
        a = np.zeros(N_MARKET)
        a[M_PRICE_STEP] = self.price_step
        a[M_QTY_STEP] = self.qty_step
        a[M_MIN_QTY] = self.min_qty
        a[M_MIN_COST] = self.min_cost
        return a

    def brackets_array(self) -> np.ndarray:
        """Tiers as the float64 (n, BRACKET_COLS) array margin.bracket_nb takes."""
        b = np.zeros((len(self.tiers), BRACKET_COLS))
        for i, t in enumerate(self.tiers):
            b[i] = (t.notional_cap, t.mmr, t.maint_amount)
        return b


def _tiers(rows: list[tuple[float, float, int]]) -> tuple[Tier, ...]:
    """Tiers from (cap, mmr, max_leverage), with the maintenance amount made continuous."""
    out = []
    cum = 0.0
    prev_cap = 0.0
    prev_mmr = rows[0][1]
    for cap, mmr, lev in rows:
        cum += prev_cap * (mmr - prev_mmr)
        out.append(Tier(cap, mmr, round(cum, 6), lev))
        prev_cap, prev_mmr = cap, mmr
    return tuple(out)


_INF = math.inf

MARKETS: dict[tuple[str, str], MarketSpec] = {
    ("binance", "ETHUSDT"): MarketSpec(
        "binance", "ETHUSDT", "ETH", "USDT", 0.01, 0.001, 0.001, 20.0,
        _tiers([(50_000, 0.005, 125), (500_000, 0.0065, 100), (2_000_000, 0.01, 75),
                (10_000_000, 0.02, 50), (50_000_000, 0.05, 20), (_INF, 0.1, 10)]),
    ),
    ("binance", "BTCUSDT"): MarketSpec(
        "binance", "BTCUSDT", "BTC", "USDT", 0.1, 0.001, 0.001, 100.0,
        _tiers([(50_000, 0.004, 125), (500_000, 0.005, 100), (8_000_000, 0.01, 50),
                (50_000_000, 0.025, 20), (80_000_000, 0.05, 10), (_INF, 0.1, 5)]),
    ),
    ("bybit", "ETHUSDT"): MarketSpec(
        "bybit", "ETHUSDT", "ETH", "USDT", 0.01, 0.01, 0.01, 5.0,
        _tiers([(1_000_000, 0.005, 100), (2_000_000, 0.01, 50), (5_000_000, 0.02, 25),
                (_INF, 0.05, 10)]),
        mmr_add=DEFAULT_FEES["bybit"]["taker_fee"],
    ),
    ("bybit", "BTCUSDT"): MarketSpec(
        "bybit", "BTCUSDT", "BTC", "USDT", 0.1, 0.001, 0.001, 5.0,
        _tiers([(2_000_000, 0.005, 100), (4_000_000, 0.01, 50), (10_000_000, 0.02, 25),
                (_INF, 0.05, 10)]),
        mmr_add=DEFAULT_FEES["bybit"]["taker_fee"],
    ),
}


def market_spec(exchange: str, symbol: str) -> MarketSpec:
    """The offline spec of `symbol` on `exchange`; KeyError names what is known."""
    try:
        return MARKETS[(exchange, symbol)]
    except KeyError:
        known = ", ".join(f"{e}:{s}" for e, s in MARKETS)
        raise KeyError(f"no offline market spec for {exchange}:{symbol} (known: {known})") from None
