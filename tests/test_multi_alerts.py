"""Alerts for several symbols on one account: ONE Alerter (one rate limit) shared by every
symbol's LiveView through `Alerter.for_symbol`, each message naming its symbol; a real MultiBot
on the 2-symbol emulator, the webhook a local stub (tests/test_alerts.py). Disconnections,
errors and stops of any symbol alert (fills: tests/test_multi_session_cli.py, start_bot.py)."""

from __future__ import annotations

import logging

from harness.emulator import flat_candles
from harness.parity import lockstep_options
from harness.parity_multi import busy_multi_dict, settle
from passivbot.config.multi import multi_config_from_dict
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import StopError
from passivbot.live.alerts import Alerter
from passivbot.live.multi import MultiBot
from passivbot.live.snapshot import FillView
from tests.test_alerts import T0, Stub, alerts_cfg, eventually

SYMS = ["ETHUSDT", "BTCUSDT"]
INTERVAL = 0.4


def events(stub: Stub) -> list[dict]:
    return [e for b in stub.bodies for e in b["events"]]


def test_for_symbol_names_the_symbol_in_every_text_and_event():
    al = Alerter(alerts_cfg("http://127.0.0.1:9/hook"), "binance-tester")
    eth, btc = al.for_symbol("ETHUSDT"), al.for_symbol("BTCUSDT")
    eth.on_fill("ETHUSDT", FillView(T0, "buy", "long", 0.5, 2000.0, 0.2, 0.0, maker=True))
    btc.on_error(T0, "order rejected -5022")
    btc.on_disconnect(T0)
    eth.on_reconnect(T0 + 5000, 5.0)
    eth.on_stop(T0, "Ctrl-C")
    body = al.payload(list(al.pending), 0)
    assert [(e["symbol"], e["text"]) for e in body["events"]] == [
        ("ETHUSDT", "ETHUSDT long buy 0.5 @ 2000 (maker, fee 0.2000, PnL +0.0000)"),
        ("BTCUSDT", "BTCUSDT: error: order rejected -5022"),
        ("BTCUSDT", "BTCUSDT: disconnected since 00:00:00 UTC: prices may be stale, orders "
                    "stay on the exchange"),
        ("ETHUSDT", "ETHUSDT: reconnected after 5 s"),
        ("ETHUSDT", "ETHUSDT: bot stopped: Ctrl-C")]
    assert body["text"].startswith("passivbot binance-tester: 5 events\n- ETHUSDT long buy")
    # one queue: both symbols' events wait for the account's one rate limit
    assert len(al.pending) == 5


async def test_multibot_disconnections_errors_and_stops_of_each_symbol_alert_through_one_limit():
    n = 30
    eth, btc = flat_candles(n, 2000.0, spread=1.0), flat_candles(n, 50_000.0, spread=10.0)
    emu = Emulator("binance", SYMS, [eth, btc], start_index=1, realism="minute")
    await emu.start()
    stub = Stub()
    url = await stub.start()
    cfg = multi_config_from_dict(busy_multi_dict(SYMS, total=0.5), "test")
    ex = create_exchange("binance", api_key="k", secret="s", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    mb = MultiBot("binance", ex, cfg, logging.getLogger("test.multi.alerts"),
                  options=lockstep_options())
    al = Alerter(alerts_cfg(url, min_interval_s=INTERVAL), "binance-tester")
    for sym, bot in mb.bots.items():
        bot.view.alerter = al.for_symbol(sym)
    await al.start()
    try:
        await mb.start()
        await settle(mb, emu)
        # a network drop: every symbol's price streams go down, then come back
        await emu.faults.drop_websockets()
        await eventually(lambda: all(b.view.disconnected_since for b in mb.bots.values()))
        want = {(ev, s) for ev in ("disconnected", "reconnected") for s in SYMS}
        for _ in range(10):  # new minutes: the price streams deliver again ("reconnected")
            if {(e["event"], e.get("symbol")) for e in events(stub)} >= want:
                break
            await emu.advance(1)
            await settle(mb, emu, timeout=20)
            await eventually(lambda: not al.pending, timeout=5)
        assert {(e["event"], e.get("symbol")) for e in events(stub)} >= want
        # errors: every symbol's cycle fails (the exchange answers 500s for a while)
        emu.faults.http_errors(500, count=40)
        for bot in mb.bots.values():
            bot.request_reconcile()
        await eventually(lambda: {e["symbol"] for e in events(stub) if e["event"] == "error"}
                         == set(SYMS), timeout=30)
        # a stop-class error on BTCUSDT stops the account: both symbols' stops alert
        mb.bots["BTCUSDT"].fail(StopError("invalid API key (code -2015)"))
        await eventually(lambda: mb.stopping.is_set())
    finally:
        await mb.stop()
        await al.close()
        await stub.stop()
        await emu.stop()
    evs = events(stub)
    for e in evs:  # every message names its symbol
        assert e["symbol"] in SYMS and e["text"].startswith(e["symbol"] + ": "), e
    errors = [e for e in evs if e["event"] == "error"]
    assert errors and all(e["text"].startswith(f"{e['symbol']}: error: cycle failed: ")
                          for e in errors)
    stops = {e["symbol"]: e["text"] for e in evs if e["event"] == "stop"}
    assert stops == {s: f"{s}: bot stopped: invalid API key (code -2015)" for s in SYMS}
    # one rate limit for the account: messages at least INTERVAL apart (but the flush at
    # close, which does not wait), several symbols' events together in one message
    t = stub.arrivals[:-1]
    assert len(t) >= 3 and all(b - a >= INTERVAL * 0.9 for a, b in zip(t, t[1:])), t
    assert any(len({e["symbol"] for e in b["events"]}) == 2 for b in stub.bodies)
    assert len(stub.bodies) < len(evs)
