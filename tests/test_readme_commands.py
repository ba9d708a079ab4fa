"""The README's everyday commands run as written, in a fresh copy of the repository (the files
git tracks, as a clone has them), offline, each bounded in time; commands that need the
internet, API keys or a person at a browser are skipped with the reason. Also: every link in
the README and docs/ resolves inside the repository.

`python3` in the commands is the virtualenv's, as after `source .venv/bin/activate`: the
test's interpreter directory is put first on PATH, exactly what `activate` does.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.procs import interrupt_all

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NEEDS_NETWORK = {
    "downloader.py": "downloads from the exchange (internet)",
    "eth.json": "needs the 2024 candles the downloader fetches (internet)",
    "jupyter lab": "interactive; the notebook runs headless in tests/test_notebook.py",
}
SLOW_S = int(os.environ.get("README_COMMAND_TIMEOUT", "900"))


def everyday_commands() -> list[str]:
    """Every command line (comment stripped) of the README's "Everyday commands" section."""
    section = README.split("## Everyday commands", 1)[1].split("\n## ", 1)[0]
    cmds = []
    for block in re.findall(r"```(?:text|bash|sh)?\n(.*?)```", section, re.S):
        for line in block.splitlines():
            cmd = line.split("  #", 1)[0].split(" # ", 1)[0].strip()
            if cmd:
                cmds.append(cmd)
    return cmds


COMMANDS = everyday_commands()


def skip_reason(cmd: str) -> str | None:
    for needle, why in NEEDS_NETWORK.items():
        if needle in cmd:
            return why
    if cmd.startswith("python3 start_bot.py") and "--emulator" not in cmd:
        return "live trading needs API keys and the exchange (internet)"
    return None


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The tracked files (and uncommitted edits to them) copied to a fresh folder."""
    dst = tmp_path_factory.mktemp("clone")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=ROOT, capture_output=True,
                           check=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dst / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            (dst / f.decode()).write_bytes(src.read_bytes())
    return dst


def shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)  # a fresh shell: the clone's folder is what python3 imports
    env["MPLBACKEND"] = "Agg"
    return env


def test_readme_lists_the_venv_and_the_everyday_commands():
    assert "source .venv/bin/activate" in README
    assert any(c.startswith("python3 backtest.py backtest_configs/demo.json") for c in COMMANDS)
    assert len(COMMANDS) >= 8


BATCH = [c for c in COMMANDS if not c.startswith("source ") and skip_reason(c) is None
         and "passivbot.emulator" not in c and "start_bot.py" not in c
         and "passivbot.report" not in c]


@pytest.mark.parametrize("cmd", BATCH)
def test_offline_command_runs_as_written(clone, cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, shell=True, cwd=clone, env=shell_env(), capture_output=True,
                       text=True, timeout=SLOW_S)
    assert p.returncode == 0, f"{cmd}\n{p.stderr[-3000:]}"
    assert "Traceback" not in p.stderr
    print(f"{cmd}: {time.monotonic() - t:.0f} s")


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if skip_reason(c)])
def test_online_command_skipped_with_reason(cmd):
    pytest.skip(f"{cmd!r}: {skip_reason(cmd)}")


def _wait_for(proc: subprocess.Popen, log: Path, needle: str, deadline_s: float) -> str:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        text = log.read_text(errors="replace") if log.exists() else ""
        if needle in text:
            return text
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode} before {needle!r}:\n{text[-3000:]}")
        time.sleep(0.2)  # polling a subprocess's log with a deadline
    pytest.fail(f"no {needle!r} within {deadline_s} s:\n{log.read_text()[-3000:]}")


def test_paper_trading_commands_run_as_written(clone):
    """The emulator and the paper bot, as written, until the bot trades; then Ctrl-C both.
    Then the session report command, when the bot wrote its journal."""
    emu_cmd = next(c for c in COMMANDS if "passivbot.emulator" in c)
    bot_cmd = next(c for c in COMMANDS if "start_bot.py" in c and "--emulator" in c)
    port = int(re.search(r"--port (\d+)", emu_cmd).group(1))
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"port {port} (the README's) is in use on this machine")
    env = shell_env()
    procs = []
    try:
        with open(clone / "emu.out", "w") as eo, open(clone / "bot.out", "w") as bo:
            emu = subprocess.Popen(shlex.split(emu_cmd), cwd=clone, env=env, stdout=eo,
                                   stderr=subprocess.STDOUT)
            procs.append(emu)
            _wait_for(emu, clone / "emu.out", "Ctrl-C to stop", 120)
            bot = subprocess.Popen(shlex.split(bot_cmd), cwd=clone, env=env, stdout=bo,
                                   stderr=subprocess.STDOUT)
            procs.append(bot)
            _wait_for(bot, clone / "bot.out", "running; Ctrl-C to stop", 300)
            _wait_for(bot, clone / "bot.out", "FILL ", 300)
            bot.send_signal(signal.SIGINT)
            assert bot.wait(timeout=120) == 0, (clone / "bot.out").read_text()[-3000:]
    finally:
        interrupt_all(procs, timeout=30)
    out = (clone / "bot.out").read_text()
    assert "Traceback" not in out and "stopped" in out
    report_cmd = next(c for c in COMMANDS if "passivbot.report" in c)
    journal = next((w for w in shlex.split(report_cmd) if w.endswith(".journal")), "")
    assert (clone / journal).is_file(), f"the bot wrote no {journal}"
    assert "FILL " in out and "summary at shutdown" in out  # what the trader sees
    p = subprocess.run(report_cmd, shell=True, cwd=clone, env=env, capture_output=True,
                       text=True, timeout=SLOW_S)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "session vs backtest" in p.stdout


# -- docs stand alone ---------------------------------------------------------------------
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_doc_link_resolves_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("#") or target.startswith("mailto:"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists() or ROOT.resolve() not in path.parents:
            bad.append(target)
    assert not bad, f"{doc.name}: links outside the repository or to missing files: {bad}"


@pytest.mark.parametrize("doc", [ROOT / "README.md", ROOT / "docs" / "configs.md",
                                 ROOT / "docs" / "notebook.md"], ids=lambda p: p.name)
def test_docs_name_no_file_a_clone_lacks(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text and "OPTIMIZER_NOTES.md" not in text
    assert not re.search(r"(?<!docs/)DESIGN\.md", text)


def test_the_code_names_no_file_a_clone_lacks():
    """Docstrings and comments point to the repository's copies (docs/design.md,
    docs/optimizer_notes.md), never to notes kept outside it."""
    files = [*ROOT.glob("*.py"), *ROOT.glob("*.ipynb"), *(ROOT / "passivbot").rglob("*.py"),
             *(ROOT / "bench").rglob("*.py")]
    bad = [f"{f.relative_to(ROOT)}: {m.group(0)}" for f in files
           for m in re.finditer(r"\.\./shared|/work/shared|OPTIMIZER_NOTES\.md|(?<!docs/)DESIGN\.md",
                                f.read_text(encoding="utf-8"))]
    assert len(files) > 50 and not bad, bad
