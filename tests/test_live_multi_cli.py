"""start_bot.py with a multi-symbol config: validated before anything is sent (exit 2), then one
process trading every symbol of one (emulated) account until SIGTERM (exit 0)."""

import json
import signal

import numpy as np
import pytest

from harness.parity_multi import busy_multi_dict
from passivbot.data.bundled import load_bundled
from passivbot.emulator import Emulator
from passivbot.emulator.wallet import align_candles
from tests.test_live_cli import KEY, SECRET, Proc, poll, run_main

SYMS = ["ETHUSDT", "BTCUSDT"]


def write(tmp_path, cfg: dict):
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"tester": {"exchange": "binance", "key": KEY,
                                           "secret": SECRET}}))
    keys.chmod(0o600)
    path = tmp_path / "multi.json"
    path.write_text(json.dumps(cfg))
    return keys, path


@pytest.mark.parametrize("change,extra,message", [
    (None, ["--symbol", "ETHUSDT"], "--symbol applies to one-symbol configs"),
    ({"overrides": {"DOGEUSDT": {"long": {"min_markup": 0.01}}}}, [], "overrides.DOGEUSDT"),
    ({"total_wallet_exposure_limit": {"long": 20.0, "short": 1.0}}, [], "<= leverage"),
])
def test_bad_multi_config_exits_2_before_any_request(tmp_path, capsys, change, extra, message):
    cfg = busy_multi_dict(SYMS)
    cfg.update(change or {})
    keys, path = write(tmp_path, cfg)
    code = run_main(["binance", "tester", "--api-keys", str(keys), "--config", str(path),
                     "--emulator", "127.0.0.1:9", "--log-dir", str(tmp_path / "logs"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


async def test_one_process_trades_every_symbol_then_sigterm_leaves_orders(tmp_path):
    candles = [c[-1600:] for c in align_candles([np.array(load_bundled(s)) for s in SYMS])]
    emu = Emulator("binance", SYMS, candles, start_index=1440, api_key=KEY, api_secret=SECRET,
                   realism="minute")
    await emu.start()
    keys, path = write(tmp_path, busy_multi_dict(SYMS))
    argv = ["binance", "tester", "--api-keys", str(keys), "--config", str(path), "--emulator",
            f"127.0.0.1:{emu.port}", "--log-dir", str(tmp_path / "logs")]
    p = await Proc(tmp_path, "multi", argv).start()
    try:
        await poll(lambda: "running 2 symbols" in p.text(), 90)
        books = list(emu.accounts.values())
        await poll(lambda: all(b.open_orders for b in books), 30)
        assert all(b.hedge_mode for b in books)
        for _ in range(3):
            await emu.advance(1)
            await emu.wait_idle(0.2, 10)
        await poll(lambda: all(b.open_orders for b in books), 30)
    finally:
        p.p.send_signal(signal.SIGTERM)
        code = await p.wait(60)
        await emu.stop()
    assert code == 0, p.text()
    text = p.text()
    assert "2 symbols ETHUSDT, BTCUSDT" in text and "shared wallet exposure limit" in text
    for sym in ("ETH/USDT:USDT", "BTC/USDT:USDT"):
        assert f"left open on binance {sym}" in text
    assert KEY not in text and SECRET not in text
