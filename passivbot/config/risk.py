"""Live-config keys of the bounded-loss rules (auto-unstuck per side, the equity stop at the top
level), their cross-field checks, and the adapters to the arrays `passivbot.risk` takes.

Every key defaults to 0 = off, so configs written before these keys behave exactly as before.
Unstuck is on for a side only when its threshold, close share and loss allowance are all above
0; setting some but not all is an error (a half-set rule would be silently off).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from passivbot.config.schema import FLOAT, INT, Collector, FieldSpec

UNSTUCK_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("unstuck_threshold", "side", FLOAT,
              "auto-unstuck when wallet exposure > this x wallet_exposure_limit (0 = off)",
              default=0.0, lo=0, hi=1, hint="share of wallet_exposure_limit", unit="ratio"),
    FieldSpec("unstuck_close_pct", "side", FLOAT,
              "each unstuck close takes this share of the position (0 = off)",
              default=0.0, lo=0, hi=1, hint="share of the position", unit="ratio"),
    FieldSpec("unstuck_ema_dist", "side", FLOAT,
              "long unstuck close at upper EMA band x (1 + dist), short at lower band x (1 - dist)",
              default=0.0, lo=-0.1, hi=0.5, hint="distance from the EMA band", unit="ratio"),
    FieldSpec("unstuck_loss_allowance_pct", "side", FLOAT,
              "realized unstuck losses of the side total at most this x peak balance (0 = off)",
              default=0.0, lo=0, hi=1, hint="share of the peak balance", unit="ratio"),
)
UNSTUCK_KEYS: tuple[str, ...] = tuple(f.name for f in UNSTUCK_FIELDS)
# Unstuck is on only when all of these are > 0 (unstuck_ema_dist may be 0 or negative).
UNSTUCK_SWITCHES = ("unstuck_threshold", "unstuck_close_pct", "unstuck_loss_allowance_pct")

STOP_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("equity_stop_drawdown", "top", FLOAT,
              "close both positions and stop entering when equity falls this far below its "
              "peak (0 = off)", default=0.0, lo=0, hi=1, hi_incl=False,
              hint="share of the peak equity", unit="ratio"),
    FieldSpec("equity_stop_cooldown_minutes", "top", INT,
              "after the equity stop fires, no entries for this long (0 = until a person "
              "clears the stop)", default=0, lo=0, hi=525_600, hint="minutes, at most a year",
              unit="minutes"),
)
STOP_KEYS: tuple[str, ...] = tuple(f.name for f in STOP_FIELDS)


def check_unstuck(side_name: str, values: dict[str, Any], col: Collector) -> None:
    """All of UNSTUCK_SWITCHES > 0, or all 0: a partly set rule is reported, naming what is
    missing."""
    on = [k for k in UNSTUCK_SWITCHES if values.get(k, 0.0) > 0.0]
    if on and len(on) < len(UNSTUCK_SWITCHES):
        for k in UNSTUCK_SWITCHES:
            if k not in on and k in values:
                col.add(f"{side_name}.{k}", values[k],
                        f"must be > 0 when {', '.join(on)} is set: auto-unstuck needs "
                        f"{', '.join(UNSTUCK_SWITCHES)} all > 0 (or all 0 = off)")


def unstuck_params(side: Any) -> np.ndarray:
    """One side's unstuck keys as float64[N_RISK_PARAMS] (passivbot.risk U_* indices)."""
    from passivbot import risk  # lazy: config stays importable without compiling kernels

    a = np.zeros(risk.N_RISK_PARAMS, dtype=np.float64)
    a[risk.U_THRESHOLD] = side.unstuck_threshold
    a[risk.U_CLOSE_PCT] = side.unstuck_close_pct
    a[risk.U_EMA_DIST] = side.unstuck_ema_dist
    a[risk.U_LOSS_ALLOWANCE_PCT] = side.unstuck_loss_allowance_pct
    return a


def stop_params(cfg: Any) -> np.ndarray:
    """The equity stop's keys as float64[N_STOP_PARAMS] (passivbot.risk S_* indices)."""
    from passivbot import risk

    a = np.zeros(risk.N_STOP_PARAMS, dtype=np.float64)
    a[risk.S_DRAWDOWN] = cfg.equity_stop_drawdown
    a[risk.S_COOLDOWN_MINUTES] = cfg.equity_stop_cooldown_minutes
    return a
