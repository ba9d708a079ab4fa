"""Market specs (steps, minimums, margin tiers) per exchange and symbol, for any cached market.

The live bot reads the real specs from the exchange (ccxt markets and leverage tiers). The
backtester and the emulator look a spec up with `market_spec(exchange, symbol, cache_dir)`:

1. the spec the downloader stored beside the symbol's candles (`{cache_dir}/{exchange}/
   {SYMBOL}/spec.json`, written by `passivbot.data.specs`), so any downloaded market works;
2. else the bundled snapshot `passivbot/data/bundled/markets.json` (the 13 bundled Binance
   symbols and Bybit ETH/BTC), whose `sources` say where each value was copied from;
3. else `MarketSpecError` naming the downloader command that stores one.

Tiers: Binance `/fapi/v1/leverageBracket` (notionalCap, maintMarginRatio, cum, initialLeverage)
and Bybit `/v5/market/risk-limit` (riskLimitValue, maintenanceMargin, mmDeduction, maxLeverage)
map one to one onto `Tier`; the last tier is open-ended (cap inf).
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from passivbot.errors import InputError
from passivbot.records import (
    BRACKET_COLS, DEFAULT_PASSIVE_TICKS, DEFAULT_REPRICE_TOL, M_MIN_COST, M_MIN_QTY,
    M_PASSIVE_TICKS, M_PRICE_STEP, M_QTY_STEP, M_REPRICE_TOL, N_MARKET,
)

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
    # Where the values came from: "cache:<path>", "bundled:<source keys>" or "" (built in code).
    source: str = ""
    # Price steps between the last price and the nearest entry / close (M_PASSIVE_TICKS): both
    # venues' book is at least one step wide, so an order at the last price can cross; the live
    # adapter takes the same value from its capability row (`Capabilities.passive_ticks`).
    passive_ticks: float = DEFAULT_PASSIVE_TICKS
    # Re-pricing tolerance of a flat side's initial entry (M_REPRICE_TOL; the adapter's
    # `Capabilities.reprice_tol` holds the same default).
    reprice_tol: float = DEFAULT_REPRICE_TOL

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
        a[M_PASSIVE_TICKS] = self.passive_ticks
        a[M_REPRICE_TOL] = self.reprice_tol
        return a

    def brackets_array(self) -> np.ndarray:
        """Tiers as the float64 (n, BRACKET_COLS) array margin.bracket_nb takes."""
        b = np.zeros((len(self.tiers), BRACKET_COLS))
        for i, t in enumerate(self.tiers):
            b[i] = (t.notional_cap, t.mmr, t.maint_amount)
        return b



class MarketSpecError(InputError, KeyError):
    """No usable spec for a market; the message says how to get one (exit 2 in the scripts)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


_INF = math.inf
BUNDLED_MARKETS_PATH = Path(__file__).parent / "data" / "bundled" / "markets.json"
SPEC_FILE = "spec.json"
_MAX_SPEC_BYTES = 1 << 20


def spec_from_json(obj: dict, source: str = "") -> MarketSpec:
    """A MarketSpec from its JSON form (as in markets.json and the cache's spec.json).

    Checks what a kernel would silently mis-handle: positive steps and minimums, at least one
    tier, caps strictly ascending, rates in [0, 1), leverage >= 1. ValueError names the key.
    """
    def num(key, lo=0.0, strict=True):
        v = obj.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                or (v <= lo if strict else v < lo):
            raise ValueError(f"{key}: expected a number {'>' if strict else '>='} {lo}, got {v!r}")
        return float(v)

    for key in ("exchange", "symbol", "base", "quote"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise ValueError(f"{key}: expected a non-empty string, got {obj.get(key)!r}")
    rows = obj.get("tiers")
    if not isinstance(rows, list) or not rows:
        raise ValueError("tiers: expected a non-empty list")
    tiers, prev_cap = [], 0.0
    for i, row in enumerate(rows):
        cap = row.get("notional_cap")
        cap = _INF if cap is None and i == len(rows) - 1 else cap
        mmr, amt, lev = row.get("mmr"), row.get("maint_amount"), row.get("max_leverage")
        if not isinstance(cap, (int, float)) or not cap > prev_cap:
            raise ValueError(f"tiers[{i}].notional_cap: expected > {prev_cap}, got {cap!r}")
        if not isinstance(mmr, (int, float)) or not 0 <= mmr < 1:
            raise ValueError(f"tiers[{i}].mmr: expected in [0, 1), got {mmr!r}")
        if not isinstance(amt, (int, float)) or not math.isfinite(amt):
            raise ValueError(f"tiers[{i}].maint_amount: expected a number, got {amt!r}")
        if not isinstance(lev, (int, float)) or lev < 1:
            raise ValueError(f"tiers[{i}].max_leverage: expected >= 1, got {lev!r}")
        tiers.append(Tier(float(cap), float(mmr), float(amt), int(lev)))
        prev_cap = float(cap)
    return MarketSpec(obj["exchange"], obj["symbol"], obj["base"], obj["quote"], num("price_step"),
                      num("qty_step"), num("min_qty"), num("min_cost", strict=False), tuple(tiers),
                      num("mmr_add", strict=False) if "mmr_add" in obj else 0.0, source)


def spec_to_json(spec: MarketSpec) -> dict:
    """The JSON form `spec_from_json` reads (the last tier's infinite cap as null)."""
    return {
        "exchange": spec.exchange, "symbol": spec.symbol, "base": spec.base, "quote": spec.quote,
        "price_step": spec.price_step, "qty_step": spec.qty_step, "min_qty": spec.min_qty,
        "min_cost": spec.min_cost, "mmr_add": spec.mmr_add,
        "tiers": [{"notional_cap": None if math.isinf(t.notional_cap) else t.notional_cap,
                   "mmr": t.mmr, "maint_amount": t.maint_amount, "max_leverage": t.max_leverage}
                  for t in spec.tiers],
    }


def _load_bundled() -> dict[tuple[str, str], MarketSpec]:
    doc = json.loads(BUNDLED_MARKETS_PATH.read_text())
    out = {}
    for i, obj in enumerate(doc["markets"]):
        src = obj.get("source", {})
        try:
            spec = spec_from_json(obj, "bundled:" + ",".join(f"{k}={v}" for k, v in src.items()))
        except ValueError as e:
            raise ValueError(f"{BUNDLED_MARKETS_PATH}: markets[{i}].{e}") from None
        out[(spec.exchange, spec.symbol)] = spec
    return out


MARKETS: dict[tuple[str, str], MarketSpec] = _load_bundled()


def stored_spec_path(cache_dir: str | os.PathLike, exchange: str, symbol: str) -> Path:
    """Where the downloader stores the spec of a cached symbol."""
    return Path(cache_dir) / exchange / symbol / SPEC_FILE


def _read_stored(path: Path) -> MarketSpec | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise MarketSpecError(f"market spec {path} is unreadable ({e}); delete it and run the "
                              "downloader again") from None
    why = ""
    if not stat.S_ISREG(st.st_mode):
        why = "not a regular file"
    elif st.st_size > _MAX_SPEC_BYTES:
        why = f"{st.st_size} bytes, more than {_MAX_SPEC_BYTES}"
    else:
        try:
            obj = json.loads(path.read_bytes())
            if isinstance(obj, dict) and obj.get("tiers", []) is None:
                raise MarketSpecError(
                    f"market spec {path} has no margin tiers: {obj.get('source_note', '')}. "
                    "Add the exchange's tiers to it (Binance: the leverage bracket table of the "
                    "symbol) or backtest a symbol of the bundled snapshot")
            return spec_from_json(obj, f"cache:{path}")
        except (OSError, ValueError, AttributeError, TypeError) as e:
            why = f"{type(e).__name__}: {e}"
    raise MarketSpecError(f"market spec {path} is invalid ({why}); delete it and run the "
                          "downloader again")


def market_spec(exchange: str, symbol: str, cache_dir: str | os.PathLike | None = None
                ) -> MarketSpec:
    """The spec of `symbol` on `exchange`: stored by the downloader under `cache_dir` (None:
    not looked up), else the bundled snapshot, else MarketSpecError (a KeyError) saying how to
    store one. A stored spec that cannot be read is an error too, not silently replaced."""
    if cache_dir is not None:
        spec = _read_stored(stored_spec_path(cache_dir, exchange, symbol))
        if spec is not None:
            return spec
    try:
        return MARKETS[(exchange, symbol)]
    except KeyError:
        pass
    where = f" in {stored_spec_path(cache_dir, exchange, symbol)}" if cache_dir is not None else ""
    known = ", ".join(f"{e}:{s}" for e, s in MARKETS)
    cmd = f"python3 downloader.py --exchange {exchange} --symbol {symbol} --start-date YYYY-MM-DD " \
          "--end-date YYYY-MM-DD"
    if cache_dir is not None and str(cache_dir) != "caches":
        cmd += f" --cache-dir {cache_dir}"
    raise MarketSpecError(f"no market spec for {exchange}:{symbol}: none stored{where} and none "
                          f"bundled (bundled: {known}). The downloader stores the exchange's "
                          f"spec with the candles: {cmd}")
