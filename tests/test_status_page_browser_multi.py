"""The account's status page (several symbols, funding cards) as a real headless Chromium
renders it: the DOM holds the account's cards, a section per symbol with its positions, orders,
fills and funding per side, and the screenshot is a drawn page (issue 20: "tested in a real
headless browser"; the page's funding card and multi-symbol sections came after the first
browser test, tests/test_status_page.py, which renders one symbol). Skipped with a printed
reason without Chromium (.ci/run installs Debian's `chromium`)."""

from __future__ import annotations

import numpy as np
import pytest

from passivbot.live.snapshot import (
    AccountSnapshot, FillView, OrderView, PositionView, StatusRecorder,
)
from passivbot.live.status_page import start_status_page
from tests.test_status_page import chromium_or_skip, run_browser

T0 = 1_746_403_200_000  # 2025-05-05 00:00 UTC


def account() -> AccountSnapshot:
    snaps = []
    for sym, price, size, entry, funding in (("ETHUSDT", 1812.34, 0.024, 1805.5, (-0.85, 0.06)),
                                             ("BTCUSDT", 94_548.0, 0.002, 94_209.4, (0.25, 0.0))):
        rec = StatusRecorder()
        for i in range(30):
            rec.add_equity(T0 + i * 60_000, 1000.0 + i * 0.05, 1000.0 + i * 0.05 - (i % 7) * 0.1)
        rec.add_fill(FillView(T0 + 60_000, "buy", "long", size, entry, 0.0043, 0.0, True))
        for side, amount in zip(("long", "short"), funding):
            if amount:
                rec.add_funding(side, amount)
        snaps.append(rec.snapshot(
            exchange="binance", symbol=sym, mode="paper", ts_ms=T0 + 29 * 60_000,
            last_price=price, balance=1001.45, equity=1001.2, started_ms=T0,
            positions=(PositionView("long", size, entry, entry * 0.5, 0.16),),
            open_orders=(OrderView("sell", "long", size, round(entry * 1.004, 2), "close",
                                   f"{sym}-c"),),
            config={}))
    return AccountSnapshot("binance", "paper", T0 + 29 * 60_000, 1001.45, tuple(snaps))


async def test_the_account_page_with_funding_and_a_section_per_symbol_in_chromium(tmp_path):
    exe = chromium_or_skip()
    from PIL import Image

    snap = account()
    page = await start_status_page(lambda: snap, port=0, token=None)
    shot = tmp_path / "account.png"
    try:
        code, dom = await run_browser(exe, [str(tmp_path / "p1"), "--dump-dom", page.url])
        assert code == 0
        code, _ = await run_browser(exe, [str(tmp_path / "p2"), "--window-size=1100,1500",
                                          f"--screenshot={shot}", page.url])
        assert code == 0 and shot.is_file()
    finally:
        await page.stop()
    text = dom.decode()
    assert "2 symbols on binance" in text
    assert text.count("funding (session)") == 3  # the account's card, then each symbol's
    assert "(long -0.8500, short +0.0600)" in text  # ETH per side
    assert "-0.5400" in text  # the account: -0.85 + 0.06 + 0.25
    eth = text[text.index('id="ETHUSDT"'):text.index('id="BTCUSDT"')]
    btc = text[text.index('id="BTCUSDT"'):]
    assert "1,812.7200" in eth and "1,805.5000" in eth  # its close (1805.5 x 1.004), its entry price
    assert "94,586.2400" in btc and "94,209.4000" in btc
    a = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    assert a.shape[:2] == (1500, 1100)
    assert int((a.sum(axis=2) < 200).sum()) > 5_000, "almost no text: a blank page?"
    assert 0.5 < float((a.sum(axis=2) > 700).mean()) < 0.99, "not a page on a white background"
