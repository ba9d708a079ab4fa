"""start_bot.py as a user runs it: start-up validation (exit 2, nothing sent), a real
subprocess against the emulator (SIGKILL, restart adopting orders, SIGTERM leaving orders
with a warning), a stop-class error (bad secret: exit 1), and no secret in anything written."""

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from passivbot.cli import run_cli
from passivbot.config import live_config_to_dict, load_live_config, side_params
from passivbot.emulator import Emulator
from passivbot.live.main import main
from harness.live import (
    emulator_book, expected_orders, fall_then_rise, subscribed, wanted_book,
)
from passivbot.records import LONG

ROOT = Path(__file__).resolve().parents[1]
KEY = "tK3y9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1"
SECRET = "tS3cr3t0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8"
CFG = load_live_config("ETH-J1")
PARAMS = np.stack([side_params(CFG.long), side_params(CFG.short)])


def write_inputs(tmp_path: Path, exchange="binance", user="tester", mode=0o600, config=None):
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({user: {"exchange": exchange, "key": KEY, "secret": SECRET}}))
    os.chmod(keys, mode)
    cfg = tmp_path / "tester.json"
    cfg.write_text(json.dumps(config or live_config_to_dict(CFG)))
    return keys, cfg


def run_main(argv):
    try:
        run_cli(main, argv)
    except SystemExit as e:
        return e.code
    return None


@pytest.fixture(params=["binance"])
async def emu(request):
    e = Emulator(request.param, "ETHUSDT", fall_then_rise(), start_index=1440, api_key=KEY,
                 api_secret=SECRET)
    await e.start()
    yield e
    await e.stop()


def bad_config():
    d = live_config_to_dict(CFG)
    d["leverage"] = 0
    return d


@pytest.mark.parametrize("case,message", [
    ("missing_key_file", "key file not found"),
    ("missing_user", "user not found in key file"),
    ("exchange_mismatch", "exchange mismatch"),
    ("bad_config", "leverage"),
    ("bad_symbol", "must look like ETHUSDT"),
    ("missing_config", "file not found"),
    ("log_dir_is_a_file", "--log-dir"),
])
async def test_startup_errors_exit_2_with_message_and_send_nothing(case, message, emu, tmp_path,
                                                                  capsys):
    keys, cfg = write_inputs(tmp_path, exchange="bybit" if case == "exchange_mismatch" else
                             "binance", config=bad_config() if case == "bad_config" else None)
    user = "someone" if case == "missing_user" else "tester"
    argv = ["binance", user, "--api-keys",
            str(tmp_path / "nope.json") if case == "missing_key_file" else str(keys),
            "--config", str(tmp_path / "nope-cfg.json") if case == "missing_config" else str(cfg),
            "--emulator", f"127.0.0.1:{emu.port}", "--log-dir", str(tmp_path / "logs")]
    if case == "log_dir_is_a_file":
        (tmp_path / "logs").write_text("not a folder")
    if case == "bad_symbol":
        argv += ["--symbol", "eth"]
    code = await asyncio.to_thread(run_main, argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert sum(emu.counters["requests"].values()) == 0 and emu.counters["orders_created"] == 0


async def test_unit_slips_are_warned_about_before_the_bot_starts(emu, tmp_path, capsys):
    d = live_config_to_dict(CFG)
    d["long"]["min_markup"] = 0.4
    keys, cfg = write_inputs(tmp_path, config=d)
    (tmp_path / "logs").write_text("a file: the bot stops before connecting")
    code = await asyncio.to_thread(run_main, [
        "binance", "tester", "--api-keys", str(keys), "--config", str(cfg), "--emulator",
        f"127.0.0.1:{emu.port}", "--log-dir", str(tmp_path / "logs")])
    out, err = capsys.readouterr()
    assert code == 2 and "is a file, not a folder" in err
    assert "warning: long.min_markup = 0.4 means a first take-profit 40 % beyond" in out
    assert "did you mean 0.004" in out
    assert sum(emu.counters["requests"].values()) == 0


async def test_status_page_port_in_use_exits_2_before_any_request(emu, tmp_path, capsys):
    import socket

    d = live_config_to_dict(CFG)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        d["status_page"] = {"port": busy.getsockname()[1]}
        keys, cfg = write_inputs(tmp_path, config=d)
        code = await asyncio.to_thread(run_main, [
            "binance", "tester", "--api-keys", str(keys), "--config", str(cfg), "--emulator",
            f"127.0.0.1:{emu.port}", "--log-dir", str(tmp_path / "logs")])
    err = capsys.readouterr().err
    assert code == 2 and "status_page.port" in err and "choose another port" in err, err
    assert "Traceback" not in err and emu.counters["orders_created"] == 0


async def test_key_file_readable_by_others_is_warned_about(tmp_path, capsys):
    keys, cfg = write_inputs(tmp_path, mode=0o644, config=bad_config())
    code = await asyncio.to_thread(run_main, ["binance", "tester", "--api-keys", str(keys),
                                              "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and "readable by group/others" in err and "chmod 600" in err


# -- subprocess ----------------------------------------------------------------------------
class Proc:
    def __init__(self, tmp_path: Path, name: str, argv: list):
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        self.argv = argv

    async def start(self):
        self.p = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "start_bot.py"), *self.argv, cwd=str(ROOT),
            stdout=open(self.out, "w"), stderr=open(self.err, "w"),
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
        return self

    def text(self):
        return self.out.read_text() + self.err.read_text()

    async def wait(self, timeout=20):
        return await asyncio.wait_for(self.p.wait(), timeout)


async def poll(pred, timeout, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(every)
    raise AssertionError("condition not met in time")


def at_ideal(emu):
    exp = wanted_book(expected_orders(emu.account, emu.candles, 0, PARAMS,
                                      emu.spec.market_array()))
    return emulator_book(emu.account) == exp


async def settled_at_ideal(emu, timeout=20):
    """Ideal book, stable across an idle emulator (the subprocess finished its cycle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await emu.wait_idle(0.15, timeout)
        if at_ideal(emu):
            await emu.wait_idle(0.15, timeout)
            if at_ideal(emu):
                return
        await asyncio.sleep(0.05)
    exp = wanted_book(expected_orders(emu.account, emu.candles, 0, PARAMS,
                                      emu.spec.market_array()))
    got = emulator_book(emu.account)
    raise AssertionError(f"not at the ideal book at minute {emu.clock}: missing "
                         f"{sorted(set(exp) - set(got))}, extra {sorted(set(got) - set(exp))}")


@pytest.mark.parametrize("emu", ["binance", "bybit"], indirect=True)
async def test_subprocess_sigkill_restart_adopts_then_sigterm_leaves_orders_no_secrets(
        emu, tmp_path):
    keys, cfg = write_inputs(tmp_path, exchange=emu.exchange)
    argv = [emu.exchange, "tester", "--api-keys", str(keys), "--config", str(cfg), "--emulator",
            f"127.0.0.1:{emu.port}", "--log-dir", str(tmp_path / "logs"), "--status-every", "0.5",
            "--summary-every", "1"]
    p1 = await Proc(tmp_path, "run1", argv).start()
    try:
        await poll(lambda: "running" in p1.out.read_text() and subscribed(emu), 60)
        await settled_at_ideal(emu)
        assert emu.account.hedge_mode and emu.account.leverage == CFG.leverage
        while emu.account.positions[LONG].size == 0.0 or emu.clock < 1440 + 40:
            # Five minutes at a time: the bot runs its real-exchange clock (local clock, close
            # grace), so each jump of the emulator's clock costs it one grace period.
            await emu.advance(5)
            await settled_at_ideal(emu)
    finally:
        p1.p.kill()  # SIGKILL: no shutdown code runs
    await p1.wait()
    ids, created = set(emu.account.open_orders), emu.counters["orders_created"]
    assert len(ids) >= 3

    p2 = await Proc(tmp_path, "run2", argv).start()
    try:
        await poll(lambda: "running" in p2.out.read_text() and subscribed(emu), 60)
        await settled_at_ideal(emu)
        assert set(emu.account.open_orders) == ids  # adopted, no duplicate, nothing replaced
        assert emu.counters["orders_created"] == created
        assert "adopted: long" in p2.out.read_text()
        # the journal of run 1 (killed) tells run 2 where to look: nothing filled meanwhile
        assert "no fills while the bot was down" in p2.out.read_text()
        await emu.advance(1)
        await settled_at_ideal(emu)
        await poll(lambda: "| balance" in p2.out.read_text(), 10)  # a status line
        await poll(lambda: "summary market time" in p2.out.read_text(), 10)  # a summary
    finally:
        p2.p.send_signal(signal.SIGTERM)
        code = await p2.wait()
    assert code == 0
    text = p2.text()
    assert f"{len(emu.account.open_orders)} order(s) left open" in text
    assert emu.account.open_orders and emu.account.positions[LONG].size > 0
    written = p1.text() + text + "".join(
        f.read_text() for f in (tmp_path / "logs").glob("*.log"))
    assert re.search(r"FILL \[market \d\d-\d\d \d\d:\d\d\] long entry [\d.]+ @ [\d.]+ maker fee",
                     written)  # paper mode: the emulator's market time on each fill
    assert KEY not in written and SECRET not in written


async def test_wrong_secret_stops_cleanly_exit_1_without_leaking(emu, tmp_path):
    keys, cfg = write_inputs(tmp_path)
    d = json.loads(keys.read_text())
    d["tester"]["secret"] = SECRET[::-1]
    keys.write_text(json.dumps(d))
    os.chmod(keys, 0o600)
    p = await Proc(tmp_path, "bad", ["binance", "tester", "--api-keys", str(keys), "--config",
                                     str(cfg), "--emulator", f"127.0.0.1:{emu.port}",
                                     "--log-dir", str(tmp_path / "logs")]).start()
    code = await p.wait(60)
    text = p.text() + "".join(f.read_text() for f in (tmp_path / "logs").glob("*.log"))
    assert code == 1 and "stopped:" in text and "Traceback" not in text
    assert emu.counters["orders_created"] == 0
    assert KEY not in text and SECRET not in text and SECRET[::-1] not in text


def test_emulator_mode_never_reads_the_real_key_file(tmp_path, monkeypatch):
    """Regression: with --emulator and a default api-keys.json holding USER, the real key pair
    was sent to the (local or not) emulator. Paper trading must use placeholders."""
    from passivbot.live import main as live_main

    real = tmp_path / "api-keys.json"
    real.write_text('{"ETH-J1": {"exchange": "binance", "key": "REALKEY123", "secret": "REALSECRET456"}}')
    real.chmod(0o600)
    monkeypatch.setattr(live_main, "PROJECT_ROOT", tmp_path)
    seen = {}

    def fake_load(path, user, exchange):
        seen["called"] = True
        return "REALKEY123", "REALSECRET456", []

    monkeypatch.setattr(live_main, "load_api_keys", fake_load)

    class Stop(Exception):
        pass

    def fake_create(exchange, *, api_key, secret, **kw):
        seen["key"], seen["secret"] = api_key, secret
        raise Stop

    import passivbot.exchanges.ccxt_factory as factory

    monkeypatch.setattr(factory, "create_exchange", fake_create)
    try:
        live_main.main(["binance", "ETH-J1", "--emulator", "127.0.0.1:1"])
    except Stop:
        pass
    assert "called" not in seen
    assert seen.get("key") == live_main.PLACEHOLDER_KEY and seen.get("secret") == live_main.PLACEHOLDER_SECRET
