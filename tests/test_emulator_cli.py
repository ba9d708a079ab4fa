"""The paper-trading CLI: candle files load with or without a header; the server answers; every
mistake is a message and exit 2 (never a traceback); the end of the data prints a summary and
exits or keeps serving; a client of the other venue reads what is wrong, not a bare 404."""

import asyncio
import signal
import sys

import aiohttp
import ccxt
import numpy as np
import pytest

from passivbot.cli import run_cli
from passivbot.emulator import Emulator
from passivbot.emulator.__main__ import load_candles, main
from harness.emulator import flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange


def test_load_candles_csv_with_and_without_header_gz_and_npy(tmp_path):
    c = flat_candles(5, 100.0, 1.0)
    np.savetxt(tmp_path / "a.csv", c, delimiter=",", fmt="%.6f")
    np.savetxt(tmp_path / "b.csv", c, delimiter=",", fmt="%.6f",
               header="timestamp,open,high,low,close,volume", comments="")
    np.save(tmp_path / "c.npy", c)
    import gzip
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        np.savetxt(f, c, delimiter=",", fmt="%.6f")
    for name in ("a.csv", "b.csv", "c.npy", "d.csv.gz"):
        assert np.allclose(load_candles(str(tmp_path / name), "ETHUSDT"), c), name


def bad_inputs(tmp_path):
    short = tmp_path / "short.csv"
    np.savetxt(short, flat_candles(20, 100.0, 1.0), delimiter=",", fmt="%.6f")
    junk = tmp_path / "junk.csv"
    junk.write_text("this,is\nnot,candles\n")
    five = tmp_path / "five.npy"
    np.save(five, np.zeros((10, 3)))
    return [
        (["--speed", "0"], "--speed"), (["--speed", "-5"], "--speed"),
        (["--speed", "nan"], "--speed"), (["--speed", "fast"], "--speed"),
        (["--candles", str(tmp_path / "missing.csv")], "no such file"),
        (["--candles", str(short)], "--start-index 1440"),
        (["--candles", str(junk)], "not a candles file"),
        (["--candles", str(five)], "6 columns"),
        (["--symbol", "FOOUSDT"], "FOOUSDT"),
        (["--host", "0.0.0.0"], "127.0.0.1 only"),
        (["--port", "70000"], "--port"),
        (["--exchange", "kraken"], "--exchange"),
    ]


def test_every_cli_mistake_is_a_message_and_exit_2(tmp_path, capsys):
    for argv, needle in bad_inputs(tmp_path):
        with pytest.raises(SystemExit) as e:
            run_cli(main, argv)
        err = capsys.readouterr().err
        assert e.value.code == 2, (argv, err)
        assert needle in err and "Traceback" not in err, (argv, err)


async def test_a_mistake_in_a_real_process_has_no_traceback():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passivbot.emulator", "--speed", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and b"--speed" in err and b"Traceback" not in err


async def test_cli_serves_on_localhost_until_interrupted():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passivbot.emulator", "--port", "0", "--speed", "600",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/fapi/v1/time") as r:
                assert (await r.json())["serverTime"] > 0
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:  # never leave a server behind, even when the test failed
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("at_end", ["exit", "serve"])
async def test_end_of_data_prints_a_summary_then_exits_or_keeps_serving(tmp_path, at_end):
    path = tmp_path / "c.npy"
    np.save(path, flat_candles(30, 2000.0, 1.0))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passivbot.emulator", "--port", "0", "--speed", "3000",
        "--candles", str(path), "--start-index", "20", "--at-end", at_end,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = first.split(" at ")[1].split()[0]
        done = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert done.startswith("out of candles after 10 minutes: 0 fills")
        assert "wallet balance 1000.00 USDT (start 1000.00, +0.00)" in done
        if at_end == "exit":
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        else:
            assert "clock stopped" in (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            async with aiohttp.ClientSession() as s:
                async with s.get(url + "/fapi/v1/time") as r:
                    assert r.status == 200
            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("server,client", [("binance", "bybit"), ("bybit", "binance")])
async def test_a_client_of_the_other_venue_reads_which_emulator_this_is(server, client):
    emu = Emulator(server, "ETHUSDT", flat_candles(20, 2000.0, 1.0), start_index=5)
    url = await emu.start()
    ex = create_exchange(client, api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        with pytest.raises(ccxt.BaseError) as e:
            await ex.fetch_time()
        assert f"passivbot {server} emulator" in str(e.value)
        assert f"--exchange {client}" in str(e.value)
    finally:
        await ex.close()
        await emu.stop()
