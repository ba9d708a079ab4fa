"""Binance USDT-M futures: capabilities and payload extraction (raw `info` shapes)."""

from __future__ import annotations

from passivbot.exchanges.adapter import Capabilities, Extractors, side_from_name

CAPS = Capabilities(
    name="binance",
    ccxt_class="binanceusdm",
    position_param="positionSide",
    position_values=("LONG", "SHORT"),
    reduce_only_in_hedge_mode=False,  # -1106 "Parameter 'reduceOnly' sent when not required"
    tier_cap_key="notionalCap",
    tier_maint_key="cum",
    liq_adds_taker_fee=False,
    orders_per_s=10.0,  # 300 orders / 10 s per account; stay well under
    order_burst=10,
    ohlcv_page=1000,  # the API allows 1500, ccxt caps binanceusdm's fetch_ohlcv at 1000
    listen_key=True,
    retry_after_header="Retry-After",  # 429 and the escalating 418 IP bans carry it
    error_table_by_host="linear",
    batch_create_max=5,  # POST /fapi/v1/batchOrders: "Max 5 orders" (weight 5)
    batch_cancel_max=10,  # DELETE /fapi/v1/batchOrders: orderIdList "max length 10"
    batch_error_url="fapiPrivate",
    funding_sign=1.0,  # ccxt's amount is `income`: positive = received
    funding_page=1000,  # GET /fapi/v1/income: limit default 100, max 1000 (weight 30)
)


def wallet_balance(balance: dict, quote: str) -> float | None:
    """walletBalance (not margin balance / equity) of `quote`, from REST or ACCOUNT_UPDATE."""
    info = balance.get("info") or {}
    if isinstance(info, dict):
        for a in info.get("assets") or []:  # REST /fapi/v3/account
            if a.get("asset") == quote:
                return float(a["walletBalance"])
        for a in (info.get("a") or {}).get("B") or []:  # ACCOUNT_UPDATE
            if a.get("a") == quote:
                return float(a["wb"])
    return None


def position_side(p: dict) -> int | None:
    info = p.get("info") or {}
    return side_from_name(info.get("positionSide") or info.get("ps") or p.get("side"))


def order_position_side(o: dict) -> int | None:
    info = o.get("info") or {}
    return side_from_name(info.get("positionSide") or info.get("ps"))


EXTRACT = Extractors(wallet_balance, position_side, order_position_side)
