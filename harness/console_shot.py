"""How docs/img/console.png and docs/img/status_page.png are made: a paper session as a user
runs it, its console rendered and its status page photographed.

    python3 -m harness.console_shot [--seconds 90] [--speed 120] [--out docs/img/console.png]
        [--page-out docs/img/status_page.png] [--multi]

Starts the emulator (`python3 -m passivbot.emulator`, bundled candles, realistic mode, funding
on) and `start_bot.py binance ETH-J1 --emulator ...` (`--multi`: six symbols and
`multi-example`, pictures `console_multi.png`, the session before the shutdown summaries, and
`status_page_multi.png`) as subprocesses, the
live config a copy with `"status_page": {"port": P}` added; after `--seconds` takes a headless
Chromium screenshot of the page at http://127.0.0.1:P/, stops the bot with SIGINT and renders
the console's last lines (colours by what a line is: fills, warnings, the shutdown summary) to
a PNG with headless Chromium. Needs Chromium (`apt-get install chromium`); bounded in time
(every wait has a deadline).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.procs import interrupt_all

ROOT = Path(__file__).resolve().parents[1]
MULTI_SYMBOLS = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "LTCUSDT"]
COLORS = (("summary", "#6cb6ff"), ("    ", "#6cb6ff"), (" FILL ", "#9ccc65"),
          ("WARNING", "#f0b35e"), ("ERROR", "#ff7b72"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line `proc` prints, or RuntimeError after `timeout` seconds (or if it exits
    without one): a start-up that hangs must not hang the script."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise RuntimeError(f"{proc.args[2:4]}: no output within {timeout:.0f} s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{proc.args[2:4]}: exited with code {proc.wait(timeout=10)}")
    return line


def wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, max(len(text), 1), width)]


def render(lines: list[str], out: Path, width_chars: int = 132) -> None:
    rows = []
    in_summary = False
    for ln in lines:
        in_summary = in_summary or "summary at shutdown" in ln
        color = "#e6e6e6"
        for key, c in COLORS:
            if key in ln and (key != "    " or in_summary):
                color = c
                break
        if ln.rstrip().endswith(" stopped"):
            color = "#e6e6e6"
        rows += [f'<div style="color:{color}">{html.escape(part) or "&nbsp;"}</div>'
                 for part in wrap(ln, width_chars)]
    page = ("<html><body style=\"margin:6px;background:#1e1e1e;font:12.5px/1.45 'DejaVu Sans "
            "Mono',monospace;white-space:pre\">" + "".join(rows) + "</body></html>")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        sys.exit("Chromium not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "console.html"
        page_path.write_text(page, encoding="utf-8")
        height = 14 + 18 * len(rows)
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={tmp}/u",
                        f"--window-size=1196,{height}", f"--screenshot={out.resolve()}",
                        page_path.as_uri()], check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def page_shot(url: str, out: Path, size: str = "1100,1500") -> None:
    """The status page at `url` as headless Chromium renders it (what a browser shows)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        sys.exit("Chromium not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={tmp}/u",
                        f"--window-size={size}", f"--screenshot={out.resolve()}", url],
                       check=True, timeout=120, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def with_status_page(user: str, folder: Path, port: int) -> Path:
    """A copy of live_settings/USER.json in `folder` with the status page on `port`."""
    d = json.loads((ROOT / "live_settings" / f"{user}.json").read_text(encoding="utf-8"))
    d["status_page"] = {"port": port}
    path = folder / f"{user}.json"
    path.write_text(json.dumps(d, indent=2), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--speed", type=float, default=120.0)
    ap.add_argument("--lines", type=int, default=42, help="console lines in the picture")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "console.png")
    ap.add_argument("--page-out", type=Path, default=ROOT / "docs" / "img" / "status_page.png",
                    help="the status page's screenshot, taken just before Ctrl-C")
    ap.add_argument("--multi", action="store_true",
                    help="multi-example on six symbols (console and page to *_multi.png)")
    args = ap.parse_args()
    if args.multi:
        user, symbols = "multi-example", MULTI_SYMBOLS
        if args.out == ap.get_default("out"):
            args.out = ROOT / "docs" / "img" / "console_multi.png"
        if args.page_out == ap.get_default("page_out"):
            args.page_out = ROOT / "docs" / "img" / "status_page_multi.png"
        if args.lines == ap.get_default("lines"):
            args.lines = 20  # six symbols' status lines wrap: keep the picture modest
    else:
        user, symbols = "ETH-J1", ["ETHUSDT"]
    port, page_port = free_port(), free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as logs:
        cfg = with_status_page(user, Path(logs), page_port)
        emu = subprocess.Popen([sys.executable, "-m", "passivbot.emulator", "--exchange",
                                "binance", "--symbol", *symbols, "--port", str(port),
                                "--speed", str(args.speed)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        bot = None
        try:
            first_line(emu, 120.0)  # "binance emulator for ETHUSDT at ..." once it listens
            # run in an empty folder so the log paths read `logs/...` as in a clone
            bot = subprocess.Popen([sys.executable, str(ROOT / "start_bot.py"), "binance",
                                    user, "--config", str(cfg), "--emulator",
                                    f"127.0.0.1:{port}", "--log-dir", "logs",
                                    "--status-every", "15"], cwd=logs, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(args.seconds)  # the session itself: real time is the point here
            page_shot(f"http://127.0.0.1:{page_port}/", args.page_out)
            bot.send_signal(signal.SIGINT)
            text, _ = bot.communicate(timeout=60)
        finally:
            interrupt_all((bot, emu))  # the bot first: it must not outlive its exchange
    # the log, not the config echo; the temporary config's folder shown as a clone's would be
    lines = [ln.replace(str(cfg), f"live_settings/{user}.json") for ln in text.splitlines()
             if ln[:2].isdigit()]
    if args.multi:  # six symbols' shutdown summaries fill any picture: show the session
        cut = next((i for i, ln in enumerate(lines) if "left open on" in ln), len(lines))
        lines = lines[:cut]
    render(lines[-args.lines:], args.out)
    print(f"console: {args.out} ({len(lines)} log lines, last {args.lines} shown)")
    print(f"status page: {args.page_out}")


if __name__ == "__main__":
    main()
