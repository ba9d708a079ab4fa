"""start_bot.py with a multi-symbol config, as a trader runs it (real processes, the 2-symbol
emulator of Binance and of Bybit, a stub webhook on 127.0.0.1): everything the one-symbol
session has, per symbol.

- the status page (`status_page` with a token): `/api/status` and the HTML page show the account
  (the one wallet) and each symbol's positions, resting orders and fills as the emulator has
  them; without the token, 401;
- one Alerter for the account: every symbol's fills and stops reach the webhook, each message
  naming its symbol, at most one message per `min_interval_s`;
- a journal per symbol (`EXCHANGE-USER-SYMBOL.journal`) holding that symbol's fills, which
  `python3 -m passivbot.report` turns into a backtest's stats; after a restart the fills made
  while the bot was down are reported and journalled per symbol;
- console lines name their symbol; the account's bounded-loss file is named after the config;
- no key, secret or page token in anything written."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time

import aiohttp
import numpy as np
import pytest

from harness.parity_multi import busy_multi_dict
from passivbot.data.bundled import load_bundled
from passivbot.emulator import Emulator
from passivbot.emulator.wallet import align_candles
from passivbot.records import LONG, SHORT
from passivbot.report.__main__ import main as report_main
from passivbot.report.journal import read_journal
from tests.test_alerts import Stub, eventually
from tests.test_live_cli import KEY, SECRET, Proc, poll
from tests.test_live_multi_cli import write

SYMS = ["ETHUSDT", "BTCUSDT"]
PAGE_TOKEN = "pAg3-t0ken-7f3a9c1e"
INTERVAL = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fills_of(stub: Stub) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in SYMS}
    for b in stub.bodies:
        for e in b["events"]:
            if e["event"] == "fill":
                out[e["symbol"]].append(e)
    return out


async def advance_until_filled(emu, books, counts, minutes: int = 240) -> None:
    """Advance the emulator (5 minutes at a time) until every symbol has more fills than
    `counts`; the bot, if running, catches up after each step (the emulator idle)."""
    for _ in range(minutes // 5):
        if all(len(b.fills) > n for b, n in zip(books, counts)):
            return
        await emu.advance(5)
        await emu.wait_idle(0.3, 15)
    raise AssertionError(f"no fills on every symbol in {minutes} minutes: "
                         f"{[len(b.fills) for b in books]}")


async def get_status(port: int, token: str | None = PAGE_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/api/status", headers=headers) as r:
            return r.status, (await r.json() if r.status == 200 else None)


async def get_page(port: int, token: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/", params={"token": token}) as r:
            return r.status, await r.text()


def page_matches(d: dict | None, emu) -> bool:
    """The page's account and every symbol's positions and orders are the emulator's."""
    if d is None or abs(d["balance"] - emu.accounts[SYMS[0]].balance) > 1e-6:
        return False
    by = {s["symbol"]: s for s in d["symbols"]}
    for sym in SYMS:
        acc = emu.accounts[sym]
        want = sorted((o.price, o.qty) for o in acc.open_orders.values())
        got = sorted((o["price"], o["qty"]) for o in by[sym]["open_orders"])
        pos = {p["side"]: (p["size"], p["price"]) for p in by[sym]["positions"] if p["size"]}
        want_pos = {n: (acc.positions[k].size, acc.positions[k].price)
                    for k, n in ((LONG, "long"), (SHORT, "short")) if acc.positions[k].size}
        if got != want or pos != want_pos:
            return False
    return True


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_multi_session_page_alerts_journals_and_fills_while_down(exchange, tmp_path,
                                                                       monkeypatch):
    candles = [c[-1600:] for c in align_candles([np.array(load_bundled(s)) for s in SYMS])]
    emu = Emulator(exchange, SYMS, candles, start_index=1300, api_key=KEY, api_secret=SECRET,
                   realism="minute")
    await emu.start()
    stub = Stub()
    hook = await stub.start()
    port = free_port()
    cfg = busy_multi_dict(SYMS)
    cfg["alerts"] = {"url": hook, "min_interval_s": INTERVAL, "timeout_s": 2.0}
    cfg["status_page"] = {"port": port, "token_env": "PB_MULTI_PAGE_TOKEN"}
    monkeypatch.setenv("PB_MULTI_PAGE_TOKEN", PAGE_TOKEN)
    keys, path = write(tmp_path, cfg)
    keys.write_text(keys.read_text().replace('"binance"', f'"{exchange}"'))
    logs = tmp_path / "logs"
    argv = [exchange, "tester", "--api-keys", str(keys), "--config", str(path), "--emulator",
            f"127.0.0.1:{emu.port}", "--log-dir", str(logs)]
    books = [emu.accounts[s] for s in SYMS]
    journals = {s: logs / f"{exchange}-tester-{s}.journal" for s in SYMS}
    try:
        p1 = await Proc(tmp_path, "run1", argv).start()
        try:
            await poll(lambda: "running 2 symbols" in p1.text(), 90)
            await poll(lambda: all(b.open_orders for b in books), 30)
            await advance_until_filled(emu, books, [0, 0])
            # the page: the account and each symbol as the emulator has them (the bot
            # catches up with the last minute within a few seconds)
            assert (await get_status(port, None))[0] == 401
            assert (await get_status(port, "wrong"))[0] == 401
            await poll_async(lambda: get_status(port), lambda r: page_matches(r[1], emu), 30,
                             lambda: emu_text(emu))
            _, d = await get_status(port)
            assert d["exchange"] == exchange and d["mode"] == "paper"
            by = {s["symbol"]: s for s in d["symbols"]}
            assert list(by) == SYMS
            for sym, b in zip(SYMS, books):
                assert len(by[sym]["recent_fills"]) == len(b.fills) > 0
                assert sorted((f["price"], f["qty"]) for f in by[sym]["recent_fills"]) == \
                    sorted((f["price"], f["qty"]) for f in b.fills)
            assert (await get_page(port, "wrong"))[0] == 401
            status, page = await get_page(port, PAGE_TOKEN)
            assert status == 200 and f"2 symbols on {exchange}" in page
            for sym, b in zip(SYMS, books):
                part = page[page.index(f'<section id="{sym}">'):]
                part = part[:part.index("</section>")]
                assert f"Open orders ({len(b.open_orders)})" in part
                for o in b.open_orders.values():
                    assert f"{o.price:,.4f}" in part
                assert "no fills this session" not in part
                for f in b.fills:
                    assert f"{f['price']:,.4f}" in part
            # the alerts: each symbol's fills, in messages naming the symbol
            await eventually(lambda: all(len(fills_of(stub)[s]) == len(b.fills)
                                         for s, b in zip(SYMS, books)), timeout=30)
        finally:
            p1.p.send_signal(signal.SIGTERM)
            code1 = await p1.wait(60)
        assert code1 == 0, p1.text()
        await eventually(lambda: {e["symbol"] for b in stub.bodies for e in b["events"]
                                  if e["event"] == "stop"} == set(SYMS), timeout=10)
        for sym, b in zip(SYMS, books):
            got = fills_of(stub)[sym]
            assert all(e["text"].startswith(f"{sym} ") for e in got)
            assert sorted(e["text"].split(" @ ")[1].split(" ")[0] for e in got) == \
                sorted(f"{f['price']:g}" for f in b.fills)
        stops = [e["text"] for b in stub.bodies for e in b["events"] if e["event"] == "stop"]
        assert sorted(stops) == sorted(f"{s}: bot stopped: stopped by the user" for s in SYMS)
        t = stub.arrivals[:-1]  # one rate limit (the flush at exit does not wait)
        assert all(y - x >= INTERVAL * 0.9 for x, y in zip(t, t[1:])), t
        text1 = p1.text()
        for sym in SYMS:
            assert f"journal {sym} {journals[sym]} (python3 -m passivbot.report " \
                   f"{journals[sym]})" in text1
            assert f"INFO  {sym} FILL " in text1  # console lines name their symbol
        assert f"bounded-loss state file {logs / f'{exchange}-tester-MULTI-multi.risk.json'}" \
            in text1
        assert "alerts to http://127.0.0.1:" in text1
        bal = books[0].balance
        realized = sum(f["pnl"] for b in books for f in b.fills)
        fees = sum(f["fee"] for b in books for f in b.fills)
        assert f"INFO  account at shutdown: balance {bal:.2f} USDT" in text1
        assert f"realized {realized:+.4f} - fees {fees:.4f} = {realized - fees:+.4f} over 2 " \
               "symbols" in text1 and "status page http://127.0.0.1" in text1
        before = [len(b.fills) for b in books]
        for sym, b in zip(SYMS, books):  # the journal holds the symbol's fills
            j = read_journal(journals[sym])
            assert j["session"][0]["symbol"] == sym
            assert sorted((f["price"], f["qty"]) for f in j["fill"]) == \
                sorted((f["price"], f["qty"]) for f in b.fills)

        # down: the orders left open keep filling
        await advance_until_filled(emu, books, before)
        p2 = await Proc(tmp_path, "run2", argv).start()
        try:
            await poll(lambda: "running 2 symbols" in p2.text(), 90)
        finally:
            p2.p.send_signal(signal.SIGTERM)
            code2 = await p2.wait(60)
        assert code2 == 0, p2.text()
        text2 = p2.text()
        for sym, b, n in zip(SYMS, books, before):
            missed = len(b.fills) - n
            assert f"INFO  {sym} {missed} fill(s) while the bot was down" in text2, text2
            assert text2.count(f"{sym} FILL (while the bot was down") == missed
            j = read_journal(journals[sym])
            assert len(j["session"]) == 2
            assert sorted((f["price"], f["qty"]) for f in j["fill"]) == \
                sorted((f["price"], f["qty"]) for f in b.fills)
    finally:
        await stub.stop()
        await emu.stop()

    # the report: each symbol's journal -> the backtest's stats
    out = tmp_path / "reports"
    assert report_main([str(journals["ETHUSDT"]), "--out", str(out), "--no-plots"]) == 0
    stats = json.loads(next(out.rglob("stats.json")).read_text())
    assert stats["n_fills"] == len(books[0].fills)
    written = p1.text() + p2.text() + "".join(f.read_text() for f in logs.glob("*.log")) + \
        json.dumps(stub.bodies) + "".join(f.read_text() for f in journals.values())
    for secret in (KEY, SECRET, PAGE_TOKEN):
        assert secret not in written


def emu_text(emu) -> str:
    return "; ".join(f"{s}: balance {a.balance} "
                     f"pos {[(p.size, p.price) for p in a.positions.values()]} "
                     f"orders {sorted((o.price, o.qty) for o in a.open_orders.values())}"
                     for s, a in emu.accounts.items())


async def poll_async(fetch, pred, timeout: float, what=lambda: ""):
    """`fetch()` (awaited) until `pred(result)`, every 0.2 s, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        r = await fetch()
        if pred(r):
            return r
        assert time.monotonic() < deadline, f"condition not met in {timeout} s: {r}\n{what()}"
        await asyncio.sleep(0.2)
