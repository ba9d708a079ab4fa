"""The bot's journal: one JSON object per line, appended as things happen, read back by
`python3 -m passivbot.report`. A leaf (standard library only) so the live bot can import it.

Line types (`"type"`), all times in ms since the epoch (exchange time), money in quote:

- `session`: written at every (re)start: `v` (format version, 1), `ts_ms`, `exchange`,
  `symbol`, `mode` ("live" | "testnet" | "paper"), `balance` (wallet balance at start),
  `maker_fee`, `taker_fee` (rates), `config` (the live config as `live_config_to_dict` prints
  it: no secrets).
- `fill`: `ts_ms`, `side` ("long" | "short"), `kind` ("initial_entry" | "reentry" | "close" |
  "liquidation"), `qty` (> 0, base), `price`, `fee` (paid, quote), `pnl` (realized, before
  fee), `psize`, `pprice` (the position after the fill), `balance` (wallet after the fill),
  `maker` (true/false), `order_id`.
- `equity`: a periodic sample (once a minute is plenty): `ts_ms`, `balance`, `equity`,
  `price`, `psize_long`, `pprice_long`, `psize_short`, `pprice_short`, `liq_price` (0 = none).
- `funding`: one funding settlement on one position (live/funding.py), written when the bot
  reads it (hourly, and at a restart for what settled while it was down): `ts_ms` (the
  settlement's time), `side` ("long" | "short" | "" unknown), `amount` (received positive, paid
  negative: the backtest's funding row `pnl`), `rate` (the funding rate, 0 unknown), `price`
  (the mark or last price used, 0 unknown), `psize` (the position charged, 0 unknown), `balance`
  (wallet when read), `id` (the venue's row id), `symbol` (exchange id).
- anything else (`error`, `stop`, ...) is kept in the file and ignored by the report.

Each line is written with one `write` on a file opened for appending and flushed, so a crash
loses at most the line being written; the reader skips a truncated last line.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TextIO

from passivbot.records import KIND_NAMES

JOURNAL_VERSION = 1
SIDES = ("long", "short")
# The fill kinds, named and indexed as the backtest's (records.KIND_NAMES): a journal fill of kind
# k becomes a fill_dt row of kind KINDS.index(k).
KINDS = KIND_NAMES
FILL_KEYS = ("ts_ms", "side", "kind", "qty", "price", "fee", "pnl", "psize", "pprice",
             "balance", "maker")
EQUITY_KEYS = ("ts_ms", "balance", "equity", "price", "psize_long", "pprice_long",
               "psize_short", "pprice_short", "liq_price")
FUNDING_KEYS = ("ts_ms", "side", "amount", "rate", "price", "psize", "balance")
SESSION_KEYS = ("ts_ms", "exchange", "symbol", "mode", "balance", "maker_fee", "taker_fee",
                "config")


class JournalWriter:
    """Append-only writer; one instance per bot run. `close()` at shutdown."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: TextIO | None = open(self.path, "a", encoding="utf-8")

    def _write(self, obj: dict[str, Any]) -> None:
        if self._f is None:
            raise ValueError(f"journal {self.path} is closed")
        self._f.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
        self._f.flush()

    def session(self, ts_ms: int, exchange: str, symbol: str, mode: str, balance: float,
                maker_fee: float, taker_fee: float, config: dict[str, Any]) -> None:
        self._write({"type": "session", "v": JOURNAL_VERSION, "ts_ms": int(ts_ms),
                     "exchange": exchange, "symbol": symbol, "mode": mode,
                     "balance": float(balance), "maker_fee": float(maker_fee),
                     "taker_fee": float(taker_fee), "config": config})

    def fill(self, ts_ms: int, side: str, kind: str, qty: float, price: float, fee: float,
             pnl: float, psize: float, pprice: float, balance: float, maker: bool,
             order_id: str = "") -> None:
        if side not in SIDES or kind not in KINDS:
            raise ValueError(f"journal fill: side {side!r} / kind {kind!r} not one of "
                             f"{SIDES} / {KINDS}")
        self._write({"type": "fill", "ts_ms": int(ts_ms), "side": side, "kind": kind,
                     "qty": float(qty), "price": float(price), "fee": float(fee),
                     "pnl": float(pnl), "psize": float(psize), "pprice": float(pprice),
                     "balance": float(balance), "maker": bool(maker),
                     "order_id": str(order_id)})

    def equity(self, ts_ms: int, balance: float, equity: float, price: float,
               psize_long: float, pprice_long: float, psize_short: float, pprice_short: float,
               liq_price: float = 0.0) -> None:
        vals = (balance, equity, price, psize_long, pprice_long, psize_short, pprice_short,
                liq_price)
        self._write({"type": "equity", "ts_ms": int(ts_ms),
                     **{k: float(v) for k, v in zip(EQUITY_KEYS[1:], vals)}})

    def funding(self, ts_ms: int, side: str, amount: float, rate: float, price: float,
                psize: float, balance: float, fid: str = "", symbol: str = "") -> None:
        if side not in SIDES + ("",):
            raise ValueError(f"journal funding: side {side!r} not one of {SIDES} or ''")
        self._write({"type": "funding", "ts_ms": int(ts_ms), "side": side,
                     "amount": float(amount), "rate": float(rate), "price": float(price),
                     "psize": float(psize), "balance": float(balance), "id": str(fid),
                     "symbol": str(symbol)})

    def event(self, kind: str, ts_ms: int, **fields: Any) -> None:
        """Any other line (`error`, `stop`, ...): kept for the reader, ignored by the report."""
        self._write({"type": kind, "ts_ms": int(ts_ms), **fields})

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None


class JournalError(ValueError):
    """A journal line that cannot be used; the message names the file and the line."""


def _check(obj: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise JournalError(f"{where}: {obj.get('type')} line lacks {', '.join(missing)}")
    for k in keys:
        v = obj[k]
        if k in ("side", "kind", "exchange", "symbol", "mode", "config", "maker"):
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise JournalError(f"{where}: {k} must be a finite number, got {str(v)[:40]!r}")
    if obj["type"] == "fill":
        if obj["side"] not in SIDES or obj["kind"] not in KINDS:
            raise JournalError(f"{where}: side/kind must be one of {SIDES} / {KINDS}")
    if obj["type"] == "funding" and obj["side"] not in SIDES + ("",):
        raise JournalError(f"{where}: funding side must be one of {SIDES} or ''")


def read_journal(path: str | Path) -> dict[str, list[dict]]:
    """{"session": [...], "fill": [...], "equity": [...], "funding": [...]} in file order,
    each checked.

    JournalError (with file and line number) for a line that is not a JSON object or lacks a
    field; a truncated last line (a crash while writing) is skipped.
    """
    p = Path(path)
    out: dict[str, list[dict]] = {"session": [], "fill": [], "equity": [], "funding": []}
    lines = p.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p} line {i}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            if i == len(lines):
                break  # the bot died mid-write: the rest of the journal is good
            raise JournalError(f"{where}: not a JSON object") from None
        if not isinstance(obj, dict):
            raise JournalError(f"{where}: not a JSON object")
        kind = obj.get("type")
        keys = {"session": SESSION_KEYS, "fill": FILL_KEYS, "equity": EQUITY_KEYS,
                "funding": FUNDING_KEYS}.get(kind)
        if keys is None:
            continue
        _check(obj, keys, where)
        out[kind].append(obj)
    if not out["session"]:
        raise JournalError(f"{p}: no session line (is this a passivbot journal?)")
    return out
