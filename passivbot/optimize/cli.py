"""`python3 backtest.py BACKTEST_CONFIG` without `--live-config`: the optimizer's command line.

backtest.py's parser (passivbot.backtest.cli) adds the options below with `add_arguments` and,
without --live-config, hands its parsed arguments to `run`. `python3 -m passivbot.optimize
BACKTEST_CONFIG ...` takes the same options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from passivbot.config import BacktestConfig, ConfigError, ConfigIssue, load_backtest_config


def add_arguments(g) -> None:
    """The optimizer's options, added to backtest.py's parser (or an argument group of it)."""
    g.add_argument("--iterations", type=int, default=None,
                   help="total trials (overrides optimize.iterations; on resume, the new total)")
    g.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR (backtests/optimize/...) from its trial log; "
                        "its own copy of the backtest config is used")
    g.add_argument("--dask-scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="evaluate on this Dask cluster instead of local processes")
    g.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: all cores)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def optimize_from_backtest_cli(bt: BacktestConfig | None, args: argparse.Namespace) -> int:
    """backtest.py without --live-config: optimize `bt` (loaded with backtest.py's overrides);
    with --resume RUN_DIR, `bt` is ignored and the run folder's own copy is used."""
    if args.resume:
        bt = None
    elif bt is None:
        raise SystemExit("backtest.py: a backtest config (or --resume RUN_DIR) is required")
    from passivbot.data import DataError
    from passivbot.optimize.executor import SchedulerUnreachable
    from passivbot.optimize.run import optimize

    for name in ("iterations", "workers"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise ConfigError([ConfigIssue("command line", f"--{name}", v, "must be >= 1")])
    if args.resume and not (Path(args.resume) / "run.json").is_file():
        raise ConfigError([ConfigIssue("command line", "--resume", args.resume,
                                       "not a run folder (backtests/optimize/...)")])
    try:
        res = optimize(bt, iterations=args.iterations,
                       workers=args.workers, dask_scheduler=args.dask_scheduler,
                       resume=args.resume, root=getattr(args, "results", "backtests"),
                       progress=not args.no_progress,
                       plots=not getattr(args, "no_plots", False))
    except SchedulerUnreachable as e:  # the run folder is kept: --resume it when it is up
        print(f"error: {e}", file=sys.stderr)
        return 1
    except DataError as e:  # candles unavailable for these dates/source: fix the config
        src = bt.source if bt else str(Path(args.resume) / "backtest_config.json")
        raise ConfigError([ConfigIssue(src, "", None, str(e))]) from None
    print_summary(res)
    return 0


def print_summary(res) -> None:
    s, b = res.search, res.best
    starts = [r for r in res.records if r["origin"].startswith("start:")]
    print(f"run folder: {res.run_dir}")
    start = f"  (starting config: {max(r['score'] for r in starts):.6g})" if starts else ""
    print(f"trials: {len(res.records)}  best: #{b['number']} score {b['score']:.6g}{start}")
    if s.trials:
        print(f"this session: {s.trials} trials in {s.wall_s:.1f} s "
              f"({s.trials / s.wall_s:.1f} trials/s), optimizer overhead "
              f"{100 * s.overhead_fraction:.2f}% of evaluation time")
    if b.get("violations"):
        print("warning: no candidate met every constraint; best.json breaks "
              + ", ".join(f"{k} (by {100 * v:.0f}%)" for k, v in sorted(b["violations"].items()))
              + ". Widen the bounds, relax the constraints or run more iterations.")
    print(f"best.json: {res.run_dir / 'best.json'}")
    if res.report_dir:
        print(f"report: {res.report_dir}")


def main(argv: list[str]) -> int:
    """`python3 -m passivbot.optimize BACKTEST_CONFIG [options]`."""
    p = argparse.ArgumentParser(prog="python3 -m passivbot.optimize",
                                description="Optimize a live config over a backtest config.")
    p.add_argument("backtest_config", nargs="?", help="backtest_configs/NAME.json or NAME")
    p.add_argument("--results", default="backtests", help="root folder of result folders")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_arguments(p)
    args = p.parse_args(argv)
    if args.resume is None and not args.backtest_config:
        raise SystemExit("a backtest config (or --resume RUN_DIR) is required")
    bt = None if args.resume else load_backtest_config(args.backtest_config)
    return optimize_from_backtest_cli(bt, args)
