"""Export a run's trials to an Optuna storage, to browse them in optuna-dashboard:
`python3 -m passivbot.optimize.export RUN_DIR sqlite:///optuna.db`.

Optuna is not in the search loop (its per-trial cost is ~1 ms, as much as a short backtest:
docs/optimize.md); a finished (or stopped) run's log is added to a study in one go here, where
that cost does not matter."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from passivbot.config import load_backtest_config
from passivbot.optimize.resume import LOG_NAME, read_log
from passivbot.optimize.space import SearchSpace


def export_run(run_dir: str | Path, storage: str, study_name: str | None = None) -> str:
    """Add every logged trial of run_dir (params, values, stats as user attributes) to a new
    Optuna study in `storage`; returns the study's name."""
    import optuna

    run_dir = Path(run_dir)
    bt = load_backtest_config(run_dir / "backtest_config.json")
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    dists = space.optuna_distributions()
    n_obj = 2 if bt.optimize.multi_objective else 1
    name = study_name or f"{bt.exchange}-{bt.symbol}-{run_dir.name}"
    study = optuna.create_study(storage=storage, study_name=name,
                                directions=["maximize"] * n_obj)
    study.add_trials([optuna.trial.create_trial(
        values=r["values"], params=r["params"],
        distributions={k: dists[k] for k in r["params"] if k in dists},
        user_attrs={"number": r["number"], "origin": r["origin"], "error": r.get("error"),
                    "violations": sorted(r.get("violations") or {}), **r.get("stats", {})})
        for r in read_log(run_dir / LOG_NAME) if set(r["params"]) <= set(dists)])
    return name


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 -m passivbot.optimize.export",
                                description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="backtests/optimize/... run folder")
    p.add_argument("storage", help="Optuna storage URL, e.g. sqlite:///optuna.db")
    p.add_argument("--study-name", default=None)
    args = p.parse_args(argv)
    if not (Path(args.run_dir) / LOG_NAME).is_file():
        print(f"error: {args.run_dir} is not a run folder (no {LOG_NAME})", file=sys.stderr)
        return 2
    name = export_run(args.run_dir, args.storage, args.study_name)
    print(f"study {name!r} in {args.storage}: optuna-dashboard {args.storage}")
    return 0


if __name__ == "__main__":
    from passivbot.cli import run_cli

    run_cli(main)
