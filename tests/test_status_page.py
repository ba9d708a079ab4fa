"""The bot's read-only status page: content, token, read-only, secrets never shown; and the
page as a real headless Chromium renders it (screenshot checked), skipped with a printed
reason when Chromium is not installed (.ci/run installs Debian's `chromium`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer

from passivbot.config import live_config_to_dict, load_live_config
from passivbot.config.live import live_config_from_dict
from passivbot.errors import InputError
from passivbot.live.snapshot import (
    FillView, OrderView, PositionView, StatusRecorder, StatusSnapshot, scrub,
)
from passivbot.live.status_page import make_app, render_html, start_status_page

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_746_403_200_000  # 2025-05-05 00:00 UTC
HOOK = "https://api.telegram.org/bot123:SEKRIT-hook-token/sendMessage"


def config() -> dict:
    d = live_config_to_dict(load_live_config("ETH-J1"))
    d["alerts"] = {"url": HOOK, "format": "telegram", "chat_id": "42"}
    cfg = live_config_from_dict(d, "x.json")
    return live_config_to_dict(cfg, reveal_secrets=True)  # the worst case: a raw URL


def snapshot(**kw) -> StatusSnapshot:
    rec = StatusRecorder()
    for i in range(30):  # one point per minute, equity dipping then recovering
        rec.add_equity(T0 + i * 60_000, 1000.0 + i * 0.1, 1000.0 + i * 0.1 - (i % 10))
    rec.add_fill(FillView(T0 + 60_000, "buy", "long", 0.012, 1810.25, 0.00434, 0.0, True))
    rec.add_fill(FillView(T0 + 120_000, "sell", "long", 0.012, 1817.5, 0.01091, 0.087, False))
    rec.add_error(T0 + 90_000, "order rejected: <script>alert(1)</script> -5022")
    base = dict(exchange="binance", symbol="ETHUSDT", mode="paper", ts_ms=T0 + 29 * 60_000,
                last_price=1812.34, balance=1002.9, equity=1001.15, started_ms=T0,
                positions=(PositionView("long", 0.024, 1805.5, 1020.25, 0.16),
                           PositionView("short", 0.011, 1830.0, 0.0, 0.2)),
                open_orders=(OrderView("buy", "long", 0.019, 1769.31, "entry", "a1"),
                             OrderView("sell", "long", 0.005, 1812.72, "close", "a2"),
                             OrderView("sell", "short", 0.011, 1857.45, "entry", "b1")),
                config=config())
    base.update(kw)
    return rec.snapshot(**base)


async def client_for(provider, token=None) -> TestClient:
    c = TestClient(TestServer(make_app(provider, token)))
    await c.start_server()
    return c


async def test_page_shows_positions_orders_fills_errors_and_config_but_no_secret():
    c = await client_for(lambda: snapshot())
    try:
        r = await c.get("/")
        text = await r.text()
    finally:
        await c.close()
    assert r.status == 200 and r.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    for needle in ("ETHUSDT on binance (paper)", "market time 2025-05-05 00:29:00 UTC",
                   "1,769.3100", "1,812.7200", "1,857.4500", "Open orders (3)",
                   "1,020.2500", "43.7 %",  # liq distance |1020.25/1812.34 - 1|
                   "<b>taker</b>", "maker", "+0.09", "0.0152",  # session fees 0.00434+0.01091
                   "&lt;script&gt;alert(1)&lt;/script&gt;", "wallet_exposure_limit",
                   "https://api.telegram.org/&lt;redacted&gt;", "<svg", "connected"):
        assert needle in text, needle
    assert "<script>" not in text and "SEKRIT" not in text
    # open orders sorted by price, highest first
    assert text.index("1,857.4500") < text.index("1,812.7200") < text.index("1,769.3100")


async def test_api_status_is_the_snapshot_as_json_without_secrets():
    c = await client_for(lambda: snapshot())
    try:
        r = await c.get("/api/status")
        body = await r.text()
    finally:
        await c.close()
    d = json.loads(body)
    assert d["balance"] == 1002.9 and len(d["open_orders"]) == 3
    assert d["upnl"] == pytest.approx(0.36) and d["session_realized_pnl"] == pytest.approx(0.087)
    assert d["config"]["alerts"]["url"] == "https://api.telegram.org/<redacted>"
    assert "SEKRIT" not in body
    assert StatusSnapshot.from_dict(d).open_orders[0].price == 1769.31


async def test_token_required_when_set_bearer_or_query_and_health_open():
    c = await client_for(lambda: snapshot(), token="t0ken-123")
    try:
        assert (await c.get("/")).status == 401
        assert (await c.get("/?token=wrong")).status == 401
        assert (await c.get("/?token=t0ken-12")).status == 401
        assert (await c.get("/?token=t0ken-123")).status == 200
        assert (await c.get("/api/status", headers={"Authorization": "Bearer t0ken-123"})
                ).status == 200
        assert (await c.get("/healthz")).status == 200
    finally:
        await c.close()


async def test_read_only_other_methods_refused():
    calls = []

    def provider():
        calls.append(1)
        return snapshot()

    c = await client_for(provider)
    try:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = await c.request(method, "/")
            assert r.status == 405, method
        assert (await c.get("/orders/cancel")).status == 404
    finally:
        await c.close()
    assert calls == []


async def test_dict_and_async_providers_and_a_failing_one():
    async def async_provider():
        return snapshot().to_dict()

    c = await client_for(async_provider)
    try:
        assert "1,857.4500" in await (await c.get("/")).text()
    finally:
        await c.close()

    def broken():
        raise KeyError("state not ready")

    c = await client_for(broken)
    try:
        r = await c.get("/")
        assert r.status == 503 and "no snapshot yet (KeyError)" in await r.text()
    finally:
        await c.close()


def test_disconnected_state_is_shown_with_since():
    page = render_html(snapshot(connected=False, disconnected_since_ms=T0 + 15 * 60_000))
    assert "DISCONNECTED since 2025-05-05 00:15:00 UTC: price may be stale" in page


async def test_non_loopback_needs_token_and_busy_port_is_input_error():
    with pytest.raises(InputError, match="needs a token"):
        await start_status_page(snapshot, host="0.0.0.0", port=0)
    page = await start_status_page(snapshot, port=0)
    try:
        with pytest.raises(InputError, match=rf"status_page.port {page.port} .*cannot listen"):
            await start_status_page(snapshot, port=page.port)
    finally:
        await page.stop()


async def test_token_never_logged_even_at_debug(caplog):
    import aiohttp

    caplog.set_level(logging.DEBUG)
    page = await start_status_page(snapshot, port=0, token="never-log-me-42")
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{page.url}?token=never-log-me-42") as r:
                assert r.status == 200
            async with s.get(f"{page.url}?token=bad-never-log") as r:
                assert r.status == 401
    finally:
        await page.stop()
    assert "never-log-me" not in caplog.text and "bad-never-log" not in caplog.text
    assert "never-log-me" not in page.url


def test_recorder_thins_equity_to_one_point_per_minute_and_sums_the_session():
    rec = StatusRecorder(max_fills=2, equity_every_ms=60_000)
    rec.add_equity(T0, 1000, 1000)
    rec.add_equity(T0 + 30_000, 1000, 999)  # same minute: replaces
    rec.add_equity(T0 + 60_000, 1001, 1001)
    rec.add_equity(T0 + 10_000, 5, 5)  # older: ignored
    assert [(p.ts_ms - T0, p.equity) for p in rec.points] == [(30_000, 999), (60_000, 1001)]
    for pnl in (1.0, 2.0, -0.5):
        rec.add_fill(FillView(T0, "sell", "long", 1, 1, 0.1, pnl))
    assert len(rec.fills) == 2 and rec.session_realized_pnl == pytest.approx(2.5)
    assert rec.session_fees == pytest.approx(0.3)


def test_scrub_hides_secret_looking_keys_at_any_depth():
    got = scrub({"api_key": "abc", "nested": [{"secret": "s", "ok": 1}],
                 "alerts": {"url": HOOK}, "symbol": "ETHUSDT", "token_env": ""})
    assert got == {"api_key": "<redacted>", "nested": [{"secret": "<redacted>", "ok": 1}],
                   "alerts": {"url": "https://api.telegram.org/<redacted>"},
                   "symbol": "ETHUSDT", "token_env": ""}


# -- a real headless browser ----------------------------------------------------------------
def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_or_skip() -> str:
    """The browser's path, or the test skipped with the reason printed (CI installs it)."""
    exe = chromium()
    if exe is None:
        msg = "Chromium not installed (apt-get install chromium; .ci/run does it): skipped"
        print(msg)
        pytest.skip(msg)
    return exe


async def run_browser(exe: str, args: list[str], timeout: float = 90) -> tuple[int, bytes]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--hide-scrollbars", "--disable-extensions",
             "--user-data-dir=" + args.pop(0)]
    p = await asyncio.create_subprocess_exec(exe, *flags, *args, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(p.communicate(), timeout)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        raise
    return p.returncode, out


async def test_page_in_headless_chromium_dom_and_screenshot(tmp_path):
    exe = chromium_or_skip()
    from PIL import Image

    page = await start_status_page(snapshot, port=0, token="browser-token")
    url = f"{page.url}?token=browser-token"
    shot = tmp_path / "status_page.png"
    try:
        code, dom = await run_browser(exe, [str(tmp_path / "p1"), "--dump-dom", url])
        assert code == 0
        code, _ = await run_browser(exe, [str(tmp_path / "p2"), "--window-size=1100,1500",
                                          f"--screenshot={shot}", url])
        assert code == 0 and shot.is_file()
    finally:
        await page.stop()
    text = dom.decode()
    for needle in ("Open orders (3)", "1,857.4500", "Recent fills", "<b>taker</b>",
                   "Balance and equity over time", "<polyline", "wallet_exposure_limit"):
        assert needle in text, needle
    assert "SEKRIT" not in text and "browser-token" not in text
    img = Image.open(shot).convert("RGB")
    assert img.size == (1100, 1500)
    a = np.asarray(img, dtype=np.int32)
    dark = int(((a.sum(axis=2)) < 200).sum())  # text pixels
    blue = int(((a[:, :, 2] > 200) & (a[:, :, 0] < 80)).sum())  # the equity line (#1f6feb)
    assert dark > 5_000, f"screenshot has almost no text ({dark} dark pixels): blank page?"
    assert blue > 300, f"equity line (blue) not drawn ({blue} blue pixels)"
    assert 0.5 < float((a.sum(axis=2) > 700).mean()) < 0.99, "not a page on a white background"
    keep = os.environ.get("STATUS_PAGE_SCREENSHOT")
    if keep:  # how docs/img/status_page.png is made
        shutil.copy(shot, keep)


def test_snapshot_from_a_real_bot_state_hand_computed():
    import numpy as np

    from passivbot.live.diff import OpenOrder
    from passivbot.live.snapshot import snapshot_from_state
    from passivbot.live.state import BotState
    from passivbot.records import LONG, N_PARAMS, SHORT

    st = BotState(params=np.zeros((2, N_PARAMS)), balance=1000.0)
    st.set_position(LONG, 0.02, 1800.0)
    st.set_position(SHORT, 0.01, 1850.0)
    st.last_price, st.exchange_time = 1810.0, T0
    st.remember_order(OpenOrder("1", "c1", LONG, False, 0.016, 1764.0))
    st.remember_order(OpenOrder("2", "c2", LONG, True, 0.004, 1807.2))
    st.remember_order(OpenOrder("3", "c3", SHORT, True, 0.01, 1842.6))
    rec = StatusRecorder()
    s = snapshot_from_state(st, rec, exchange="binance", symbol="ETHUSDT", mode="paper",
                            config={}, liq_price=950.0)
    long, short = s.positions
    assert long.upnl == pytest.approx(0.02 * 10) and short.upnl == pytest.approx(0.01 * 40)
    assert s.equity == pytest.approx(1000.6) and s.ts_ms == T0
    assert [(o.side, o.position_side, o.kind) for o in s.open_orders] == [
        ("buy", "long", "entry"), ("sell", "long", "close"), ("buy", "short", "close")]
    assert long.liq_price == short.liq_price == 950.0


async def test_page_and_api_show_the_equity_stop_and_the_unstuck_allowance():
    from passivbot.live.snapshot import RiskView
    until = T0 + 29 * 60_000 + 90 * 60_000  # 2025-05-05 01:59 UTC, ahead of the snapshot
    rv = RiskView(True, until, False, (1.5, 0.0), (20.0, 20.0), 2)
    snap = snapshot(risk=rv)
    page = render_html(snap)
    assert "STOPPED until 2025-05-05 01:59 UTC" in page
    assert "unstuck loss used/allowance long 1.50/20.00, short 0.00/20.00 (2 closes at a loss)" \
        in page
    c = await client_for(lambda: snap.to_dict())  # through the dict path: the risk survives
    try:
        d = await (await c.get("/api/status")).json()
        assert d["risk"] == {"stop_on": True, "stop_until_ms": until, "close_pending": False,
                             "unstuck_loss": [1.5, 0.0], "unstuck_allowance": [20.0, 20.0],
                             "unstuck_closes": 2}
        html_ = await (await c.get("/")).text()
        assert "STOPPED until 2025-05-05 01:59 UTC" in html_
    finally:
        await c.close()
    # the stop's time passed: armed again; stopped forever: until cleared; no rules: no card
    assert "armed, not stopped" in render_html(snapshot(risk=RiskView(True, T0, False)))
    assert "STOPPED until cleared" in render_html(
        snapshot(risk=RiskView(True, 2**63 - 1, False)))
    assert "equity stop" not in render_html(snapshot())
