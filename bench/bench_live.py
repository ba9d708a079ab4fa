"""Live bot latency: the decide step (event in -> order actions out) and, end to end, an
emulator fill -> the replacement orders arriving at the emulator (real ccxt over 127.0.0.1).

1. decide: a price event updates the state; `live.decide.decide` computes both sides' ideal
   orders (grid kernels) and diffs them against the open orders; the plan is applied to the
   open orders as if executed. Timed over many events with a long position, a short position
   and ~25 open orders (p50 / p99).
2. fill -> replacement: the bot trades the emulator in lockstep over a falling then rising
   window; for every minute with a fill, the time from the fill (emu.advance) until the
   emulator's book equals the calculator's ideal book again (polled every ~1 ms).

Run: python3 bench/bench_live.py   (no arguments; about 30 s)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from passivbot.config import load_live_config, side_params  # noqa: E402
from passivbot.live.decide import decide  # noqa: E402
from passivbot.live.diff import OpenOrder  # noqa: E402
from passivbot.live.state import BotState  # noqa: E402
from passivbot.markets import market_spec  # noqa: E402
from passivbot.records import LONG, SHORT  # noqa: E402

N_EVENTS = 20_000


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bench_decide() -> tuple[float, float, float]:
    cfg = load_live_config("ETH-J1")
    st = BotState(params=np.stack([side_params(cfg.long), side_params(cfg.short)]))
    market = market_spec("binance", "ETHUSDT").market_array()
    st.balance = 10_000.0
    st.set_position(LONG, 0.8, 2030.0)  # in the red: its grid rests away from the price
    st.set_position(SHORT, 0.3, 1970.0)
    st.emas[:] = [[1995.0, 2001.0], [1995.0, 2001.0]]
    rng = np.random.default_rng(0)
    prices = 2000.0 + rng.normal(0, 2.0, N_EVENTS)  # ticks around the price, no grid crossed
    times, actions = [], 0
    nid = 0
    for i in range(N_EVENTS):
        t0 = time.perf_counter()
        st.close_price = st.last_price = float(np.round(prices[i], 2))  # a closed minute
        plan = decide(st, market, 50)
        times.append(time.perf_counter() - t0)
        # apply as executed, so the next event diffs against a realistic book
        for o in plan.cancels:
            st.open_orders.pop(o.id, None)
        for w in plan.creates:
            nid += 1
            st.open_orders[str(nid)] = OpenOrder(str(nid), f"pb{nid}", w.side, w.close, w.qty, w.price)
        actions += len(plan.cancels) + len(plan.creates)
    ms = [t * 1000 for t in times[100:]]  # after compile / warm-up
    print(f"decide: {N_EVENTS} price events, {len(st.open_orders)} open orders at the end, "
          f"{actions} actions planned")
    return pct(ms, 50), pct(ms, 99), max(ms)


async def bench_fill_to_orders(exchange: str) -> list[float]:
    from passivbot.emulator import Emulator
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.exchanges.errors import Redactor
    from passivbot.exchanges.registry import make_adapter
    from passivbot.live.bot import BotOptions, LiveBot
    from passivbot.live.console import setup_logging
    from harness.live import (
        emulator_book, expected_orders, fall_then_rise, settle, wait_subscribed, wanted_book,
    )

    cfg = load_live_config("ETH-J1")
    emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=1440)
    await emu.start()
    ex = create_exchange(exchange, api_key="bench", secret="bench", emulator=f"127.0.0.1:{emu.port}",
                         rate_limit=False)
    log, _ = setup_logging(f"bench-{exchange}", Redactor(), "ERROR", None)
    bot = LiveBot(make_adapter(exchange, ex, "ETHUSDT"), cfg, log, options=BotOptions(
        use_local_clock=False, debounce_s=0.002, settle_quiet_s=0.005, reconcile_every_s=1e9,
        status_every_s=1e9, orders_per_s=1000))
    await bot.start()
    await wait_subscribed(emu)
    await settle(bot, emu)
    out = []
    try:
        while emu.clock < len(emu.candles) - 1:
            t0 = time.perf_counter()
            fills = await emu.advance(1)
            if fills:
                deadline = t0 + 10.0
                while time.perf_counter() < deadline:
                    exp = wanted_book(expected_orders(emu.account, emu.candles, 0,
                                                      bot.state.params, bot.market))
                    if emulator_book(emu.account) == exp:
                        out.append((time.perf_counter() - t0) * 1000)
                        break
                    await asyncio.sleep(0.001)
            await settle(bot, emu)
    finally:
        await bot.stop()
        await emu.stop()
    return out


def main() -> None:
    p50, p99, mx = bench_decide()
    fill = {ex: asyncio.run(bench_fill_to_orders(ex)) for ex in ("binance", "bybit")}
    for ex, xs in fill.items():
        print(f"{ex}: {len(xs)} minutes with fills; fill -> ideal book p50 "
              f"{statistics.median(xs):.1f} ms, max {max(xs):.1f} ms")
    print(f"decide_latency_max: {mx:.3f} ms (no target)")
    print(f"decide_latency_p50: {p50:.3f} ms (target < 1)")
    print(f"decide_latency_p99: {p99:.3f} ms (target < 5)")
    for ex, xs in fill.items():
        print(f"fill_to_replacement_p50_{ex}: {statistics.median(xs):.1f} ms (target < 250)")
        print(f"fill_to_replacement_p99_{ex}: {pct(xs, 99):.1f} ms (target < 1000)")


if __name__ == "__main__":
    main()
