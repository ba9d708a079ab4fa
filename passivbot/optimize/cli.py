"""`python3 backtest.py BACKTEST_CONFIG` without `--live-config`: the optimizer's command line.

Also `python3 -m passivbot.optimize ...` with the same arguments."""

from __future__ import annotations

import argparse

from passivbot.config import load_backtest_config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="backtest.py", description="Optimize a live config over a backtest config's bounds.")
    p.add_argument("backtest_config", nargs="?",
                   help="backtest_configs/NAME.json or NAME (not needed with --resume)")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The optimizer's options, for backtest.py to add to its own parser."""
    p.add_argument("--iterations", type=int, default=None,
                   help="total trials (overrides optimize.iterations; on resume, the new total)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR (backtests/optimize/...) from its log")
    p.add_argument("--dask-scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="evaluate on this Dask cluster instead of local processes")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--root", default="backtests", help="results folder (default: backtests)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run from parsed arguments (backtest.py's hook calls this)."""
    from passivbot.optimize.run import optimize

    if args.resume is None and not args.backtest_config:
        raise SystemExit("backtest.py: a backtest config or --resume RUN_DIR is required")
    if args.iterations is not None and args.iterations < 1:
        raise SystemExit("backtest.py: --iterations must be >= 1")
    bt = load_backtest_config(args.backtest_config) if args.resume is None else None
    res = optimize(bt, iterations=args.iterations, workers=args.workers,
                   dask_scheduler=args.dask_scheduler, resume=args.resume, root=args.root,
                   progress=not args.no_progress)
    s, b = res.search, res.best
    starts = [r for r in res.records if r["origin"].startswith("start:")]
    print(f"run folder: {res.run_dir}")
    print(f"trials: {len(res.records)}  best: #{b['number']} score {b['score']:.6g}"
          + (f"  (starting config: {max(r['score'] for r in starts):.6g})" if starts else ""))
    if s.trials:
        print(f"this session: {s.trials} trials in {s.wall_s:.1f} s "
              f"({s.trials / s.wall_s:.1f} trials/s), optimizer overhead "
              f"{100 * s.overhead_fraction:.2f}% of evaluation time")
    print(f"best.json: {res.run_dir / 'best.json'}")
    if res.report_dir:
        print(f"report: {res.report_dir}")
    return 0


def main(argv: list[str]) -> int:
    return run(parser().parse_args(argv))
