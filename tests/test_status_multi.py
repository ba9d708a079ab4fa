"""One status page for a multi-symbol account (live/multi.py + live/status_page.py): the
MultiBot on the emulator with 2 symbols, its page served over HTTP, shows the wallet and each
symbol's positions and resting orders (the emulator's truth), as HTML and as JSON."""

from aiohttp.test_utils import TestClient, TestServer

from harness.emulator import flat_candles
from passivbot.live.status_page import make_app
from tests.multi_helpers import eth_long_btc_flat


async def test_one_page_lists_both_symbols_positions_and_orders_and_the_wallet():
    n = 20
    eth, btc = flat_candles(n, 2000.0, spread=1.0), flat_candles(n, 50_000.0, spread=10.0)
    async with eth_long_btc_flat(eth, btc, 2, "test.status.multi") as (emu, mb):
        client = TestClient(TestServer(make_app(mb.snapshot)))
        await client.start_server()
        try:
            resp = await client.get("/api/status")
            assert resp.status == 200
            d = await resp.json()
            assert [s["symbol"] for s in d["symbols"]] == ["ETHUSDT", "BTCUSDT"]
            by = {s["symbol"]: s for s in d["symbols"]}
            eth_long = [p for p in by["ETHUSDT"]["positions"] if p["side"] == "long"][0]
            assert eth_long["size"] == 1.0 and eth_long["price"] == 2000.0
            # the page's orders are the emulator's, per symbol
            for sym in ("ETHUSDT", "BTCUSDT"):
                want = sorted((o.price, o.qty) for o in emu.accounts[sym].open_orders.values())
                got = sorted((o["price"], o["qty"]) for o in by[sym]["open_orders"])
                assert want and got == want, sym
            assert any(o["kind"] == "close" for o in by["ETHUSDT"]["open_orders"])
            assert d["balance"] == emu.accounts["ETHUSDT"].balance > 0  # the one wallet
            upnl = sum(s["upnl"] for s in d["symbols"])
            assert abs(d["equity"] - (d["balance"] + upnl)) < 1e-9
            page = await (await client.get("/")).text()
            assert "2 symbols on binance" in page
            assert '<section id="ETHUSDT"><h2>ETHUSDT</h2>' in page
            assert '<section id="BTCUSDT"><h2>BTCUSDT</h2>' in page
            eth_part = page[page.index('id="ETHUSDT"'):page.index('id="BTCUSDT"')]
            btc_part = page[page.index('id="BTCUSDT"'):]
            assert "no open position" not in eth_part and "no open position" in btc_part
            for part, sym in ((eth_part, "ETHUSDT"), (btc_part, "BTCUSDT")):
                n_orders = len(emu.accounts[sym].open_orders)
                assert f"Open orders ({n_orders})" in part
                for o in emu.accounts[sym].open_orders.values():
                    assert f"{o.price:,.4f}" in part
        finally:
            await client.close()
