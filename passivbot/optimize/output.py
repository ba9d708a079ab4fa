"""The run folder: `backtests/optimize/{exchange}/{SYMBOL}/{YYYYmmddTHHMMSS}/` with

- `backtest_config.json` (resolved) and `starting_configs/*.json`: what resume needs, copied so
  a resumed run does not depend on files that may have changed;
- `trials.jsonl`: the append-only log (resume.py); `trials.csv`: every trial, params + stats;
- `best.json`: the best candidate as a live config (validated before it is written);
- `pareto.csv` / `pareto.json` in multi-objective mode;
- `report/`: the best config's full backtest report (passivbot.backtest.report).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from passivbot.config import (
    BacktestConfig, LiveConfig, backtest_config_to_dict, live_config_from_dict,
    live_config_to_dict,
)

RUN_META = "run.json"


def new_run_dir(root: str | Path, bt: BacktestConfig) -> Path:
    """A fresh, not yet existing run folder (a suffix if two runs start in one second)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    base = Path(root) / "optimize" / bt.exchange / bt.symbol / stamp
    d, i = base, 1
    while d.exists():
        d, i = base.with_name(f"{stamp}_{i}"), i + 1
    d.mkdir(parents=True)
    return d


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (temp file + rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_run_inputs(run_dir: Path, bt: BacktestConfig, meta: dict[str, Any]) -> None:
    """Copy the resolved backtest config and its starting configs into the run folder."""
    d = backtest_config_to_dict(bt)
    sc = run_dir / "starting_configs"
    sc.mkdir(exist_ok=True)
    paths = []
    for i, cfg in enumerate(bt.starting_configs):
        p = sc / f"{i}.json"
        write_json(p, live_config_to_dict(cfg))
        paths.append(str(p.resolve()))
    d["starting_configs"] = paths
    write_json(run_dir / "backtest_config.json", d)
    write_json(run_dir / RUN_META, meta)


def write_best(run_dir: Path, candidate: dict[str, Any]) -> LiveConfig:
    """Validate the best candidate as a live config and write it as best.json."""
    cfg = live_config_from_dict(candidate, str(run_dir / "best.json"))
    write_json(run_dir / "best.json", live_config_to_dict(cfg))
    return cfg


def _flat(records: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    pkeys = sorted({k for r in records for k in r["params"]})
    skeys = sorted({k for r in records for k in r["stats"]})
    cols = ["number", "origin", "score", "violations", "error", *pkeys, *skeys]
    rows = [{"number": r["number"], "origin": r["origin"], "score": r["score"],
             "violations": " ".join(sorted(r.get("violations") or {})),
             "error": r.get("error") or "", **r["params"], **r["stats"]} for r in records]
    return cols, rows


def write_trials_csv(path: Path, records: list[dict[str, Any]]) -> None:
    """One row per trial: number, origin (start:i or search), score, broken constraints,
    error, params, stats."""
    cols, rows = _flat(records)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def pareto_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-dominated records (every value maximized), sorted by score."""
    vals = [(r, r["values"]) for r in records if not r.get("error")]
    front = [r for r, v in vals
             if not any(all(a >= b for a, b in zip(w, v)) and any(a > b for a, b in zip(w, v))
                        for _, w in vals)]
    return sorted(front, key=lambda r: -r["score"])


def write_pareto(run_dir: Path, records: list[dict[str, Any]], space_candidate) -> None:
    """pareto.csv (like trials.csv) and pareto.json (each point with its live config)."""
    front = pareto_records(records)
    write_trials_csv(run_dir / "pareto.csv", front)
    write_json(run_dir / "pareto.json", [
        {"number": r["number"], "score": r["score"], "max_drawdown": -r["values"][1],
         "stats": r["stats"], "live_config": space_candidate(r["params"])} for r in front])


class Checkpoint:
    """best.json and trials.csv kept current while a run goes: best.json when the best
    improves (at most every `best_every_s`), trials.csv every `csv_every_s` (it re-reads the
    log), both at once by `write_now` (end of run, Ctrl-C). A run stopped any way but kill -9
    leaves both files as of its last trial."""

    def __init__(self, run_dir: Path, candidate, records: list[dict[str, Any]],
                 best_every_s: float = 5.0, csv_every_s: float = 60.0, writer=None):
        import time

        self._writer = writer or write_best  # (run_dir, candidate dict): writes best.json
        self._clock = time.monotonic
        self.run_dir, self._candidate = run_dir, candidate
        self.best = max(records, key=lambda r: (r["score"], -r["number"])) if records else None
        self._best_line: str | None = None
        self._dirty = False
        self._best_every, self._csv_every = best_every_s, csv_every_s
        self._best_at = self._csv_at = self._clock()

    def _key(self, score: float, number: int) -> tuple[float, int]:
        return score, -number

    def on_results(self, results) -> None:
        """Task results (objective.TaskResult): remember the best, write files when due."""
        top = max(results, key=lambda r: self._key(r[1], r[0]))
        if self.best is None or self._key(top[1], top[0]) > self._key(self.best["score"],
                                                                     self.best["number"]):
            self.best = {"number": top[0], "score": top[1]}
            self._best_line, self._dirty = top[5], True
        now = self._clock()
        if self._dirty and now - self._best_at >= self._best_every:
            self._write_best()
        if now - self._csv_at >= self._csv_every:
            self._write_csv()

    def _write_best(self) -> None:
        if self._best_line is not None:
            self.best = json.loads(self._best_line)
            self._best_line = None
        if self.best is not None and "params" in self.best:
            self._writer(self.run_dir, self._candidate(self.best["params"]))
        self._dirty, self._best_at = False, self._clock()

    def _write_csv(self) -> None:
        from passivbot.optimize.resume import LOG_NAME, read_log

        write_trials_csv(self.run_dir / "trials.csv", read_log(self.run_dir / LOG_NAME))
        self._csv_at = self._clock()

    def write_now(self) -> None:
        self._write_best()
        self._write_csv()
