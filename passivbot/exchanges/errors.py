"""The one place ccxt exceptions become decisions: RETRY, SKIP, RECONCILE, STOP or IGNORE.

The live bot never inspects a ccxt exception anywhere else; it asks `classify(exc, op)` what
to do and acts on the answer:

- RETRY: transient (network, timeout, 429/418, 5xx): back off and try again (passivbot.retry).
- RESYNC: the request's timestamp was refused (Binance -1021, Bybit 10002; ccxt InvalidNonce):
  measure the server time again, then retry; if it persists, stop (the clock is broken).
- SKIP: this one order cannot be placed now (insufficient margin, position or leverage limits
  -2027/-2028, an invalid order or client id -4015): drop it for this cycle; the next cycle
  recomputes it (with backoff).
- CROSSED: a post-only entry would have taken liquidity (Binance -5022; Bybit accepts it and
  cancels it with `EC_PostOnlyWillTakeLiquidity`, seen in the order stream): hold that entry
  with backoff, the market moves on.
- RECONCILE: our picture of the exchange is wrong (an order filled while we cancelled it, a
  retried create whose client id already exists): refresh state from REST, then decide again.
- STOP: nothing the bot can do heals it (bad keys, no permission, suspended account, unknown
  symbol): stop cleanly and tell the human.
- IGNORE: the exchange says the requested setting is already in place (hedge mode, leverage).

`redact()` removes secrets from any text before it is printed or logged: ccxt puts response
bodies (and, with verbose on, request dumps) in exception messages.
"""

from __future__ import annotations

import enum
import re

import ccxt


class Action(enum.Enum):
    RETRY = "retry"
    RESYNC = "resync"
    SKIP = "skip"
    CROSSED = "crossed"
    RECONCILE = "reconcile"
    STOP = "stop"
    IGNORE = "ignore"


class StopError(Exception):
    """Raised by the bot for a STOP-class error; the CLI prints it (redacted) and exits 1."""


# Exchange error codes that mean "already so" (setting hedge mode or leverage twice) and
# "client order id already used" (a retried create that had in fact reached the exchange).
NO_CHANGE_CODES = ("-4059", "-4046", "110025", "110043", "34036")
DUPLICATE_ID_CODES = ("-4116", "110072")
# "This order cannot be placed now": invalid client id (-4015, a bug of ours, never a
# duplicate), max position at this leverage (-2027), margin too small for the leverage (-2028),
# Bybit's "not enough for new order" (110007). Each skips the one order; none needs a
# reconcile (ccxt maps -2027/-2028 to OperationRejected, which would reconcile every cycle).
SKIP_CODES = ("-4015", "-2027", "-2028", "110007")
POST_ONLY_CODES = ("-5022",)  # Binance: "the Post Only order will be rejected"

_STOP = (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended,
         ccxt.AccountNotEnabled, ccxt.BadSymbol)


def _has_code(exc: BaseException, codes: tuple[str, ...]) -> bool:
    text = str(exc)
    return any(f'"code": {c}' in text or f'"code":{c}' in text or f'"retCode": {c}' in text
               or f'"retCode":{c}' in text for c in codes)


def is_duplicate_client_id(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.ExchangeError) and _has_code(exc, DUPLICATE_ID_CODES)


def classify(exc: BaseException, op: str) -> Action:
    """What to do about `exc` raised by operation `op` ("create", "cancel", "setup", "fetch").

    Non-ccxt exceptions are bugs: they are not classified (the caller re-raises them).
    Order of the checks matters: ccxt's classes nest (OrderNotFound is an InvalidOrder,
    InsufficientFunds and BadSymbol are ExchangeErrors, RateLimitExceeded a NetworkError).
    """
    if not isinstance(exc, ccxt.BaseError):
        raise TypeError(f"not a ccxt error: {type(exc).__name__}")
    if op == "create" and isinstance(exc, ccxt.ExchangeError):
        if _has_code(exc, POST_ONLY_CODES) or isinstance(exc, ccxt.OrderImmediatelyFillable):
            return Action.CROSSED
        if _has_code(exc, SKIP_CODES):
            return Action.SKIP
    if isinstance(exc, _STOP):
        return Action.STOP
    if isinstance(exc, ccxt.NoChange) or (op == "setup" and _has_code(exc, NO_CHANGE_CODES)):
        return Action.IGNORE
    if isinstance(exc, ccxt.InvalidNonce):
        return Action.RESYNC
    if isinstance(exc, ccxt.NetworkError):
        return Action.RETRY
    if isinstance(exc, ccxt.OrderNotFound):
        # Cancel of an order that is no longer open: it filled (or was cancelled) meanwhile.
        return Action.RECONCILE
    if is_duplicate_client_id(exc):
        return Action.RECONCILE
    if isinstance(exc, ccxt.InsufficientFunds):
        return Action.SKIP
    if isinstance(exc, (ccxt.OrderImmediatelyFillable, ccxt.OrderNotFillable, ccxt.InvalidOrder)):
        return Action.SKIP if op == "create" else Action.RECONCILE
    if op == "setup":
        return Action.STOP
    return Action.RECONCILE


# Things that look like credentials in URLs, headers and bodies ccxt may echo.
_PATTERNS = (
    re.compile(r"(signature=)[0-9a-fA-F]+"),
    re.compile(r"(listenKey=)[A-Za-z0-9]+"),  # a user-stream session credential
    re.compile(r"(sign[\"']?\s*[:=]\s*[\"']?)[0-9a-fA-F]{16,}"),
    re.compile(r"((?:X-MBX-APIKEY|X-BAPI-API-KEY|X-BAPI-SIGN|apiKey|api_key|secret)"
               r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.IGNORECASE),
)


class Redactor:
    """Replaces registered secrets (and signature-like fields) with *** in any text."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self.secrets: list[str] = []
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # Short placeholders ("key", "x") would mangle ordinary words; real keys are long.
        if secret and len(secret) >= 6 and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        for p in _PATTERNS:
            text = p.sub(r"\1***", text)
        return text


def describe(exc: BaseException, redact: Redactor) -> str:
    """`ClassName: message`, redacted and shortened, for logs and console lines."""
    msg = redact(str(exc))
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return f"{type(exc).__name__}: {msg}"
