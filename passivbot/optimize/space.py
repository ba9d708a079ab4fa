"""The search space: the backtest config's `optimize.bounds` as dimensions of the unit cube the
samplers search in, and the mapping between a point, a trial's params and a live config dict.

Param names are the bound keys ("leverage", "long.ema_span_0", ...). Keys without a bound keep
the value of the base (first starting) config, so every candidate is a complete live config.
A point is a row of floats in [0, 1], one per dimension; `decode` maps it to params:
continuous keys linearly onto [lo, hi]; stepped keys (a bound with a step, and the integer
schema keys leverage and n_close_orders) onto [lo - step/2, hi + step/2] and then to the
nearest grid value lo + k * step, so every grid value gets an equal share of the cube (as
Optuna's transform does). Samplers work on points only; decoding happens in the workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from passivbot.config import Bound, LiveConfig, live_config_to_dict
from passivbot.config.live import SIDE_FIELDS, TOP_FIELDS
from passivbot.config.schema import INT


def _spec(name: str):
    if "." in name:
        return SIDE_FIELDS[name.split(".", 1)[1]]
    return TOP_FIELDS[name]


@dataclass(frozen=True)
class Dim:
    """One searched key: [lo, hi], `step` (None: continuous), `is_int` (integer schema key)."""

    name: str
    lo: float
    hi: float
    step: float | None = None
    is_int: bool = False

    @classmethod
    def of(cls, name: str, b: Bound) -> "Dim":
        """The dimension of one bound; integer schema keys on an integer step (1 by default),
        a stepped bound's hi moved down onto the grid."""
        if _spec(name).kind == INT:
            step = max(1, int(round(b.step))) if b.step else 1
            lo, hi = int(math.ceil(b.lo)), int(math.floor(b.hi))
            return cls(name, lo, max(lo, lo + (hi - lo) // step * step), step, True)
        if b.step:
            n = math.floor((b.hi - b.lo) / b.step + 1e-9)
            hi = b.lo + n * b.step
            hi = b.hi if abs(hi - b.hi) <= 1e-9 * b.step else hi  # keep the user's hi on the grid
            return cls(name, b.lo, hi, b.step)
        return cls(name, b.lo, b.hi)

    @property
    def single(self) -> bool:
        return self.hi <= self.lo

    @property
    def span(self) -> tuple[float, float]:
        """The interval [0, 1] maps onto (widened by half a step each side when stepped)."""
        h = (self.step or 0.0) / 2
        return self.lo - h, self.hi + h

    def snap(self, v: float) -> float | int:
        """v clipped into [lo, hi] and, when stepped, onto the nearest grid value."""
        x = min(max(v, self.lo), self.hi)
        if self.step:
            x = min(max(self.lo + round((x - self.lo) / self.step) * self.step, self.lo), self.hi)
        return int(round(x)) if self.is_int else float(x)


@dataclass(frozen=True)
class SearchSpace:
    """Searched dimensions (sorted by name) plus the base live config dict candidates are
    built on."""

    dims: tuple[Dim, ...]
    base: dict[str, Any]

    @classmethod
    def build(cls, bounds: dict[str, Bound], base: LiveConfig) -> "SearchSpace":
        """A bound with lo == hi is no dimension: it is written into the base."""
        dims = [Dim.of(k, b) for k, b in sorted(bounds.items())]
        fixed = {d.name: d.snap(d.lo) for d in dims if d.single}
        space = cls(tuple(d for d in dims if not d.single), live_config_to_dict(base))
        return cls(space.dims, space.candidate(fixed))

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def decode(self, points: np.ndarray) -> list[dict[str, Any]]:
        """Params of each point (rows in [0, 1], one column per dimension)."""
        pts = np.clip(np.asarray(points, dtype=np.float64).reshape(-1, len(self.dims)), 0, 1)
        cols = []
        for j, d in enumerate(self.dims):
            a, b = d.span
            v = a + pts[:, j] * (b - a)
            if d.step:
                v = d.lo + np.round((v - d.lo) / d.step) * d.step
            v = np.clip(v, d.lo, d.hi)
            cols.append(v.round().astype(np.int64).tolist() if d.is_int else v.tolist())
        names = self.names
        return [dict(zip(names, row)) for row in zip(*cols)] if cols else [{} for _ in pts]

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        """The point of params (each value's position in its dimension's span)."""
        out = np.empty(len(self.dims))
        for j, d in enumerate(self.dims):
            a, b = d.span
            out[j] = (params[d.name] - a) / (b - a) if b > a else 0.5
        return np.clip(out, 0.0, 1.0)

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
        for dim in self.dims:
            k = dim.name
            v = d[k.split(".", 1)[0]][k.split(".", 1)[1]] if "." in k else d[k]
            p = dim.snap(v)
            if not math.isclose(p, v, rel_tol=1e-12, abs_tol=1e-15):
                moved.append(k)
            out[k] = p
        return out, moved

    def optuna_distributions(self) -> dict[str, Any]:
        """The dimensions as Optuna distributions (the TPE sampler asks with these)."""
        from optuna.distributions import FloatDistribution, IntDistribution

        return {d.name: (IntDistribution(int(d.lo), int(d.hi), step=int(d.step or 1))
                         if d.is_int else FloatDistribution(d.lo, d.hi, step=d.step))
                for d in self.dims}
