"""The one place a ccxt client is built: same options for real accounts and for the emulator.

`emulator="HOST:PORT"` only rewrites the scheme and host of every URL in `urls['api']` (paths
kept), so the emulator must (and does) answer every call ccxt makes with a real configuration.
"""

from __future__ import annotations

import re

import ccxt.pro as ccxtpro

from passivbot.exchanges import binance, bybit

CAPS = {"binance": binance.CAPS, "bybit": bybit.CAPS}
_HTTP = re.compile(r"^https?://[^/]+")
_WS = re.compile(r"^wss?://[^/]+")


def _rewrite(node, http: str, ws: str):
    if isinstance(node, dict):
        return {k: _rewrite(v, http, ws) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, http, ws) for v in node]
    if isinstance(node, str):
        return _WS.sub(ws, _HTTP.sub(http, node))
    return node


def create_exchange(exchange: str, *, api_key: str | None, secret: str | None,
                    emulator: str | None = None, testnet: bool = False,
                    rate_limit: bool = True) -> "ccxtpro.Exchange":
    """A ccxt.pro client for `exchange` ("binance" | "bybit"): USDT-margined linear swaps.

    emulator: "HOST:PORT" of a passivbot emulator; every API URL then points there.
    Callers own the client: `await ex.close()` when done.
    """
    if exchange not in CAPS:
        raise ValueError(f"unsupported exchange {exchange!r} (supported: {', '.join(CAPS)})")
    caps = CAPS[exchange]
    config: dict = {"enableRateLimit": rate_limit,
                    "options": {"defaultType": "swap", "defaultSubType": "linear"}}
    if api_key is not None:
        config["apiKey"] = api_key
    if secret is not None:
        config["secret"] = secret
    for key, value in caps.ccxt_options:
        config["options"][key] = value
    ex = getattr(ccxtpro, caps.ccxt_class)(config)
    if testnet and emulator is None:
        ex.set_sandbox_mode(True)
    if emulator is not None:
        host = emulator.split("://")[-1].rstrip("/")
        ex.urls["api"] = _rewrite(ex.urls["api"], f"http://{host}", f"ws://{host}")
        if caps.error_table_by_host:
            _keep_error_table(ex, f"http://{host}/", caps.error_table_by_host)
    return ex


def _keep_error_table(ex, base: str, table: str) -> None:
    """ccxt picks Binance's USDT-M error table by URL host (https://fapi.binance.com/...); a
    rewritten host would fall back to the generic table (e.g. -2019 margin insufficient as a
    plain ExchangeError). Map the emulator's /fapi URLs to `table`, as the real host."""
    original = ex.get_exceptions_by_url

    def by_url(url, exact_or_broad):
        if url is not None and url.startswith(base + "fapi/"):
            return ex.safe_dict(ex.safe_dict(ex.exceptions, table, {}), exact_or_broad, {})
        return original(url, exact_or_broad)

    ex.get_exceptions_by_url = by_url
