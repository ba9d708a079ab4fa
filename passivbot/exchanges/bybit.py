"""Bybit v5 linear perpetuals (unified account): capabilities and payload extraction."""

from __future__ import annotations

from passivbot.exchanges.adapter import Capabilities, Extractors, side_from_name
from passivbot.records import LONG, SHORT

CAPS = Capabilities(
    name="bybit",
    ccxt_class="bybit",
    position_param="positionIdx",
    position_values=(1, 2),
    reduce_only_in_hedge_mode=True,
    tier_cap_key="riskLimitValue",
    tier_maint_key="mmDeduction",
    liq_adds_taker_fee=True,
    orders_per_s=10.0,  # 10 create / s per symbol on the default tier
    order_burst=10,
    ohlcv_page=1000,
    limit_reset_header="X-Bapi-Limit-Reset-Timestamp",  # ms epoch, with retCode 10006
    rate_limit_body_code="10006",
    forbidden_ban_s=600.0,  # HTTP 403 "access too frequent": the IP is banned 10 minutes
    post_only_cancel_reason="EC_PostOnlyWillTakeLiquidity",
    trades_page=100,  # /v5/execution/list: limit 1..100, newest first, nextPageCursor
    trades_cursor=True,
    ccxt_options=(("fetchMarkets", {"types": ["linear"]}),),
    batch_create_max=10,  # /v5/order/create-batch and cancel-batch: 10 orders (linear)
    batch_cancel_max=10,
    funding_sign=-1.0,  # ccxt's amount is execFee: positive = paid
    funding_page=100,  # /v5/execution/list: limit 1..100
    funding_page_param="limit",  # ccxt sends `size`, which the endpoint ignores (default 50)
)


def _accounts(info) -> list:
    if isinstance(info, dict):  # REST envelope
        return ((info.get("result") or {}).get("list")) or []
    return info if isinstance(info, list) else []  # wallet stream: a list of accounts


def wallet_balance(balance: dict, quote: str) -> float | None:
    """The coin's walletBalance; ccxt's `total` for Bybit is equity (includes upnl)."""
    for acc in _accounts(balance.get("info")):
        for c in acc.get("coin") or []:
            if c.get("coin") == quote:
                return float(c["walletBalance"])
    return None


def position_side(p: dict) -> int | None:
    return side_from_name((p.get("info") or {}).get("positionIdx"))


def order_position_side(o: dict) -> int | None:
    return side_from_name((o.get("info") or {}).get("positionIdx"))


def funding_side(f: dict) -> int | None:
    """A funding execution's `side` is the position's: Buy = long, Sell = short."""
    return {"buy": LONG, "sell": SHORT}.get(str((f.get("info") or {}).get("side")).lower())


EXTRACT = Extractors(wallet_balance, position_side, order_position_side, funding_side)
