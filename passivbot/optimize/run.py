"""One optimization, start to finish: set up (or resume) the run folder, the study, the
executor; search; write best.json, trials.csv, the Pareto front and the best config's report."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from passivbot.config import BacktestConfig, LiveConfig, load_backtest_config
from passivbot.markets import market_spec
from passivbot.optimize.executor import make_executor
from passivbot.optimize.objective import DEFAULT_EVALUATOR, EvalContext
from passivbot.optimize.output import (
    RUN_META, new_run_dir, write_best, write_json, write_pareto, write_run_inputs,
    write_trials_csv,
)
from passivbot.optimize.resume import LOG_NAME, TrialLog, read_log, rebuild
from passivbot.optimize.search import Search, SearchStats, make_sampler, make_study
from passivbot.optimize.space import SearchSpace


# Auto batch (optimize.batch_size 0): configs in flight per worker. 8 = two tasks of 4 per
# worker: a task then costs one submit and one flush per 4 backtests (bench_optimize.py), while
# CMA-ES (population ~13 for 22 params) still sees results after about a generation.
AUTO_BATCH_PER_WORKER = 8


@dataclass
class OptimizeResult:
    """What a run produced; records are the log's, one per finished trial."""

    run_dir: Path
    best: dict[str, Any]
    best_config: LiveConfig
    records: list[dict[str, Any]]
    search: SearchStats
    report_dir: Path | None = None


def load_candles(bt: BacktestConfig) -> np.ndarray:
    """The backtest config's candles (bundled, synthetic or the downloader's cache)."""
    from passivbot.data import load_source

    return load_source(bt.data_source, bt.exchange, bt.symbol, bt.start_date, bt.end_date,
                       bt.synthetic_seed)


def eval_context(bt: BacktestConfig, candles: np.ndarray, evaluator: str = DEFAULT_EVALUATOR,
                 warmup: dict | None = None) -> EvalContext:
    m = market_spec(bt.exchange, bt.symbol)
    o = bt.optimize
    return EvalContext(
        candles=np.ascontiguousarray(candles, dtype=np.float64), market=m.market_array(),
        brackets=m.brackets_array(), mmr_add=m.mmr_add, starting_balance=bt.starting_balance,
        maker_fee=bt.maker_fee, taker_fee=bt.taker_fee, constraints=o.constraints,
        n_folds=o.n_folds, fold_score=o.fold_score, multi_objective=o.multi_objective,
        evaluator=evaluator, warmup=warmup)


def _best(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest score; on a tie the earliest trial (so a start is kept over an equal copy)."""
    return max(records, key=lambda r: (r["score"], -r["number"]))


def optimize(bt: BacktestConfig | None = None, *, iterations: int | None = None,
             workers: int | None = None, dask_scheduler: str | None = None,
             resume: str | Path | None = None, root: str | Path = "backtests",
             candles: np.ndarray | None = None, progress: bool = True,
             evaluator: str = DEFAULT_EVALUATOR, report: bool = True,
             plots: bool = True, tasks_in_flight: int | None = None) -> OptimizeResult:
    """Run (or, with `resume` = a run folder, continue) an optimization of `bt`.

    `iterations` overrides the config's total trial count (on resume: the new total, trials
    already logged included). `candles` None = loaded per the config. `tasks_in_flight` None =
    two per worker; with the same value and the same batch size, runs on different worker
    counts ask and tell the same sequence, so they find the same trials (the bench uses it).
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
    space = SearchSpace.build(o.bounds, bt.starting_configs[0])
    starts = []
    done_origins = {r["origin"] for r in records}
    for i, cfg in enumerate(bt.starting_configs):
        params, moved = space.params_of(cfg)
        if moved:
            print(f"note: starting config {i} lies outside the bounds for {', '.join(moved)}; "
                  f"its projection into the bounds is evaluated", file=sys.stderr)
        if f"start:{i}" not in done_origins:
            starts.append((f"start:{i}", params))
    x0 = space.params_of(bt.starting_configs[0])[0]
    sampler = make_sampler(o.sampler, o.seed + len(records), x0, space.distributions)
    study = make_study(sampler, o.multi_objective)
    rebuild(study, records, space.distributions)
    if candles is None:
        candles = load_candles(bt)
    ctx = eval_context(bt, candles, evaluator, warmup=space.candidate(x0))
    remaining = max(0, total - len(records))
    executor = make_executor(ctx, workers, dask_scheduler)
    batch = o.batch_size or executor.n_workers * AUTO_BATCH_PER_WORKER
    # a queued task per worker: no idle gap between tasks
    in_flight = tasks_in_flight or 2 * executor.n_workers
    log = TrialLog(run_dir / LOG_NAME, fsync_every=batch)
    search = Search(study, space, executor, log,
                    next_number=max((r["number"] for r in records), default=-1) + 1,
                    starts=starts)
    best = [max((r["score"] for r in records), default=-math.inf)]
    bar = tqdm(total=total, initial=len(records), unit="trial", disable=not progress,
               dynamic_ncols=True, desc="optimize")

    def on_done(recs: list[dict[str, Any]]) -> None:
        best[0] = max(best[0], *(r["score"] for r in recs))
        bar.set_postfix_str(f"best {best[0]:.6g}", refresh=False)
        bar.update(len(recs))

    try:
        search.run(remaining, max(1, math.ceil(batch / in_flight)), in_flight, on_done)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with --resume {run_dir}", file=sys.stderr)
        raise
    finally:
        bar.close()
        log.close()
        executor.close()
    return finish(run_dir, bt, space, search.stats, candles if report else None, plots)


def finish(run_dir: Path, bt: BacktestConfig, space: SearchSpace, stats: SearchStats,
           candles: np.ndarray | None, plots: bool = True) -> OptimizeResult:
    """Write best.json, trials.csv, the Pareto front and (candles given) the best's report."""
    records = read_log(run_dir / LOG_NAME)
    write_trials_csv(run_dir / "trials.csv", records)
    best = _best(records)
    best_cfg = write_best(run_dir, space.candidate(best["params"]))
    if bt.optimize.multi_objective:
        write_pareto(run_dir, records, space.candidate)
    report_dir = (write_best_report(best_cfg, bt, candles, run_dir, plots)
                  if candles is not None else None)
    return OptimizeResult(run_dir, best, best_cfg, records, stats, report_dir)


def write_best_report(cfg: LiveConfig, bt: BacktestConfig, candles: np.ndarray,
                      run_dir: Path, plots: bool = True) -> Path | None:
    """The best config's full backtest report under run_dir/report (backtester's writer)."""
    try:
        from passivbot.backtest.report import write_report
        from passivbot.backtest.runner import backtest_live_config
    except ImportError as e:  # the backtester's runner/report not installed yet
        print(f"note: no backtest report ({e})", file=sys.stderr)
        return None
    result = backtest_live_config(cfg, bt, candles=candles)
    return Path(write_report(result, root=run_dir / "report", label="best", plots=plots))
