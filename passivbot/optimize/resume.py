"""The run's append-only trial log (`trials.jsonl`) and rebuilding a study from it.

Each finished trial is one JSON line. Lines are flushed to the OS after every finished task,
so a kill -9 loses at most the trials still in flight (at worst a torn last line, which the
reader drops); they are fsynced once per batch (batch_size trials: fsync costs milliseconds
here, as much as a backtest), so a power cut loses at most one batch more. A resumed run rebuilds a fresh in-memory study with
`optuna.trial.create_trial` + `study.add_trial`, including the samplers' system attributes
(CMA-ES keeps its state there), so the search continues rather than restarts.

Trial numbers in the log are the optimizer's own (`number`), unique across resumes; Optuna's
numbers in a rebuilt study are compacted and never written out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

LOG_NAME = "trials.jsonl"


class TrialLog:
    """Append-only JSONL writer: `write` buffers, `commit` flushes (and fsyncs once at least
    `fsync_every` records were written since the last fsync)."""

    def __init__(self, path: Path, fsync_every: int = 1):
        self.path = path
        self.fsync_every = max(1, fsync_every)
        self._unsynced = 0
        self._f = open(path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._unsynced += 1

    def commit(self, force_fsync: bool = False) -> None:
        self._f.flush()
        if self._unsynced and (force_fsync or self._unsynced >= self.fsync_every):
            os.fsync(self._f.fileno())
            self._unsynced = 0

    def close(self) -> None:
        if not self._f.closed:
            self.commit(force_fsync=True)
            self._f.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """Records in the log, first occurrence per number, sorted by number; a torn (unparsable)
    line from a kill mid-write is skipped."""
    seen: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen.setdefault(int(rec["number"]), rec)
    return [seen[k] for k in sorted(seen)]


def frozen_trial(rec: dict[str, Any], dists: dict[str, BaseDistribution]
                 ) -> optuna.trial.FrozenTrial:
    """A logged record as a finished Optuna trial (COMPLETE, with its values)."""
    return optuna.trial.create_trial(
        values=rec["values"], params=rec["params"],
        distributions={k: dists[k] for k in rec["params"]},
        user_attrs={"number": rec["number"]}, system_attrs=rec.get("system_attrs") or {})


def rebuild(study: optuna.Study, records: list[dict[str, Any]],
            dists: dict[str, BaseDistribution]) -> None:
    """Add every logged trial to a fresh study, in number order."""
    study.add_trials([frozen_trial(r, dists) for r in records])
