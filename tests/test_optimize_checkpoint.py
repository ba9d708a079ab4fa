"""While an optimization runs, best.json follows the best trial (at most every `best_every_s`)
and trials.csv is rewritten every `csv_every_s`, so a run stopped any way but kill -9 leaves
both files current (issue 20: "writes the best-so-far best.json and trials.csv periodically").
The Ctrl-C case through the real CLI is tests/test_optimize_resume.py."""

from __future__ import annotations

import csv
import json

from passivbot.optimize.output import Checkpoint
from passivbot.optimize.resume import LOG_NAME


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def trial(n: int, score: float) -> tuple:
    rec = {"number": n, "origin": "search", "score": score, "values": [score],
           "params": {"long.ddown_factor": n / 10}, "stats": {"gain": score}, "violations": {},
           "error": None}
    return (n, score, [score], 0.1, 0.1, json.dumps(rec))


def make(tmp_path):
    written: list[dict] = []
    log = tmp_path / LOG_NAME
    log.write_text("", encoding="utf-8")
    cp = Checkpoint(tmp_path, lambda params: dict(params), [], best_every_s=5.0,
                    csv_every_s=60.0, writer=lambda run_dir, cand: written.append(cand))
    clock = Clock()
    cp._clock = clock
    cp._best_at = cp._csv_at = clock.t
    return cp, clock, written, log


def log_trials(log, *trials) -> None:
    with open(log, "a", encoding="utf-8") as f:
        for t in trials:
            f.write(t[5] + "\n")


def test_best_json_follows_the_best_trial_at_most_every_best_every_s(tmp_path):
    cp, clock, written, log = make(tmp_path)
    cp.on_results([trial(0, -0.5), trial(1, -0.2)])
    assert written == []  # improved, but not 5 s since the last write
    clock.t += 5.0
    cp.on_results([trial(2, -0.9)])  # no better: the pending best (#1) is written now
    assert written == [{"long.ddown_factor": 0.1}]
    clock.t += 1.0
    cp.on_results([trial(3, 0.1)])
    clock.t += 1.0
    cp.on_results([trial(4, -1.0)])
    assert len(written) == 1  # #3 is better, 2 s after the last write: held
    clock.t += 3.0
    cp.on_results([trial(5, -1.0)])
    assert written[-1] == {"long.ddown_factor": 0.3} and cp.best["number"] == 3
    clock.t += 10.0
    cp.on_results([trial(6, -1.0)])
    assert len(written) == 2  # nothing new to write


def test_trials_csv_is_rewritten_from_the_log_every_csv_every_s_and_at_write_now(tmp_path):
    cp, clock, written, log = make(tmp_path)
    csv_path = tmp_path / "trials.csv"
    log_trials(log, trial(0, -0.5), trial(1, -0.2))
    cp.on_results([trial(0, -0.5), trial(1, -0.2)])
    assert not csv_path.exists()
    clock.t += 60.0
    cp.on_results([trial(2, -0.3)])
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert [r["number"] for r in rows] == ["0", "1"]  # what the log held then
    log_trials(log, trial(2, -0.3), trial(3, 0.4))
    cp.on_results([trial(3, 0.4)])
    cp.write_now()  # the end of a run or Ctrl-C: both files as of the last trial
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert [r["number"] for r in rows] == ["0", "1", "2", "3"]
    assert written[-1] == {"long.ddown_factor": 0.3}
