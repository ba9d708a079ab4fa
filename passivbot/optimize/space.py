"""The search space: the backtest config's `optimize.bounds` as Optuna distributions, and the
mapping between a trial's params and a full live config dict.

Param names are the bound keys ("leverage", "long.ema_span_0", ...). Keys without a bound keep
the value of the base (first starting) config, so every candidate is a complete live config.
Integer schema keys (leverage, n_close_orders) become IntDistribution; a bound with a step is
sampled on that step (Optuna snaps to lo + k * step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from passivbot.config import Bound, LiveConfig, live_config_to_dict
from passivbot.config.live import SIDE_FIELDS, TOP_FIELDS
from passivbot.config.schema import INT


def _spec(name: str):
    if "." in name:
        return SIDE_FIELDS[name.split(".", 1)[1]]
    return TOP_FIELDS[name]


def distribution(name: str, b: Bound) -> BaseDistribution:
    """Optuna distribution of one bound; ints for integer schema keys, step when given."""
    if _spec(name).kind == INT:
        step = max(1, int(round(b.step))) if b.step else 1
        lo, hi = int(math.ceil(b.lo)), int(math.floor(b.hi))
        hi = lo + (hi - lo) // step * step
        return IntDistribution(lo, max(lo, hi), step=step)
    if b.step:
        n = math.floor((b.hi - b.lo) / b.step + 1e-9)
        hi = b.lo + n * b.step
        hi = b.hi if abs(hi - b.hi) <= 1e-9 * b.step else hi  # keep the user's hi if on the grid
        return FloatDistribution(b.lo, hi, step=b.step)
    return FloatDistribution(b.lo, b.hi)


@dataclass(frozen=True)
class SearchSpace:
    """Distributions per param name plus the base live config dict candidates are built on."""

    distributions: dict[str, BaseDistribution]
    base: dict[str, Any]

    @classmethod
    def build(cls, bounds: dict[str, Bound], base: LiveConfig) -> "SearchSpace":
        """A bound with lo == hi is no dimension: it is written into the base (each suggested
        param costs the sampler time, and CMA-ES ignores single values anyway)."""
        dists = {k: distribution(k, b) for k, b in sorted(bounds.items())}
        fixed = {k: d.low for k, d in dists.items() if d.single()}
        space = cls({k: d for k, d in dists.items() if k not in fixed}, live_config_to_dict(base))
        return cls(space.distributions, space.candidate(fixed))

    def candidate(self, params: dict[str, Any]) -> dict[str, Any]:
        """The full live config dict for a trial's params (not validated here: the worker
        validates, so an invalid combination is a failed trial, not a crash)."""
        d = {**self.base, "long": dict(self.base["long"]), "short": dict(self.base["short"])}
        for k, v in params.items():
            if "." in k:
                side, key = k.split(".", 1)
                d[side][key] = int(v) if SIDE_FIELDS[key].kind == INT else float(v)
            else:
                d[k] = int(v) if TOP_FIELDS[k].kind == INT else float(v)
        return d

    def params_of(self, cfg: LiveConfig) -> tuple[dict[str, Any], list[str]]:
        """A live config's values as params, projected into the bounds (and onto the step);
        also the names that had to be moved, so the caller can warn."""
        d = live_config_to_dict(cfg)
        out: dict[str, Any] = {}
        moved: list[str] = []
        for k, dist in self.distributions.items():
            v = d[k.split(".", 1)[0]][k.split(".", 1)[1]] if "." in k else d[k]
            p = _project(v, dist)
            if not math.isclose(p, v, rel_tol=1e-12, abs_tol=1e-15):
                moved.append(k)
            out[k] = p
        return out, moved


def _project(v: float, dist: BaseDistribution) -> float | int:
    lo, hi, step = dist.low, dist.high, dist.step  # type: ignore[attr-defined]
    x = min(max(v, lo), hi)
    if step:
        x = lo + round((x - lo) / step) * step
        x = min(max(x, lo), hi)
    return int(round(x)) if isinstance(dist, IntDistribution) else float(x)
