"""Console and log file: a compact status line, a line per fill, everything redacted.

Every record passes a `RedactFilter` (message, args and exception text), so a secret echoed by
ccxt in an error never reaches stdout or `logs/`.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from passivbot.exchanges.errors import Redactor
from passivbot.live.state import BotState
from passivbot.margin import LIQ_NONE, hedged_liq_price_nb
from passivbot.records import LONG, SHORT


class RedactFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = self.redact(msg), None
        return True


def setup_logging(name: str, redact: Redactor, level: str = "INFO",
                  log_dir: str | Path | None = "logs", stream=None) -> tuple[logging.Logger, Path | None]:
    """A logger writing to stdout and `log_dir/<name>-<UTC time>.log` (None: no file)."""
    log = logging.getLogger(f"passivbot.live.{name}.{id(redact)}")
    log.setLevel(level.upper())
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    flt = RedactFilter(redact)
    out = logging.StreamHandler(stream or sys.stdout)
    out.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s", "%H:%M:%S"))
    out.addFilter(flt)
    log.addHandler(out)
    path = None
    if log_dir is not None:
        d = Path(log_dir)
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.log"
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s"))
        fh.addFilter(flt)
        log.addHandler(fh)
    return log, path


def liq_price(state: BotState, brackets: np.ndarray, mmr_add: float) -> float:
    """The hedged account's liquidation price (0 when none)."""
    lp, direction = hedged_liq_price_nb(state.balance, state.psize[0], state.pprice[0],
                                        state.psize[1], state.pprice[1], brackets, mmr_add)
    return 0.0 if direction == LIQ_NONE else float(lp)


def status_line(state: BotState, brackets: np.ndarray, mmr_add: float, view=None) -> str:
    """`price | L size@pprice we | S size@pprice we | liq (distance) | orders with prices |
    balance, equity, unrealized and session realized PnL`; with a `live.view.LiveView`, the
    market time in paper mode and "DISCONNECTED since HH:MM:SS" instead of a stale price."""
    parts = []
    if view is not None and view.mode == "paper":
        parts.append(f"market {time.strftime('%m-%d %H:%M', time.gmtime(view.market_ms() / 1000))}")
    parts.append(view.price_text() if view is not None else f"price {state.last_price:g}")
    bal = state.balance
    for j, name in enumerate(("L", "S")):
        we = state.psize[j] * state.pprice[j] / bal if bal > 0 else 0.0
        parts.append(f"{name} {state.psize[j]:g}@{state.pprice[j]:.6g} we {we:.3f}")
    if view is not None:
        parts.append(view.liq_text())
    else:
        lp = liq_price(state, brackets, mmr_add)
        parts.append(f"liq {lp:.6g}" if lp > 0 else "liq -")
    parts.append("orders " + orders_text(state))
    parts.append(view.pnl_text() if view is not None else f"balance {bal:.2f}")
    return " | ".join(parts)


def orders_text(state: BotState) -> str:
    """Per side, the entry and close nearest the market with how many more rest behind
    them: `L buy 1762.92 (+6) sell 1806.84 (+3) S -` (the summary lists every order)."""
    out = []
    for side, name in ((LONG, "L"), (SHORT, "S")):
        mine = [o for o in state.open_orders.values() if o.side == side]
        if not mine:
            out.append(f"{name} -")
            continue
        buys = sorted((o.price for o in mine if o.is_buy), reverse=True)
        sells = sorted(o.price for o in mine if not o.is_buy)
        txt = " ".join(f"{k} {ps[0]:g}{f' (+{len(ps) - 1})' if len(ps) > 1 else ''}"
                       for k, ps in (("buy", buys), ("sell", sells)) if ps)
        out.append(f"{name} {txt}")
    return " ".join(out)


def fill_line(side: str, action: str, qty: float, price: float, fee: float | None) -> str:
    fee_s = f" fee {fee:.4f}" if fee is not None else ""
    return f"FILL {side} {action} {qty:g} @ {price:g}{fee_s}"
