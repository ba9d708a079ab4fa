"""kill -9 mid-run, then --resume: the finished study holds every trial logged before the kill
plus the rest of the iterations, numbered without duplicates (a real subprocess: backtest.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from optimize_standin import write_bt_config
from passivbot.optimize.resume import read_log

ROOT = Path(__file__).resolve().parents[1]


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)  # polling interval of a deadline loop, not a wait for state
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_then_resume_keeps_every_logged_trial_and_adds_the_rest(tmp_path):
    cfg = write_bt_config(tmp_path, days=3)
    results = tmp_path / "results"
    cmd = [sys.executable, "backtest.py", str(cfg), "--iterations", "1000000", "--workers", "2",
           "--results", str(results), "--no-progress", "--no-plots"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        log = _wait_for(lambda: next(results.rglob("trials.jsonl"), None), 60, "the trial log")
        _wait_for(lambda: len(read_log(log)) >= 30, 60, "30 logged trials")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, no cleanup
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    run_dir = log.parent
    before = read_log(log)
    assert not (run_dir / "best.json").exists()  # it really died mid-run
    total = len(before) + 25
    p = subprocess.run([sys.executable, "backtest.py", str(cfg), "--resume", str(run_dir),
                        "--iterations", str(total), "--workers", "2", "--no-progress",
                        "--no-plots"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    after = read_log(log)
    numbers = [r["number"] for r in after]
    assert len(after) == total and len(set(numbers)) == total
    by_number = {r["number"]: r for r in after}
    # nothing logged before the kill was lost or changed (holes left by tasks in flight, if
    # any, were filled under their own numbers)
    assert all(by_number[r["number"]] == r for r in before)
    raw = [rec["number"] for rec in map(json.loads, (line for line in
           log.read_text().splitlines() if line.strip().endswith("}"))) if "number" in rec]
    assert len(raw) == len(set(raw))  # no trial number written twice in the log itself
    assert sum(r["origin"] == "start:0" for r in after) == 1
    assert (run_dir / "best.json").is_file() and str(run_dir) in p.stdout


def test_ctrl_c_exits_130_with_one_message_and_writes_best_json_and_trials_csv(tmp_path):
    cfg = write_bt_config(tmp_path, days=3)
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "backtest.py", str(cfg), "--iterations", "1000000", "--workers", "2",
         "--results", str(results), "--no-progress"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        log = _wait_for(lambda: next(results.rglob("trials.jsonl"), None), 60, "the trial log")
        _wait_for(lambda: len(read_log(log)) >= 10, 60, "10 logged trials")
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert f"--resume {log.parent}" in err and "Traceback" not in err
    assert err.count("interrupted") == 1, err
    done = read_log(log)
    assert len(done) >= 10
    best = max(done, key=lambda r: (r["score"], -r["number"]))
    saved = json.loads((log.parent / "best.json").read_text())
    assert saved["long"]["ddown_factor"] == best["params"]["long.ddown_factor"]
    rows = (log.parent / "trials.csv").read_text().splitlines()
    assert len(rows) == len(done) + 1


def test_workers_exit_when_the_main_process_alone_is_killed(tmp_path):
    """kill -9 of the main process only (not its group): its pool workers, which wait on their
    task queue, notice and exit instead of staying behind."""
    cfg = write_bt_config(tmp_path, days=3)
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "backtest.py", str(cfg), "--iterations", "1000000", "--workers", "2",
         "--results", str(results), "--no-progress"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = _wait_for(lambda: next(results.rglob("trials.jsonl"), None), 60, "the trial log")
        _wait_for(lambda: len(read_log(log)) >= 5, 60, "5 logged trials")
        children = [int(p) for p in
                    Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(children) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

        def alive(pid: int) -> bool:
            try:  # a zombie (state Z) has exited; its parent is gone, init reaps it
                return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
            except FileNotFoundError:
                return False

        def gone() -> bool:
            return not any(alive(c) for c in children)
        _wait_for(gone, 30, "the workers to exit")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything left of the group
            except ProcessLookupError:
                pass
