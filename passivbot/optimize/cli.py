"""backtest.py's command line (also `python3 -m passivbot.optimize`): with --live-config, one
backtest (passivbot.backtest.cli.run); without it, an optimization of the backtest config.

The backtester's parser and options come from passivbot.backtest.cli, which never imports the
optimizer; this module adds the optimizer's options and dispatches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from passivbot.backtest import cli as backtest_cli
from passivbot.config import BacktestConfig, ConfigError, ConfigIssue
from passivbot.optimize.summary import summary_lines


def add_arguments(g) -> None:
    """The optimizer's options (used without --live-config)."""
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
    g.add_argument("--verbose", "-v", action="store_true",
                   help="also print the optimizer's own figures (trials/s, overhead)")


def build_parser() -> argparse.ArgumentParser:
    p = backtest_cli.build_parser("backtest.py")
    p.description = ("Backtest a live config over 1m candles (--live-config), writing "
                     "backtests/... with stats, fills and plots; without --live-config, "
                     "optimize one (docs/optimize.md).")
    add_arguments(p.add_argument_group("optimizer (without --live-config)"))
    return p


def optimize_from_args(bt: BacktestConfig | None, args: argparse.Namespace) -> int:
    """Optimize `bt` (loaded with the command line's overrides); with --resume RUN_DIR, `bt`
    is ignored and the run folder's own copy is used."""
    from passivbot.data import DataError
    from passivbot.optimize.executor import SchedulerUnreachable
    from passivbot.optimize.run import OptimizeInterrupted, optimize

    if args.resume:
        bt = None
    elif bt is None:
        raise SystemExit("backtest.py: a backtest config (or --resume RUN_DIR) is required")
    for name in ("iterations", "workers"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise ConfigError([ConfigIssue("command line", f"--{name}", v, "must be >= 1")])
    if args.resume and not (Path(args.resume) / "run.json").is_file():
        raise ConfigError([ConfigIssue("command line", "--resume", args.resume,
                                       "not a run folder (backtests/optimize/...)")])
    try:
        res = optimize(bt, iterations=args.iterations, workers=args.workers,
                       dask_scheduler=args.dask_scheduler, resume=args.resume,
                       root=args.results, progress=not args.no_progress,
                       plots=not args.no_plots)
    except SchedulerUnreachable as e:  # the run folder is kept: --resume it when it is up
        print(f"error: {e}", file=sys.stderr)
        return 1
    except DataError as e:  # candles unavailable for these dates/source: fix the config
        src = bt.source if bt else str(Path(args.resume) / "backtest_config.json")
        raise ConfigError([ConfigIssue(src, "", None, str(e))]) from None
    except KeyError as e:  # no offline market spec for a symbol
        src = bt.source if bt else str(Path(args.resume) / "backtest_config.json")
        raise ConfigError([ConfigIssue(src, "symbols", None, e.args[0])]) from None
    except OptimizeInterrupted as e:  # one message; best.json and trials.csv are written
        print(f"interrupted after {e.trials} trials; best so far in {e.run_dir / 'best.json'}"
              f" (all trials: trials.csv); continue with --resume {e.run_dir}",
              file=sys.stderr)
        return 130
    print("\n".join(summary_lines(res, verbose=args.verbose)))
    return 0


def main(argv: list[str]) -> int:
    """backtest.py: one backtest with --live-config, else an optimization."""
    args = build_parser().parse_args(argv)
    if args.live_config is not None:
        return backtest_cli.run(args)
    if args.resume is None and not args.backtest_config:
        raise SystemExit("backtest.py: a backtest config (or --resume RUN_DIR) is required")
    bt = None if args.resume else backtest_cli.load_from_args(args)
    return optimize_from_args(bt, args)
