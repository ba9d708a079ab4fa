"""One optimization, start to finish: set up (or resume) the run folder, the sampler, the
executor; search; write best.json, trials.csv, the Pareto front, the best config's report on
every searched symbol and its score on the hold-out symbols."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from passivbot.config import BacktestConfig, LiveConfig, load_backtest_config
from passivbot.optimize.best import (
    holdout, holdout_period, one_wallet_result, write_best_one_wallet, write_best_reports,
)
from passivbot.optimize.candles import load_candles
from passivbot.optimize.executor import make_executor
from passivbot.optimize.objective import DEFAULT_EVALUATOR, EvalContext, MarketData, TaskResult
from passivbot.optimize.output import (
    RUN_META, Checkpoint, new_run_dir, write_best, write_json, write_pareto, write_run_inputs,
    write_trials_csv,
)
from passivbot.optimize.resume import LOG_NAME, TrialLog, read_generations, read_log
from passivbot.optimize.samplers import default_pop_size, make_sampler
from passivbot.optimize.search import Pending, Search, SearchStats
from passivbot.optimize.space import SearchSpace


# Auto population (optimize.batch_size 0): candidates per generation per worker. A generation
# ends when its slowest task does, and between generations every worker waits while the main
# process tells, asks and submits (a few ms on a loaded machine); with 32 per worker in
# shrinking tasks (search.chunks) that wait and the last tasks' tail are a small part of a
# generation (~60 ms a worker on 30-day backtests), and the generation's fixed costs (tell's
# eigendecomposition, the logged state) are spread over enough candidates (bench_optimize.py:
# the main process's CPU a trial 27 -> 16 us at 2 workers, 15 -> 11 us at 16, against 16 per
# worker). CMA-ES's own default (13 for 22 keys) is the floor.
AUTO_BATCH_PER_WORKER = 32


class OptimizeInterrupted(KeyboardInterrupt):
    """Ctrl-C during the search: best.json and trials.csv were written; resume from run_dir."""

    def __init__(self, run_dir: Path, trials: int):
        super().__init__(f"interrupted after {trials} trials")
        self.run_dir, self.trials = run_dir, trials


@dataclass
class OptimizeResult:
    """What a run produced; records are the log's, one per finished trial."""

    run_dir: Path
    best: dict[str, Any]
    best_config: LiveConfig
    records: list[dict[str, Any]]
    search: SearchStats
    report_dir: Path | None = None
    symbols: dict[str, Any] = field(default_factory=dict)  # best's {symbol: {score, stats}}
    holdout: dict[str, Any] = field(default_factory=dict)  # best on the hold-out symbols
    holdout_period: dict[str, Any] = field(default_factory=dict)  # best on the final days
    one_wallet: dict[str, Any] = field(default_factory=dict)  # best's account, per symbol


Candles = "np.ndarray | dict[str, np.ndarray]"


def candles_by_symbol(bt: BacktestConfig, candles: Any = None,
                      symbols: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """{symbol: candles} for `symbols` (default: the searched ones): those given (an array is
    the first symbol's), the rest loaded per the config."""
    symbols = symbols or bt.symbols
    given = candles if isinstance(candles, dict) else (
        {} if candles is None else {bt.symbol: candles})
    return {s: given[s] if s in given else load_candles(bt, s) for s in symbols}


def split_holdout(bt: BacktestConfig, candles: dict[str, np.ndarray]
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({symbol: candles the search sees}, {symbol: the final `holdout_days`' candles}): the
    cut is at end_date - holdout_days, 00:00 UTC. No hold-out days: everything is searched."""
    days = bt.optimize.holdout_days
    if not days:
        return candles, {}
    from passivbot.data import DataError
    from passivbot.data.days import DAY_MS

    cut = bt.end_ms - days * DAY_MS
    search, hold = {}, {}
    for s, c in candles.items():
        k = int(np.searchsorted(c[:, 0], cut))
        if k == 0 or k == len(c):
            raise DataError(f"{s}: no candles {'before' if k == 0 else 'in'} the hold-out period "
                            f"(the last {days} days, from {bt.end_date - dt.timedelta(days=days)})"
                            f"; lower optimize.holdout_days or widen the dates")
        search[s], hold[s] = c[:k], c[k:]
    return search, hold


def market_data(bt: BacktestConfig, symbol: str, candles: np.ndarray) -> MarketData:
    """`symbol`'s candles, market arrays and funding events, as the single backtest
    (backtest.runner) loads them, so a candidate scores as its report backtests."""
    from passivbot.backtest.runner import backtest_market_spec, load_backtest_funding

    one = replace(bt, symbol=symbol, symbols=(symbol,))
    m = backtest_market_spec(one)
    candles = np.ascontiguousarray(candles, dtype=np.float64)
    funding = load_backtest_funding(one, candles)
    return MarketData(symbol, candles, m.market_array(), m.brackets_array(), m.mmr_add, funding)


def eval_context(bt: BacktestConfig, candles: Any, evaluator: str = DEFAULT_EVALUATOR,
                 warmup: dict | None = None, space: SearchSpace | None = None) -> EvalContext:
    """The workers' context: every searched symbol's candles, market arrays and funding."""
    by_sym = candles if isinstance(candles, dict) else {bt.symbol: candles}
    o = bt.optimize
    return EvalContext(
        markets=tuple(market_data(bt, s, c) for s, c in by_sym.items()),
        starting_balance=bt.starting_balance, maker_fee=bt.maker_fee, taker_fee=bt.taker_fee,
        constraints=o.constraints, space=space, n_folds=o.n_folds, fold_score=o.fold_score,
        symbol_score=o.symbol_score, multi_objective=o.multi_objective, evaluator=evaluator,
        warmup=warmup, one_wallet=bt if o.one_wallet else None)


def _best(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest score; on a tie the earliest trial (so a start is kept over an equal copy)."""
    return max(records, key=lambda r: (r["score"], -r["number"]))


def optimize(bt: BacktestConfig | None = None, *, iterations: int | None = None,
             workers: int | None = None, dask_scheduler: str | None = None,
             resume: str | Path | None = None, root: str | Path = "backtests",
             candles: Any = None, progress: bool = True,
             evaluator: str = DEFAULT_EVALUATOR, report: bool = True,
             plots: bool = True, executor: Any = None) -> OptimizeResult:
    """Run (or, with `resume` = a run folder, continue) an optimization of `bt`.

    `iterations` overrides the config's total trial count (on resume: the new total, trials
    already logged included). `candles`: an array (the first symbol's) or {symbol: array};
    what is missing is loaded per the config. With the same `batch_size` (the population),
    runs on different worker counts ask and tell the same generations, so they find the same
    trials. `executor`: an executor.BatchExecutor already started on this config's context
    (the bench reuses one pool for several searches; it is not closed here).
    """
    if resume is not None:
        run_dir = Path(resume)
        bt = load_backtest_config(run_dir / "backtest_config.json")
        meta = json.loads((run_dir / RUN_META).read_text())
        records = read_log(run_dir / LOG_NAME)
    else:
        assert bt is not None, "a backtest config or a run folder to resume"
        run_dir = new_run_dir(root, bt)
        meta = {"created": dt.datetime.now(dt.timezone.utc).isoformat(), "source": bt.source,
                "iterations": bt.optimize.iterations, "evaluator": evaluator}
        write_run_inputs(run_dir, bt, meta)
        records = []
    if iterations is not None:
        meta["iterations"] = iterations
        write_json(run_dir / RUN_META, meta)
    total = int(meta["iterations"])
    evaluator = meta.get("evaluator", evaluator)
    o = bt.optimize
    # candidates trade the backtest config's (first) symbol, whatever the starting config's
    space = SearchSpace.build(o.bounds, replace(bt.starting_configs[0], symbol=bt.symbol))
    gens = read_generations(run_dir / LOG_NAME)
    logged = {r["number"]: r for r in records}
    start_numbers = (gens[0].get("starts") if gens else None) or []
    next_number = max([*logged, *(n for g in gens for n in g["numbers"]), *start_numbers],
                      default=-1) + 1
    starts = []
    done_origins = {r["origin"] for r in records}
    for i, cfg in enumerate(bt.starting_configs):
        params, moved = space.params_of(cfg)
        if moved:
            print(f"note: starting config {i} lies outside the bounds for {', '.join(moved)}; "
                  f"its projection into the bounds is evaluated", file=sys.stderr)
        if f"start:{i}" not in done_origins:
            if i < len(start_numbers):  # given a number before a kill: keep it
                n = start_numbers[i]
            else:
                n, next_number = next_number, next_number + 1
            starts.append((n, f"start:{i}", params))
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    if (candles is None or isinstance(candles, dict) or len(bt.symbols) > 1
            or o.holdout_days):
        candles = candles_by_symbol(bt, candles)
    if o.holdout_days:
        candles, held = split_holdout(bt, candles)
    else:
        held = {}
    remaining = max(0, total - len(records))
    own = executor is None
    if own:
        ctx = eval_context(bt, candles, evaluator,
                           warmup=space.candidate(space.decode(x0)[0]), space=space)
        executor = make_executor(ctx, workers, dask_scheduler)
    # the population is the run's: a resumed run keeps it whatever its worker count
    pop = meta.get("population") or max(
        o.batch_size or executor.n_workers * AUTO_BATCH_PER_WORKER,
        1 if o.batch_size else default_pop_size(o.sampler, len(space.dims)))
    if meta.get("population") != pop:
        meta["population"] = pop
        write_json(run_dir / RUN_META, meta)
    n_obj = 2 if o.multi_objective else 1
    sampler = make_sampler(o.sampler, space, o.seed, pop, x0, n_obj)
    resume_gen = restore(sampler, space, gens, logged, records)
    log = TrialLog(run_dir / LOG_NAME)
    search = Search(sampler, executor, log, next_number=next_number,
                    generation=gens[-1]["generation"] + 1 if gens else 0, starts=starts,
                    resume=resume_gen)
    check = Checkpoint(run_dir, space.candidate, records, writer=(
        (lambda d, c: write_best_one_wallet(d, c, bt.symbols)) if o.one_wallet else None))
    best = [max((r["score"] for r in records), default=-math.inf)]
    bar = tqdm(total=total, initial=len(records), unit="trial", disable=not progress,
               dynamic_ncols=True, desc="optimize")

    def on_done(results: list[TaskResult]) -> None:
        best[0] = max(best[0], *(r[1] for r in results))
        bar.set_postfix_str(f"best score {best[0]:.6g}", refresh=False)
        bar.update(len(results))
        check.on_results(results)

    try:
        search.run(remaining, on_done)
    except KeyboardInterrupt:
        bar.close()
        log.close()
        if own:
            executor.close()
        check.write_now()
        raise OptimizeInterrupted(run_dir, len(read_log(run_dir / LOG_NAME))) from None
    finally:
        bar.close()
        log.close()
        if own:
            executor.close()
    return finish(run_dir, bt, space, search.stats, candles if report else None, plots, held)


def restore(sampler: Any, space: SearchSpace, gens: list[dict[str, Any]],
            logged: dict[int, dict[str, Any]],
            records: list[dict[str, Any]]) -> Pending | None:
    """Resume: the last logged generation, re-asked from its logged sampler state, with the
    results already logged filled in (search.Pending), or None when there is nothing to redo.
    A sampler without state (TPE) is given every logged trial instead."""
    if not gens:
        return None
    g = gens[-1]
    if g.get("state") is None:
        if hasattr(sampler, "load"):
            sampler.load(records)
        return None
    sampler.restore(g["state"])
    points = sampler.ask()
    pend = Pending(g["generation"], list(g["numbers"]), points, g["state"])
    for i, n in enumerate(pend.numbers):
        if n in logged:
            pend.values[i] = logged[n]["values"]
            if isinstance(points, np.ndarray) and space.decode(points[i])[0] != logged[n]["params"]:
                # not the point logged (another library version?): tell what was evaluated
                points[i] = space.encode(logged[n]["params"])
    return pend


def finish(run_dir: Path, bt: BacktestConfig, space: SearchSpace, stats: SearchStats,
           candles: Any = None, plots: bool = True,
           held: dict[str, np.ndarray] | None = None) -> OptimizeResult:
    """Write best.json, trials.csv, the Pareto front and (candles given) the best's report
    on every searched symbol and its score on the hold-out symbols and on the hold-out
    period (`held`: its candles per symbol)."""
    records = read_log(run_dir / LOG_NAME)
    write_trials_csv(run_dir / "trials.csv", records)
    best = _best(records)
    if bt.optimize.one_wallet:  # best.json: the multi-symbol config the candidates were
        best_cfg = write_best_one_wallet(run_dir, space.candidate(best["params"]), bt.symbols)
    else:
        best_cfg = write_best(run_dir, space.candidate(best["params"]))
    if bt.optimize.multi_objective:
        write_pareto(run_dir, records, space.candidate)
    res = OptimizeResult(run_dir, best, best_cfg, records, stats)
    if candles is not None and bt.optimize.one_wallet:
        res.one_wallet = one_wallet_result(best_cfg, bt, candles)
        write_json(run_dir / "symbols.json", res.one_wallet)
        if held:
            res.holdout_period = holdout_period(best_cfg, bt, held, run_dir)
    elif candles is not None:
        by_sym = candles if isinstance(candles, dict) else {bt.symbol: candles}
        res.report_dir, res.symbols = write_best_reports(best_cfg, bt, by_sym, run_dir, plots)
        res.holdout = holdout(best_cfg, bt, None, run_dir)
        if held:
            res.holdout_period = holdout_period(best_cfg, bt, held, run_dir)
    return res
