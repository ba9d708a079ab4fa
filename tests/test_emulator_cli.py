"""The paper-trading CLI: candle files load with or without a header; the server answers."""

import asyncio
import signal
import sys

import aiohttp
import numpy as np

from passivbot.emulator.__main__ import load_candles
from passivbot.emulator.testing import flat_candles


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
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
