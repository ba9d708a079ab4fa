"""The realism campaign (bench/realism.py), short: the real bot against the emulator for a
few emulated minutes per exchange, then the faults. It adds no order request beyond what
the calculator's output needs, places take-profits fast, sends nothing during a
Retry-After and resumes at once, notices a silent user stream within seconds, and recovers
from a 2 s clock skew that really refuses its signed requests by resyncing; its order
requests (HTTP requests: batches count one) stay within the targets, and an entry that keeps
crossing is re-sent at most 6 times a minute."""

import importlib.util
from pathlib import Path

import pytest

from harness.live import fall_then_rise

spec = importlib.util.spec_from_file_location(
    "realism", Path(__file__).resolve().parents[1] / "bench" / "realism.py")
realism = importlib.util.module_from_spec(spec)
spec.loader.exec_module(realism)


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_realism_campaign_short(exchange):
    # the crossing window is 45 s (the bench's is a full minute): at most 6 sends of one
    # entry in any minute implies at most 6 in these 45 s
    r = await realism.campaign(exchange, fall_then_rise(), 40, {}, faults=True,
                               cross_window_s=45.0)
    lines = "\n".join(realism.report(exchange, r))
    assert r["minutes"] == 40 and r["fills"] >= 1, lines
    assert r["excess"] == 0, lines  # every order request is a change of the ideal book
    assert realism.pct(r["tp_ms"], 99) < 1000, lines
    assert r["retry_after_requests"] == 0 and r["retry_after_resumed_s"] < 2.0, lines
    assert r["silent_user_tp_s"] < 10.0, lines
    # the 2 s skew lands just before a fill: it must really bite (signed requests refused),
    # the bot resync its clock and place the take-profits within 10 s
    assert r["clock_refused"] >= 1 and r["clock_resyncs"] >= 1, lines
    assert r["clock_skew_s"] < 10.0, lines
    assert realism.pct(r["per_min"], 99) <= 10, lines  # batches: a fill is a few requests
    hours = r["minutes"] / 60.0
    assert r["order_requests"] / hours <= 15 * r["fills"] / hours + 30, lines
    assert r["cross_orders"] >= 1 and r["cross_sends"] <= 6, lines
