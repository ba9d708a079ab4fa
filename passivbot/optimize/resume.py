"""The run's append-only trial log (`trials.jsonl`), from which a run resumes.

Two kinds of JSON lines:
- a trial: {"number", "origin", "params", "score", "values", "stats", ...}, one per finished
  trial, written as each task's results come back (the workers encode them);
- a generation: {"generation": g, "numbers": [...], "state": ..., "starts": [...]}, written
  before the generation's candidates are submitted: the trial numbers it was given and the
  sampler's state it was asked from (samplers.py; null for TPE), and, for the first, the
  numbers of the starting configs evaluated with it.

Lines are flushed to the OS after every finished task, so a kill -9 loses at most the trials
still in flight (at worst a torn last line, which the reader drops); they are fsynced at most
once a second (an fsync costs about a millisecond here, more than a short backtest), so a power
cut loses at most the last second more. A resumed run restores the last generation's sampler
state, asks that generation again (the same points: the state determines the random draws),
reuses the results already logged and evaluates only the missing ones, under the same numbers:
nothing logged is lost or repeated, and the search continues as if it had not stopped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

LOG_NAME = "trials.jsonl"


class TrialLog:
    """Append-only JSONL writer: `write_line`/`write` buffer, `commit` flushes to the OS and
    fsyncs when `fsync_interval_s` has passed since the last fsync (or with force_fsync)."""

    def __init__(self, path: Path, fsync_interval_s: float = 1.0):
        self.path = path
        self.fsync_interval_s = fsync_interval_s
        self._unsynced = 0
        self._synced_at = time.monotonic()
        self._f = open(path, "a", encoding="utf-8")

    def write_line(self, line: str) -> None:
        """One record already encoded as JSON (no newline)."""
        self._f.write(line + "\n")
        self._unsynced += 1

    def write(self, record: dict[str, Any]) -> None:
        self.write_line(json.dumps(record, separators=(",", ":")))

    def commit(self, force_fsync: bool = False) -> None:
        self._f.flush()
        if self._unsynced and (force_fsync or time.monotonic() - self._synced_at
                               >= self.fsync_interval_s):
            os.fsync(self._f.fileno())
            self._unsynced = 0
            self._synced_at = time.monotonic()

    def close(self) -> None:
        if not self._f.closed:
            self.commit(force_fsync=True)
            self._f.close()


def _lines(path: Path):
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:  # a torn last line from a kill mid-write
                continue


def read_log(path: Path) -> list[dict[str, Any]]:
    """Trial records in the log, first occurrence per number, sorted by number."""
    seen: dict[int, dict[str, Any]] = {}
    for rec in _lines(path):
        if "number" in rec:
            seen.setdefault(int(rec["number"]), rec)
    return [seen[k] for k in sorted(seen)]


def read_generations(path: Path) -> list[dict[str, Any]]:
    """Generation records in the log, in order (a re-asked generation appears again, later)."""
    return [rec for rec in _lines(path) if "generation" in rec and "number" not in rec]
