"""The objective: average daily gain, penalized when a risk constraint is broken, optionally
over k contiguous time folds; and the worker-side evaluation of a batch of candidates.

Workers hold one `EvalContext` (candles, market arrays, funding events, fees, constraints)
installed once per worker (process pool initializer, or one Dask scatter), so a task carries
only a few small candidate dicts, never the candles.

A candidate is backtested with the engine arguments of the single backtest
(`passivbot.backtest.runner.engine_kwargs`: its leverage, the symbol's funding, the EMA warm-up),
so the best config's report re-backtests to the stats it was scored on.

Score of one backtest: `average_daily_gain` when every constraint holds; otherwise
`average_daily_gain - PENALTY_OFFSET - sum(relative violations)`. The offset puts any broken
candidate below any valid one that has not lost most of its equity (gain > -1 always), and the
relative violation (how far past the threshold, as a fraction of it) still tells the sampler
which broken candidate is nearer to valid. A liquidation is a violation of size 1 on top.
The bounded-loss constraints (a maximum loss): `max_unstuck_loss` caps the realized losses of
unstuck closes as a share of the starting balance, `max_equity_stops` how often the equity stop
may fire (-1 = any number); `max_drawdown` caps the deepest fall from the peak, which the stop
itself bounds.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from passivbot.config import Constraints, live_config_from_dict, side_params
from passivbot.config.risk import stop_params, unstuck_params
from passivbot.errors import ConfigError
from passivbot.optimize.space import SearchSpace

if TYPE_CHECKING:  # the runner imports the engine (numba): only in the workers, when evaluating
    from passivbot.backtest.runner import Funding

PENALTY_OFFSET = 1.0
INVALID_SCORE = -10.0  # a candidate that is not a valid live config (e.g. exposure > leverage)
DEFAULT_EVALUATOR = "passivbot.optimize.objective:backtest_stats"


@dataclass(frozen=True)
class MarketData:
    """One symbol's candles, market arrays (engine conventions: passivbot.backtest.engine) and
    funding events over the candles' span (None: none modelled, e.g. synthetic candles)."""

    symbol: str
    candles: np.ndarray
    market: np.ndarray
    brackets: np.ndarray
    mmr_add: float
    funding: "Funding | None" = None


@dataclass(frozen=True)
class EvalContext:
    """Everything a worker needs besides the candidates; sent once per worker. A candidate is
    backtested on every market (symbol) and every fold of each, and scored by combining the
    folds (`fold_score`), then the symbols (`symbol_score`)."""

    markets: tuple[MarketData, ...]
    starting_balance: float
    maker_fee: float
    taker_fee: float
    constraints: Constraints
    space: SearchSpace | None = None  # decodes the samplers' points (space.py)
    n_folds: int = 1
    fold_score: str = "worst"
    symbol_score: str = "mean"
    multi_objective: bool = False
    # "module:function(ctx, m, long, short, candles, leverage, risk) -> stats"
    evaluator: str = DEFAULT_EVALUATOR
    warmup: dict | None = None  # a live config dict run once at worker start (JIT cache load)
    # one_wallet: the backtest config; every candidate is then ONE multi-symbol backtest of all
    # the markets on one wallet (passivbot.backtest.multi_runner), scored on the account
    one_wallet: Any = None

    @property
    def candles(self) -> np.ndarray:
        """The first market's candles (single-symbol callers)."""
        return self.markets[0].candles


Risk = tuple[np.ndarray, np.ndarray, np.ndarray]  # (long unstuck, short unstuck, equity stop)


def risk_arrays(cfg: Any) -> Risk:
    """The bounded-loss rules of a live config as the engine's arrays (passivbot.config.risk);
    all zeros = off, which `engine.run_backtest` passes to the kernel as None, so a candidate
    without the rules runs the kernel compiled without them (same speed as before)."""
    return unstuck_params(cfg.long), unstuck_params(cfg.short), stop_params(cfg)


def backtest_stats(ctx: EvalContext, m: MarketData, long_p: np.ndarray, short_p: np.ndarray,
                   candles: np.ndarray, leverage: float, risk: Risk | None = None
                   ) -> dict[str, float]:
    """The real evaluator: engine + stats from the backtester (imported in the worker), with
    the single backtest's engine arguments (`runner.engine_kwargs`): initial margin at
    `leverage`, the symbol's funding (events outside `candles`, e.g. another fold's, are not
    charged), the EMA warm-up for `candles`' length, and the bounded-loss rules `risk`
    (`risk_arrays`; None = off), as `runner.backtest_live_config` passes them."""
    from passivbot.backtest.engine import run_backtest
    from passivbot.backtest.runner import NO_FUNDING, engine_kwargs
    from passivbot.backtest.stats import compute_stats

    lr, sr, stop = risk if risk is not None else (None, None, None)
    fills, equity, summary = run_backtest(
        candles, long_p, short_p, m.market, m.brackets, ctx.starting_balance,
        ctx.maker_fee, ctx.taker_fee, m.mmr_add,
        **engine_kwargs(long_p, short_p, leverage, len(candles),
                        m.funding if m.funding is not None else NO_FUNDING),
        long_risk=lr, short_risk=sr, stop_params=stop)
    return compute_stats(fills, equity, summary, candles, ctx.starting_balance)


def violations(stats: dict[str, float], c: Constraints) -> dict[str, float]:
    """Broken constraints and by how much, relative to the threshold (> 0 means broken)."""
    out: dict[str, float] = {}

    def below(name: str, value: float, lo: float) -> None:
        if value < lo:
            out[name] = (lo - value) / max(lo, 1e-12)

    def above(name: str, value: float, hi: float) -> None:
        if value > hi:
            out[name] = (value - hi) / max(hi, 1e-12)

    below("min_liquidation_distance", stats["closest_liquidation_distance"],
          c.min_liquidation_distance)
    above("max_hours_stuck", stats["max_hours_stuck"], c.max_hours_stuck)
    above("max_drawdown", stats["max_drawdown"], c.max_drawdown)
    below("min_daily_fills", stats["fills_per_day"], c.min_daily_fills)
    if c.max_equity_stops >= 0 and stats.get("n_equity_stops", 0.0) > c.max_equity_stops:
        # a count: relative to max(limit, 1), so a limit of 0 is not an infinite violation
        out["max_equity_stops"] = ((stats["n_equity_stops"] - c.max_equity_stops)
                                   / max(c.max_equity_stops, 1))
    if stats.get("unstuck_loss", 0.0) > 0.0 and stats["final_equity"] > 0.0:
        # realized unstuck losses / starting balance (= final equity / (1 + gain))
        above("max_unstuck_loss",
              stats["unstuck_loss"] * (1.0 + stats["gain"]) / stats["final_equity"],
              c.max_unstuck_loss)
    if stats.get("liquidated", 0.0) > 0:
        out["liquidated"] = 1.0
    return out


def score(stats: dict[str, float], c: Constraints) -> float:
    """Average daily gain, minus the penalty when a constraint is broken (module docstring)."""
    v = violations(stats, c)
    adg = float(stats["average_daily_gain"])
    return adg if not v else adg - PENALTY_OFFSET - sum(v.values())


def fold_slices(n: int, k: int) -> list[slice]:
    """k contiguous, nearly equal slices covering range(n)."""
    edges = np.linspace(0, n, k + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def combine(fold_stats: list[dict[str, float]], fold_scores: list[float], how: str
            ) -> tuple[float, dict[str, float]]:
    """(score, stats) over folds: worst -> the worst fold's score and stats; mean -> means."""
    if len(fold_stats) == 1:
        return fold_scores[0], fold_stats[0]
    if how == "worst":
        i = int(np.argmin(fold_scores))
        return fold_scores[i], fold_stats[i]
    keys = fold_stats[0].keys()
    return float(np.mean(fold_scores)), {k: float(np.mean([s[k] for s in fold_stats]))
                                         for k in keys}


def resolve(evaluator: str) -> Callable[..., dict[str, float]]:
    mod, fn = evaluator.split(":")
    return getattr(importlib.import_module(mod), fn)


def combine_symbols(per_symbol: list[tuple[float, dict[str, float]]], how: str
                    ) -> tuple[float, dict[str, float]]:
    """(score, stats) over symbols: mean -> mean score and per-key mean stats; worst -> the
    worst symbol's score and stats."""
    if len(per_symbol) == 1:
        return per_symbol[0]
    if how == "worst":
        return min(per_symbol, key=lambda p: p[0])
    keys = per_symbol[0][1].keys()
    return (float(np.mean([p[0] for p in per_symbol])),
            {k: float(np.mean([p[1][k] for p in per_symbol])) for k in keys})


def _invalid(ctx: EvalContext, error: str, t0: float, c0: float) -> dict[str, Any]:
    values = [INVALID_SCORE, -1.0] if ctx.multi_objective else [INVALID_SCORE]
    return {"score": INVALID_SCORE, "values": values, "stats": {}, "fold_scores": [],
            "violations": {}, "error": error,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def one_wallet_dict(candidate: dict[str, Any], symbols: list[str]) -> dict[str, Any]:
    """A candidate (one-symbol live config dict) as the multi-symbol config that trades
    `symbols` on one wallet: each side's wallet_exposure_limit becomes that side's
    total_wallet_exposure_limit, shared by all the symbols (n_positions: all of them)."""
    d = {k: v for k, v in candidate.items() if k != "symbol"}
    wel = "wallet_exposure_limit"
    d["total_wallet_exposure_limit"] = {s: candidate[s][wel] for s in ("long", "short")}
    for s in ("long", "short"):
        d[s] = {k: v for k, v in candidate[s].items() if k != wel}
    return {**d, "symbols": list(symbols), "n_positions": len(symbols)}


def _evaluate_one_wallet(ctx: EvalContext, candidate: dict[str, Any], t0: float, c0: float
                         ) -> dict[str, Any]:
    """One multi-symbol backtest of every market on one wallet, by the multi-symbol
    backtester's own entry point (multi_runner.backtest_multi_config): the account's stats are
    the candidate's, each symbol's share is logged under `symbols`."""
    from passivbot.backtest.multi_runner import backtest_multi_config
    from passivbot.config.multi import multi_config_from_dict

    try:
        mc = multi_config_from_dict(one_wallet_dict(candidate, [m.symbol for m in ctx.markets]),
                                    "candidate")
    except ConfigError as e:
        return _invalid(ctx, "; ".join(i.line() for i in e.issues), t0, c0)
    out = backtest_multi_config(mc, ctx.one_wallet,
                                candles={m.symbol: m.candles for m in ctx.markets})
    stats = out.stats["account"]
    sc = score(stats, ctx.constraints)
    return {"score": sc, "values": [sc, -stats["max_drawdown"]] if ctx.multi_objective else [sc],
            "stats": stats, "fold_scores": [sc], "violations": violations(stats, ctx.constraints),
            "error": None, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, "symbols": out.stats["symbols"]}


def evaluate(ctx: EvalContext, candidate: dict[str, Any]) -> dict[str, Any]:
    """Backtest one candidate live config dict on every market and fold; a dict with score,
    values (one per objective), stats, fold_scores, violations (broken on any symbol, the
    largest amount), error (str, when the candidate is not a valid live config), seconds
    (wall), cpu_seconds (this process's CPU: the work itself, without the time the OS gave the
    core to another process) and, with several symbols, `symbols` {symbol: {score, stats}}."""
    t0, c0 = time.perf_counter(), time.process_time()
    if ctx.one_wallet is not None:
        return _evaluate_one_wallet(ctx, candidate, t0, c0)
    try:
        cfg = live_config_from_dict(candidate, "candidate")
    except ConfigError as e:
        return _invalid(ctx, "; ".join(i.line() for i in e.issues), t0, c0)
    fn = resolve(ctx.evaluator)
    lp, sp = side_params(cfg.long), side_params(cfg.short)
    risk = risk_arrays(cfg)
    fold_scores: list[float] = []
    per_symbol: list[tuple[float, dict[str, float]]] = []
    worst_dd = 0.0
    for m in ctx.markets:
        fstats, fscores = [], []
        for sl in fold_slices(len(m.candles), ctx.n_folds):
            st = fn(ctx, m, lp, sp, m.candles[sl], cfg.leverage, risk)
            fstats.append(st)
            fscores.append(score(st, ctx.constraints))
            worst_dd = max(worst_dd, st["max_drawdown"])
        fold_scores += fscores
        per_symbol.append(combine(fstats, fscores, ctx.fold_score))
    sc, stats = combine_symbols(per_symbol, ctx.symbol_score)
    broken: dict[str, float] = {}
    for _, st in per_symbol:
        for k, v in violations(st, ctx.constraints).items():
            broken[k] = max(v, broken.get(k, 0.0))
    values = [sc, -worst_dd] if ctx.multi_objective else [sc]
    out = {"score": sc, "values": values, "stats": stats, "fold_scores": fold_scores,
           "violations": broken, "error": None,
           "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    if len(ctx.markets) > 1:
        out["symbols"] = {m.symbol: {"score": s, "stats": st}
                          for m, (s, st) in zip(ctx.markets, per_symbol)}
    return out


# ---- worker side: one context per worker process ------------------------------------------
_CTX: EvalContext | None = None

# A task: (trial numbers, origins (one per trial, or one for all), points). Points are rows of
# the unit cube (decoded here with ctx.space) or params dicts (starting configs, TPE).
Task = tuple[list[int], "list[str] | str", "np.ndarray | list[dict[str, Any]]"]
# A result: (number, score, values, seconds, cpu_seconds, the trial's log line).
TaskResult = tuple[int, float, list[float], float, float, str]


def init_worker(ctx: EvalContext) -> None:
    """Process pool initializer: keep the context, run the warm-up (loads the JIT cache) so
    the first real task is not slow."""
    global _CTX
    _CTX = ctx
    if ctx.warmup is not None:
        short = tuple(replace(m, candles=m.candles[:2000])
                      for m in (ctx.markets if ctx.one_wallet is not None else ctx.markets[:1]))
        evaluate(EvalContext(**{**ctx.__dict__, "markets": short, "n_folds": 1}), ctx.warmup)


def evaluate_task(task: Task, ctx: EvalContext | None = None) -> list[TaskResult]:
    """Evaluate the candidates of one task, returning each trial's log line ready to write:
    the JSON encoding (tens of microseconds a trial) happens here, in the worker, not in the
    main process. `ctx` None = the worker's installed context (local pool); Dask passes the
    scattered context, which lives on the worker and is not re-sent."""
    c = ctx if ctx is not None else _CTX
    assert c is not None, "worker has no EvalContext (init_worker not run)"
    numbers, origins, points = task
    params = c.space.decode(points) if isinstance(points, np.ndarray) else points
    if isinstance(origins, str):
        origins = [origins] * len(numbers)
    out: list[TaskResult] = []
    for n, origin, p in zip(numbers, origins, params):
        res = evaluate(c, c.space.candidate(p))
        line = json.dumps({"number": n, "origin": origin, "params": p, **res},
                          separators=(",", ":"))
        out.append((n, res["score"], res["values"], res["seconds"], res["cpu_seconds"], line))
    return out
