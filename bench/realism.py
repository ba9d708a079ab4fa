"""Realism campaign: the real bot (LiveBot over real ccxt, start_bot's options) against the
emulator for emulated hours on both exchanges, a busy and a calm market, then the faults a
real venue produces. Prints `name: value unit (target ...)` lines.

    python bench/realism.py [--hours 2] [--exchanges binance,bybit] [--emu KEY=VALUE ...]

`--emu KEY=VALUE` is passed to `Emulator(...)` unchanged (e.g. the realistic mode's knob once
the emulator has it), so the same campaign runs in every emulator mode. The bot runs with
start_bot's default options except the candle clock: the minutes are driven in lockstep
(`harness.parity.settle`), so an emulated hour takes seconds.

Figures (see docs/live.md for their definitions):
- order requests per hour (creates + cancels) against 15 x fills per hour + 30;
- order requests beyond the calculator: per minute, requests minus the changes of the
  calculator's ideal book (a cancel per order gone, a create per order new), summed (0: the
  bot adds no churn of its own; what remains is the strategy's);
- p99 of order requests per emulated minute (<= 10);
- order requests are HTTP requests: a batch (Binance up to 5 creates / 10 cancels, Bybit 10)
  is one; "beyond the calculator" counts orders (each order of a batch);
- fill -> take-profit: wall time from the minute that filled to the ideal book on the
  emulator (p99 < 1 s);
- after a 429 with Retry-After: requests while it ran (0) and seconds to the first request
  after it ends (< 2 s);
- a silent user stream (an open socket that stops delivering, as Binance after
  listenKeyExpired): seconds from the fill to the take-profits placed (< 10 s);
- clock skew recovery (< 10 s): seconds from a fill to its take-profits when the server clock
  moved 2 s (`faults.skew_clock`) just before that fill, with the number of signed requests
  the emulator refused for their timestamp (at least one: the skew really bit);
- a post-only entry that keeps crossing: sends of one side's entry in a wall minute with every
  post-only order crossing (<= 6).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passivbot.config import load_live_config  # noqa: E402
from harness.live import (  # noqa: E402
    emulator_book, expected_orders, fall_then_rise, wanted_book,
)

# Order requests are HTTP requests to these routes (a batch of up to 5 / 10 orders is one).
ORDER_ROUTES = {"binance": ("POST /fapi/v1/order", "DELETE /fapi/v1/order",
                            "POST /fapi/v1/batchOrders", "DELETE /fapi/v1/batchOrders"),
                "bybit": ("POST /v5/order/create", "POST /v5/order/cancel",
                          "POST /v5/order/create-batch", "POST /v5/order/cancel-batch")}
USER_TOPICS = {"order", "execution", "position", "wallet"}


def pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def order_requests(emu) -> int:
    c = emu.counters["requests"]
    return sum(c.get(k, 0) for k in ORDER_ROUTES[emu.exchange])


def order_actions(emu) -> int:
    """Orders created, refused and cancelled (each order of a batch counted)."""
    c = emu.counters
    return c["orders_created"] + c["orders_rejected"] + c["orders_cancelled"]


def total_requests(emu) -> int:
    return sum(emu.counters["requests"].values())


def ideal_book(bot, emu) -> list[tuple]:
    return wanted_book(expected_orders(emu.account, emu.candles, 0, bot.state.params,
                                       bot.market))


def at_ideal(bot, emu) -> bool:
    return emulator_book(emu.account) == ideal_book(bot, emu)


async def until(pred, timeout: float, every: float = 0.002) -> float | None:
    t0 = time.perf_counter()
    while not pred():
        if time.perf_counter() - t0 > timeout:
            return None
        await asyncio.sleep(every)
    return time.perf_counter() - t0


def calm_candles(n: int, price: float = 2000.0, seed: int = 7) -> np.ndarray:
    """A quiet market: a slow random walk (1 bp a minute) with 2 bp wicks."""
    from harness.emulator import flat_candles

    rng = np.random.default_rng(seed)
    path = price * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    c = flat_candles(n, price)
    prev = np.concatenate([[price], path[:-1]])
    c[:, 1], c[:, 4] = prev, path
    c[:, 2] = np.maximum(prev, path) * 1.0002
    c[:, 3] = np.minimum(prev, path) * 0.9998
    return np.round(c, 2)


def busy_candles(n: int) -> np.ndarray:
    """Real ETHUSDT minutes (bundled data), the most active stretch of that length."""
    from passivbot.data.bundled import load_bundled

    c = np.array(load_bundled("ETHUSDT"), dtype=np.float64)
    if len(c) <= n:
        return c
    rng_ = (c[:, 2] - c[:, 3]) / c[:, 4]
    window = np.convolve(rng_, np.ones(n - 1440), "valid")
    start = int(np.argmax(window[: len(c) - n]))
    return c[start:start + n].copy()


def options():
    from passivbot.live.bot import BotOptions
    from harness.parity import lockstep_options

    # start_bot's defaults (BotOptions()), with the lockstep candle clock and a short
    # debounce so a minute settles quickly; the order budget stays the exchange's.
    return dataclasses.replace(BotOptions(), use_local_clock=False, debounce_s=0.002,
                               settle_quiet_s=0.002, status_every_s=1e9,
                               orders_per_s=lockstep_options().orders_per_s)


async def campaign(exchange: str, candles: np.ndarray, minutes: int, emu_kwargs: dict,
                   faults: bool, cross_window_s: float = 60.0) -> dict:
    from passivbot.emulator import Emulator
    from harness.parity import settle, start_bot

    cfg = load_live_config("ETH-J1")
    emu = Emulator(exchange, "ETHUSDT", candles, start_index=1440, **emu_kwargs)
    await emu.start()
    bot = await start_bot(exchange, cfg, emu, options(), log_level="ERROR")
    out: dict = {"fills": 0, "tp_ms": [], "per_min": [], "excess": 0}
    try:
        t_start = order_requests(emu)
        ideal = set(ideal_book(bot, emu))
        for _ in range(min(minutes, len(candles) - emu.clock - 1)):
            before, acts = order_requests(emu), order_actions(emu)
            t0 = time.perf_counter()
            fills = await emu.advance(1)
            if fills:
                out["fills"] += len(fills)
                took = await until(lambda: at_ideal(bot, emu), 10.0)
                out["tp_ms"].append(1e3 * (took if took is not None else (time.perf_counter()
                                                                           - t0)))
            await settle(bot, emu, timeout=20)
            n = order_requests(emu) - before
            out["per_min"].append(n)
            now_ideal = set(ideal_book(bot, emu))
            changed = len(ideal - now_ideal) + len(now_ideal - ideal)  # cancels + creates
            out["excess"] += max(0, order_actions(emu) - acts - changed)
            ideal = now_ideal
        out["minutes"] = len(out["per_min"])
        out["order_requests"] = order_requests(emu) - t_start
        if faults:
            out.update(await retry_after_fault(bot, emu))
            out.update(await silent_user_fault(bot, emu))
            out.update(await clock_skew_fault(bot, emu))
            out.update(await post_only_cross_fault(bot, emu, cross_window_s))
    finally:
        await bot.stop()
        await emu.stop()
    return out


async def retry_after_fault(bot, emu, seconds: float = 1.5) -> dict:
    from harness.parity import settle

    seen: list[tuple[float, int]] = []

    async def sample():
        while True:
            seen.append((time.perf_counter(), total_requests(emu)))
            await asyncio.sleep(0.005)

    sampler = asyncio.get_running_loop().create_task(sample())
    try:
        emu.faults.http_errors(429, 1, retry_after=seconds)
        bot.request_reconcile()
        await until(lambda: emu.faults.http_count == 0, 5.0)
        t_ban, n_ban = time.perf_counter(), total_requests(emu)
        await emu.advance(1)
        await settle(bot, emu, timeout=20)
    finally:
        sampler.cancel()
    during = max((n for t, n in seen if t_ban + 0.02 < t < t_ban + seconds - 0.05),
                 default=n_ban) - n_ban
    after = [t for t, n in seen if n > n_ban]
    return {"retry_after_requests": during,
            # sampled every 5 ms from when the 429 was seen: clamp the sampling jitter at 0
            "retry_after_resumed_s": max(0.0, after[0] - t_ban - seconds) if after
            else float("nan")}


async def silent_user_fault(bot, emu) -> dict:
    """An open socket that delivers no user events; then the market fills an order."""
    for c in list(emu.conns):
        if c.kind == "user":
            c.kind = "silenced"
        c.topics -= USER_TOPICS
    fills = len(emu.account.fills)
    for _ in range(min(600, len(emu.candles) - emu.clock - 1)):
        await emu.advance(1)
        await until(lambda: bot.state.last_closed_ts == int(emu.candles[emu.clock - 1, 0]), 5.0)
        if len(emu.account.fills) > fills:
            took = await until(lambda: at_ideal(bot, emu), 30.0)
            return {"silent_user_tp_s": took if took is not None else float("inf")}
    return {"silent_user_tp_s": float("nan")}


def fills_next(emu) -> bool:
    """The next candle trades through one of the resting orders (the emulator's fill rule is
    per candle, price through: a buy above the low, a sell below the high)."""
    c = emu.candles[emu.clock]
    for o in emu.account.open_orders.values():
        buy = (o.side == 1) != o.close
        if (buy and c[3] <= o.price) or (not buy and c[2] >= o.price):
            return True
    return False


async def clock_skew_fault(bot, emu, skew_ms: int = -2000) -> dict:
    """A 2 s clock skew just before a fill: seconds from the fill to its take-profits, and how
    many signed requests the emulator refused for their timestamp (-1021 / 10002).

    The server clock moves by `skew_ms` (`faults.skew_clock`: the server 2 s behind, so the
    bot signs 2 s ahead) right before the candle that fills, after the bot's last clock sync:
    applied minutes earlier, any reconcile (it reads the server time first) would absorb it
    silently and nothing would be refused (what the bench measured before). The fill makes the
    bot read its account and place take-profits: signed requests that must be refused, resync
    the clock and go through."""
    resyncs = bot.guard.resyncs if bot.guard is not None else 0
    refused0 = emu.counters.get("clock_rejects", 0)
    fills = len(emu.account.fills)
    skewed = False
    for _ in range(min(600, len(emu.candles) - emu.clock - 1)):
        if not skewed and fills_next(emu):
            emu.faults.skew_clock(skew_ms)
            skewed = True
        await emu.advance(1)
        await until(lambda: bot.state.last_closed_ts == int(emu.candles[emu.clock - 1, 0]), 5.0)
        if len(emu.account.fills) > fills:
            took = await until(lambda: at_ideal(bot, emu), 30.0)
            return {"clock_skew_s": took if took is not None else float("inf"),
                    "clock_refused": emu.counters.get("clock_rejects", 0) - refused0,
                    "clock_resyncs": (bot.guard.resyncs if bot.guard else 0) - resyncs}
    return {"clock_skew_s": float("nan"), "clock_refused": 0, "clock_resyncs": 0}


async def post_only_cross_fault(bot, emu, window_s: float = 60.0) -> dict:
    """Every post-only order crosses (Binance refuses it with -5022; Bybit accepts it and
    cancels it, `EC_PostOnlyWillTakeLiquidity`): the bot's resting entries are cancelled by the
    venue, and for `window_s` wall seconds (no new minute: the calculator's price stays) every
    post-only create the venue receives is counted per order (position side and price). Figure:
    the most sends of one order in the window (the bot holds a crossing entry back with
    backoff: target <= 6 a minute)."""
    acc = emu.account
    sends: list[tuple[float, object]] = []
    place = acc.place

    def crossing_place(*args, **kw):
        if not kw.get("post_only"):
            return place(*args, **kw)
        sends.append((time.perf_counter(), (kw.get("position_side"), kw.get("price"))))
        acc.crosses = lambda is_buy, price: True  # this order would take liquidity
        try:
            return place(*args, **kw)
        finally:
            del acc.crosses

    acc.place = crossing_place
    try:
        for o in list(acc.open_orders.values()):
            if o.post_only:
                acc.cancel(o.id)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < window_s:  # a measurement window, not a wait
            await asyncio.sleep(0.05)
    finally:
        acc.place = place
    per_order: dict = {}
    for t, key in sends:
        if t0 <= t < t0 + window_s:
            per_order[key] = per_order.get(key, 0) + 1
    return {"cross_sends": max(per_order.values(), default=0), "cross_window_s": window_s,
            "cross_orders": len(per_order)}


def report(name: str, r: dict) -> list[str]:
    hours = r["minutes"] / 60.0
    req_h = r["order_requests"] / hours
    fills_h = r["fills"] / hours
    lines = [
        f"{name}: {r['minutes']} emulated minutes, {r['fills']} fills, "
        f"{r['order_requests']} order requests",
        f"order_requests_per_hour_{name}: {req_h:.1f} req/h (target <= 15 x fills/h + 30 = "
        f"{15 * fills_h + 30:.1f})",
        f"order_requests_per_min_p99_{name}: {pct(r['per_min'], 99):.1f} req/min (target <= 10)",
        f"order_requests_beyond_calculator_{name}: {r['excess']} req (target 0)",
    ]
    if r["tp_ms"]:
        lines.append(f"fill_to_take_profit_p99_{name}: {pct(r['tp_ms'], 99):.1f} ms "
                     f"(target < 1000)")
    if "retry_after_requests" in r:
        lines += [
            f"requests_during_retry_after_{name}: {r['retry_after_requests']} req (target 0)",
            f"resumed_after_retry_after_{name}: {r['retry_after_resumed_s']:.2f} s "
            f"(target < 2)",
            f"silent_expiry_take_profit_{name}: {r['silent_user_tp_s']:.2f} s (target < 10)",
        ]
        lines.append(f"clock_skew_recovery_{name}: {r['clock_skew_s']:.2f} s "
                     f"({r['clock_refused']} requests refused, {r['clock_resyncs']} resyncs) "
                     f"(target < 10, refused >= 1)")
        lines.append(f"post_only_crossing_resends_{name}: {r['cross_sends']} sends in "
                     f"{r['cross_window_s']:.0f} s of one entry ({r['cross_orders']} entries "
                     f"crossing) (target <= 6 a minute)")
    return lines


def parse_kv(items: list[str]) -> dict:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = {"true": True, "false": False}.get(v.lower(), v)
        try:
            out[k] = float(v) if "." in v else int(v)
        except ValueError:
            pass
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=1.5, help="emulated hours per run")
    ap.add_argument("--exchanges", default="binance,bybit")
    ap.add_argument("--emu", nargs="*", default=[], metavar="KEY=VALUE",
                    help="keyword arguments for Emulator(...), e.g. its realism knob")
    args = ap.parse_args(argv)
    logging.getLogger("passivbot").setLevel(logging.ERROR)
    minutes = int(args.hours * 60)
    emu_kwargs = parse_kv(args.emu)
    markets = {"busy": busy_candles(1440 + minutes + 1),
               "calm": calm_candles(1440 + minutes + 1),
               "grid": fall_then_rise()}
    lines = []
    for ex in args.exchanges.split(","):
        for i, (label, candles) in enumerate(markets.items()):
            r = asyncio.run(campaign(ex, candles, minutes, emu_kwargs, faults=(label == "grid")))
            lines += report(f"{ex}_{label}", r)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
