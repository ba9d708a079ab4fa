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


# -- issue 20: absurd input, unwritable folders, likely unit slips ---------------------------
DEEP = b"[" * 50_000 + b"]" * 50_000
BIG_INT = b'{"leverage": ' + b"7" * 5000 + b"}"


@pytest.mark.parametrize("content,needle", [(DEEP, "nested too deeply"),
                                            (BIG_INT, "too many digits")])
def test_config_module_on_deep_json_and_huge_integer_exits_2_naming_file(tmp_path, content,
                                                                         needle):
    p = tmp_path / "absurd.json"
    p.write_bytes(content)
    r = run(str(p))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"config error in {p}:" in r.stderr and needle in r.stderr


def test_run_cli_recursion_error_is_exit_2_with_advice(capsys):
    def deep(argv):
        return json.loads("[" * 50_000 + "]" * 50_000)

    with pytest.raises(SystemExit) as e:
        run_cli(deep, [])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "nested too deeply" in err and "PASSIVBOT_TRACEBACK" in err


def test_run_cli_numba_cache_error_is_exit_2_and_other_runtime_errors_stay_bugs(capsys):
    def no_cache(argv):
        raise RuntimeError("cannot cache function 'f': no locator available for file 'x.py'")

    with pytest.raises(SystemExit) as e:
        run_cli(no_cache, [])
    assert e.value.code == 2 and "NUMBA_CACHE_DIR" in capsys.readouterr().err


def test_no_writable_numba_cache_location_exits_2_before_any_compile(tmp_path):
    """Real subprocess: numba may use only the user folder, which is not writable (as a
    read-only home with a read-only install leaves numba no locator)."""
    env = dict(__import__("os").environ, NUMBA_CACHE_DIR="/proc/passivbot-no-such-dir",
               NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator")
    r = subprocess.run([sys.executable, "backtest.py", "backtest_configs/demo.json", "-c",
                        "live_settings/ETH-J1.json", "--no-plots", "--results",
                        str(tmp_path / "r")], cwd=PROJECT_ROOT, capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert "NUMBA_CACHE_DIR=/proc/passivbot-no-such-dir is not writable" in r.stderr
    assert not (tmp_path / "r").exists()


def test_check_output_dir_creates_or_names_the_problem(tmp_path):
    from passivbot.cli import check_output_dir
    from passivbot.errors import InputError

    assert check_output_dir(tmp_path / "a" / "b", "--log-dir").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"--log-dir .*/f: is a file, not a folder"):
        check_output_dir(tmp_path / "f", "--log-dir")
    with pytest.raises(InputError, match=r"--results .*/f/sub: not writable \(Not a directory\)"):
        check_output_dir(tmp_path / "f" / "sub", "--results")
    with pytest.raises(InputError, match="not writable"):
        check_output_dir("/proc/passivbot-logs", "--log-dir")


def _slipped(**side) -> Path:
    d = json.loads((PROJECT_ROOT / "live_settings" / "ETH-J1.json").read_text())
    d["long"].update(side)
    return d


def test_unit_slip_warnings_say_the_percent_reading_and_the_likely_value():
    from passivbot.config import live_config_from_dict
    from passivbot.config.sanity import unit_slip_warnings

    d = _slipped(min_markup=0.4, wallet_exposure_limit=5.0)
    d["leverage"] = 20
    w = unit_slip_warnings(live_config_from_dict(d, "x.json"))
    assert ("long.wallet_exposure_limit = 5 means a position worth 500 % of the wallet balance;"
            " values are ratios, not percent: did you mean 0.05 (5 %)?") in w
    assert any(x.startswith("long.min_markup = 0.4 means a first take-profit 40 % beyond") and
               "did you mean 0.004 (0.4 %)?" in x for x in w)
    assert len(w) == 2
    assert unit_slip_warnings(live_config_from_dict(_slipped(), "x.json")) == []


def test_min_entry_warning_hand_computed():
    from passivbot.config import load_live_config
    from passivbot.config.sanity import min_entry_warnings

    cfg = load_live_config("ETH-J1")  # long 0.5 x 0.02, short 0.25 x 0.02
    w = min_entry_warnings(cfg, 1000.0, 20.0)
    # long: 1000 x 0.5 x 0.02 = 10 < 20 -> 2x; needs pct 20/500 = 0.04 or balance 20/0.01=2000
    assert w[0] == ("long: first entry 1000 x 0.5 x 0.02 = 10 USDT is below the exchange minimum"
                    " (20 USDT) and will be raised to it (2x the configured size); set "
                    "initial_qty_pct >= 0.04 or a balance >= 2000 USDT to size it yourself")
    assert "= 5 USDT" in w[1] and "(4x the configured size)" in w[1]
    assert min_entry_warnings(cfg, 4000.0, 20.0) == []
    assert "will not trade" in min_entry_warnings(cfg, 30.0, 20.0)[0]  # budget 15 < 20


def test_config_cli_prints_warnings_and_still_exits_0(tmp_path):
    p = tmp_path / "slip.json"
    p.write_text(json.dumps(_slipped(min_markup=0.4)))
    r = run(str(p))
    assert r.returncode == 0, r.stderr
    assert "warning: long.min_markup = 0.4 means" in r.stderr
    r = run("backtest_configs/demo.json")
    assert r.returncode == 0
    assert "warning: live_settings/ETH-J1.json: long: first entry" in r.stderr


def test_one_default_starting_balance():
    from passivbot.config.backtest import BACKTEST_SCHEMA
    from passivbot.config.sanity import DEFAULT_STARTING_BALANCE

    spec = next(f for f in BACKTEST_SCHEMA if f.name == "starting_balance")
    assert spec.default == DEFAULT_STARTING_BALANCE == 1000.0


def test_numba_cache_prune_spares_versions_in_use(tmp_path):
    """Old source versions beyond KEEP_VERSIONS are dropped, but never one used within
    IN_USE_S: another checkout's process may be compiling into it right now."""
    import os

    from passivbot import _numba_cache as nc

    now = 1_000_000_000.0
    ages = {"keep": 0, "a": 10, "b": 20, "c": 30, "d": 40, "e": 50,
            "old1": nc.IN_USE_S + 60, "old2": nc.IN_USE_S + 70}
    for name, age in ages.items():
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (now - age, now - age))
    nc._prune(tmp_path, tmp_path / "keep", now=now)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["a", "b", "c", "d", "e", "keep"]  # recent ones stay past KEEP_VERSIONS
    (tmp_path / "e").rmdir()
    for k, name in enumerate("abcd"):  # all stale now, a the newest
        t = now - nc.IN_USE_S - 1 - k
        os.utime(tmp_path / name, (t, t))
    nc._prune(tmp_path, tmp_path / "keep", now=now)
    # the newest KEEP_VERSIONS - 1 stale ones stay beside the one in use
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "keep"]
