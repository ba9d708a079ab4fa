"""Webhook alerts against a stub server on 127.0.0.1: payloads per event and format, the rate
limit (events in between sent together), retries on 5xx / 429, and the URL's token never in a
log line or a message."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web

from passivbot.config.live import live_config_from_dict, live_config_to_dict, load_live_config
from passivbot.live.alerts import Alerter
from passivbot.live.snapshot import FillView

T0 = 1_746_403_200_000
TOKEN = "bot123456:AAE-webhook-SECRET"


class Stub:
    """A webhook receiver: records each JSON body; answers `statuses` in turn, then 200."""

    def __init__(self, statuses=(), retry_after: str | None = None):
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.statuses = list(statuses)
        self.retry_after = retry_after
        self.arrivals: list[float] = []  # monotonic time of each request

    async def handle(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        self.paths.append(request.path)
        body = await request.json()
        if self.statuses:
            status = self.statuses.pop(0)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response({"ok": False, "parameters": {"retry_after": 0.05}},
                                     status=status, headers=headers)
        self.bodies.append(body)
        return web.json_response({"ok": True})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/{TOKEN}/sendMessage"

    async def stop(self) -> None:
        await self.runner.cleanup()


def alerts_cfg(url: str, **kw):
    d = live_config_to_dict(load_live_config("ETH-J1"))
    d["alerts"] = {"url": url, "min_interval_s": 0.0, "timeout_s": 2.0, **kw}
    return live_config_from_dict(d, "x.json").alerts


async def eventually(cond, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


FILL = FillView(T0, "sell", "long", 0.012, 1817.5, 0.01091, 0.0872, maker=False)


async def test_each_event_kind_posts_a_json_payload():
    stub = Stub()
    url = await stub.start()
    al = Alerter(alerts_cfg(url), "binance ETHUSDT")
    await al.start()
    try:
        al.on_fill("ETHUSDT", FILL)
        await eventually(lambda: len(stub.bodies) == 1)
        al.on_error(T0, "order rejected -5022")
        await eventually(lambda: len(stub.bodies) == 2)
        al.on_disconnect(T0 + 60_000)
        await eventually(lambda: len(stub.bodies) == 3)
        al.on_stop(T0, "exchange has no more data")
        await eventually(lambda: len(stub.bodies) == 4)
    finally:
        await al.close()
        await stub.stop()
    b = stub.bodies
    assert b[0]["text"] == ("passivbot binance ETHUSDT: ETHUSDT long sell 0.012 @ 1817.5 "
                            "(taker, fee 0.0109, PnL +0.0872)")
    assert b[0]["events"] == [{"event": "fill", "ts_ms": T0, "text": b[0]["text"][27:]}]
    assert b[1]["events"][0]["event"] == "error" and "-5022" in b[1]["text"]
    assert "disconnected since 00:01:00 UTC" in b[2]["text"]
    assert b[3]["text"].endswith("bot stopped: exchange has no more data")
    assert stub.paths[0] == f"/{TOKEN}/sendMessage"


async def test_telegram_format_and_event_filter():
    stub = Stub()
    url = await stub.start()
    al = Alerter(alerts_cfg(url, format="telegram", chat_id="-100123", events=["stops"]), "bot")
    await al.start()
    try:
        al.on_fill("ETHUSDT", FILL)  # filtered out
        al.on_error(T0, "x")  # filtered out
        al.on_stop(T0, "Ctrl-C")
        await eventually(lambda: len(stub.bodies) == 1)
    finally:
        await al.close()
        await stub.stop()
    assert stub.bodies == [{"chat_id": "-100123", "text": "passivbot bot: bot stopped: Ctrl-C",
                            "disable_web_page_preview": True}]


async def test_rate_limit_sends_events_in_between_together():
    stub = Stub()
    url = await stub.start()
    al = Alerter(alerts_cfg(url, min_interval_s=0.5), "bot")
    await al.start()
    t = asyncio.get_running_loop().time
    try:
        al.on_error(T0, "first")
        await eventually(lambda: len(stub.bodies) == 1)
        t1 = t()
        for i in range(5):
            al.on_error(T0 + i, f"burst {i}")
        await eventually(lambda: len(stub.bodies) == 2)
        t2 = t()
    finally:
        await al.close()
        await stub.stop()
    assert t2 - t1 >= 0.4  # the second message waited for the interval
    second = stub.bodies[1]
    assert [e["text"] for e in second["events"]] == [f"error: burst {i}" for i in range(5)]
    assert second["text"].startswith("passivbot bot: 5 events\n- error: burst 0")
    assert al.sent_messages == 2


async def test_retry_on_server_error_and_429_then_delivered(caplog):
    caplog.set_level(logging.DEBUG)
    stub = Stub(statuses=[500, 429])
    url = await stub.start()
    al = Alerter(alerts_cfg(url), "bot")
    await al.start()
    try:
        al.on_error(T0, "boom")
        await eventually(lambda: len(stub.bodies) == 1, timeout=15)
    finally:
        await al.close()
        await stub.stop()
    assert "HTTP 500" in caplog.text and "HTTP 429" in caplog.text
    assert TOKEN not in caplog.text and "SECRET" not in caplog.text
    assert "127.0.0.1" in caplog.text  # the host is named, the path (token) is not


async def test_unreachable_url_is_dropped_with_a_warning_without_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    stub = Stub()
    url = await stub.start()
    await stub.stop()  # nothing listens there any more
    al = Alerter(alerts_cfg(url), "bot")
    await al.start()
    al.on_error(T0, "x")
    await al.close()  # final flush: one attempt, then dropped
    assert "dropped after 1 attempt(s) (ClientConnectorError)" in caplog.text
    assert TOKEN not in caplog.text and "SECRET" not in caplog.text


async def test_secrets_in_event_text_are_redacted_and_close_flushes():
    stub = Stub()
    url = await stub.start()
    redact = lambda s: s.replace("my-api-secret", "***")  # noqa: E731 - the bot's Redactor
    al = Alerter(alerts_cfg(url, min_interval_s=60.0), "bot", redact=redact)
    await al.start()
    try:
        al.on_error(T0, "first")
        await eventually(lambda: len(stub.bodies) == 1)
        al.on_error(T0, "signature my-api-secret invalid")  # waits 60 s: flushed by close()
    finally:
        await al.close()
        await stub.stop()
    assert len(stub.bodies) == 2
    assert "my-api-secret" not in json.dumps(stub.bodies) and "***" in stub.bodies[1]["text"]


async def test_redacted_url_means_alerts_off():
    d = live_config_to_dict(load_live_config("ETH-J1"))
    d["alerts"] = {"url": "https://api.telegram.org/<redacted>"}
    cfg = live_config_from_dict(d, "x").alerts
    al = Alerter(cfg, "bot")
    al.on_error(T0, "x")
    assert not al.pending
