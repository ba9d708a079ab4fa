"""Optional live-config sections for what the bot serves around trading: `alerts` (webhook
notifications) and `status_page` (a read-only web page). Absent = off.

`alerts.url` may hold a secret (Telegram's bot API puts the bot token in the path), so it is
never printed: `redact_url` keeps only the scheme and host, and a redacted URL read back (a
config copied from a printout) validates but turns alerts off with a warning. The status page's
token is never in the config: it is read from the environment variable named by
`status_page.token_env` when the bot starts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from passivbot.config.schema import (
    CHOICE, FLOAT, INT, LIST, STR, Collector, FieldSpec, check_object,
)

ALERT_EVENTS = ("fills", "stops", "errors", "disconnections")
REDACTED = "<redacted>"

ALERTS_FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    FieldSpec("url", "alerts", STR, "webhook URL the bot POSTs to (https; http only to "
              "127.0.0.1/localhost); may hold a token, never printed"),
    FieldSpec("format", "alerts", CHOICE, "json = {event, text, ...}; telegram = Telegram bot "
              "API sendMessage body {chat_id, text}", default="json",
              choices=("json", "telegram")),
    FieldSpec("chat_id", "alerts", STR, "Telegram chat id (format telegram)", default=""),
    FieldSpec("events", "alerts", LIST, "events to send, any of " + ", ".join(ALERT_EVENTS),
              default=list(ALERT_EVENTS)),
    FieldSpec("min_interval_s", "alerts", FLOAT, "at most one message per this many seconds; "
              "events in between are sent together in the next one", default=10.0,
              lo=0, hi=3600, unit="s"),
    FieldSpec("timeout_s", "alerts", FLOAT, "HTTP timeout per message", default=10.0,
              lo=0.1, hi=120, unit="s"),
)}

STATUS_PAGE_FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    FieldSpec("port", "status_page", INT, "TCP port of the read-only status page", lo=1,
              hi=65535),
    FieldSpec("host", "status_page", STR, "address to bind; anything but loopback needs a "
              "token", default="127.0.0.1"),
    FieldSpec("token_env", "status_page", STR, "environment variable holding the page's "
              "access token (optional on loopback)", default="PASSIVBOT_STATUS_TOKEN",
              pattern=r"[A-Za-z_][A-Za-z0-9_]{0,63}", hint="an environment variable name"),
)}


@dataclass(frozen=True)
class AlertsConfig:
    """Webhook alerts. `enabled` is False only for a redacted URL read back from a printout."""

    url: str
    format: str
    chat_id: str
    events: tuple[str, ...]
    min_interval_s: float
    timeout_s: float

    @property
    def enabled(self) -> bool:
        return REDACTED not in self.url

    def __repr__(self) -> str:  # a repr in a log or traceback must not carry the URL
        return (f"AlertsConfig(url={redact_url(self.url)!r}, format={self.format!r}, "
                f"events={self.events!r}, min_interval_s={self.min_interval_s!r})")


@dataclass(frozen=True)
class StatusPageConfig:
    port: int
    host: str
    token_env: str


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """`scheme://host[:port]/<redacted>`: everything that may hold a token (user info, path,
    query, fragment) is dropped. Unparseable input gives just the marker."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    return f"{parts.scheme}://{host}{port}/{REDACTED}"


def _check_url(url: str, col: Collector) -> None:
    if REDACTED in url:
        return  # a redacted copy: valid, alerts off (config_warnings says so)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        col.add("alerts.url", redact_url(url), "not a valid URL")
        return
    if parts.scheme not in ("https", "http") or not host:
        col.add("alerts.url", redact_url(url), "must be an https:// URL with a host")
    elif parts.scheme == "http" and not is_loopback(host):
        col.add("alerts.url", redact_url(url), "must be https:// (the URL may hold a token; "
                "plain http is allowed only to 127.0.0.1 / localhost)")


def check_alerts(value: Any, col: Collector) -> AlertsConfig | None:
    """Validate the `alerts` object into `col`; the config when valid."""
    n = len(col.issues)
    got = check_object(value, ALERTS_FIELDS, "alerts.", col)
    if got is None:
        return None
    if "url" in got:
        _check_url(got["url"], col)
    events = got.get("events")
    if isinstance(events, list):
        bad = [e for e in events if e not in ALERT_EVENTS]
        if bad or not events:
            col.add("alerts.events", events, "must be a non-empty list of "
                    + ", ".join(repr(e) for e in ALERT_EVENTS))
    if got.get("format") == "telegram" and not got.get("chat_id"):
        col.add("alerts.chat_id", got.get("chat_id", ""), "required when format is 'telegram' "
                "(the chat the bot writes to; ask @userinfobot or read getUpdates)")
    if len(col.issues) > n:
        return None
    return AlertsConfig(url=got["url"], format=got["format"], chat_id=got["chat_id"],
                        events=tuple(dict.fromkeys(got["events"])),
                        min_interval_s=got["min_interval_s"], timeout_s=got["timeout_s"])


def check_status_page(value: Any, col: Collector) -> StatusPageConfig | None:
    """Validate the `status_page` object into `col`; the config when valid."""
    n = len(col.issues)
    got = check_object(value, STATUS_PAGE_FIELDS, "status_page.", col)
    if got is None or len(col.issues) > n:
        return None
    return StatusPageConfig(port=got["port"], host=got["host"], token_env=got["token_env"])


def alerts_to_dict(a: AlertsConfig, *, reveal: bool = False) -> dict[str, Any]:
    """JSON-ready; the URL redacted unless `reveal` (only for writing the user's own file)."""
    return {"url": a.url if reveal else redact_url(a.url), "format": a.format,
            "chat_id": a.chat_id, "events": list(a.events), "min_interval_s": a.min_interval_s,
            "timeout_s": a.timeout_s}


def status_page_to_dict(s: StatusPageConfig) -> dict[str, Any]:
    return {"port": s.port, "host": s.host, "token_env": s.token_env}
