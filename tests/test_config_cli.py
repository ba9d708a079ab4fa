"""`python3 -m passivbot.config` and the shared CLI error boundary: messages and exit codes,
never a traceback for a config mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from passivbot.cli import run_cli
from passivbot.config import ConfigError, PROJECT_ROOT
from passivbot.errors import ConfigIssue


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "passivbot.config", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_valid_live_config_prints_resolved_json():
    r = run("live_settings/ETH-J1.json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["long"]["wallet_exposure_limit"] == 0.5
    assert "live config" in r.stderr


def test_valid_backtest_config_detected_and_resolved():
    r = run("backtest_configs/demo.json")
    assert r.returncode == 0, r.stderr
    assert "backtest config" in r.stderr
    assert json.loads(r.stdout)["taker_fee"] == 0.0005  # default filled in


def test_invalid_config_exit_2_all_issues_no_traceback(tmp_path: Path):
    p = tmp_path / "bad.json"
    d = json.loads((PROJECT_ROOT / "live_settings" / "ETH-J1.json").read_text())
    d["leverage"] = 200
    d["long"]["ddown_factr"] = d["long"].pop("ddown_factor")
    p.write_text(json.dumps(d))
    r = run(str(p))
    assert r.returncode == 2 and r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert f"config error in {p}:" in lines
    assert "  leverage = 200: must be >= 1 and <= 125" in lines
    assert any("did you mean 'ddown_factor'?" in ln for ln in lines)


def test_malformed_and_missing_files_exit_2(tmp_path: Path):
    p = tmp_path / "broken.json"
    p.write_text('{"symbol": ')
    r = run(str(p))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "malformed JSON at line 1, column 12" in r.stderr
    r = run("no-such-name")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "file not found" in r.stderr and "available: " in r.stderr


def test_run_cli_exit_codes(capsys: pytest.CaptureFixture[str]):
    def bad_config(argv: list[str]) -> int:
        raise ConfigError([ConfigIssue("f.json", "leverage", 0, "must be >= 1")])

    def interrupted(argv: list[str]) -> int:
        raise KeyboardInterrupt

    def bug(argv: list[str]) -> int:
        raise RuntimeError("a bug")

    with pytest.raises(SystemExit) as e:
        run_cli(bad_config, [])
    assert e.value.code == 2
    assert capsys.readouterr().err == "config error in f.json:\n  leverage = 0: must be >= 1\n"
    with pytest.raises(SystemExit) as e:
        run_cli(interrupted, [])
    assert e.value.code == 130
    with pytest.raises(RuntimeError):
        run_cli(bug, [])
    with pytest.raises(SystemExit) as e:
        run_cli(lambda argv: 3 if argv == ["x"] else 0, ["x"])
    assert e.value.code == 3
