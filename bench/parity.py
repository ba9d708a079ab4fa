"""Backtest vs live parity over 30 days of bundled ETHUSDT, Binance and Bybit.

For each exchange (one process each, in parallel): the backtester's fills, then the real live
bot (real ccxt) trading the emulator in lockstep over the same candles (harness.parity),
compared fill by fill (minute, side, kind, price, qty), plus final balance and positions.
Every mismatch is listed with its minute.

Lockstep through ccxt costs ~15 ms an emulated minute (a cancel and a create each minute
while a side is flat: its initial entry follows the EMAs), so 30 days is ~11 minutes per
exchange. `--time-limit` bounds each live run; a run stopped there is compared over the
candles it reached, and the line says how many days that was.

`--realism full` (default) runs the emulator's realistic mode (intra-minute path at 8 points a
minute, one-tick book, PostOnly against it, partial fills, venue limits); `--realism minute`
the older one-kline-a-minute emulator.

`--funding on` (default where the bundled sample or caches/ has the symbol's funding events):
both the backtest and the emulator charge the same funding events (passivbot.data.perp), and the
final balances compared include them; `--funding off` models none. `--config high-exposure`:
leverage 7 and wallet_exposure_limit 3.5 per side, a config whose entries the exchange refuses
for margin (refused identically by both, the one rule). `--config bounded-loss`: busy plus
auto-unstuck and a 2 % equity stop (tests/test_live_risk_parity.py's rules); unstuck and stop
closes compare as closes (the exchange sees reduce-only orders). E.g. `--config bounded-loss
--start-day 4 --days 1 --realism minute`.

Run: python3 bench/parity.py [--days 30] [--start-day 0] [--time-limit 780]
     [--realism full|minute] [--exchanges binance bybit] [--funding on|off]
     [--config busy|high-exposure|bounded-loss]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY = 1440


def config(name: str):
    from passivbot.config import live_config_from_dict, live_config_to_dict
    from harness.parity import busy_config

    if name == "busy":
        return busy_config()
    d = live_config_to_dict(busy_config())
    if name == "bounded-loss":  # the short test's (tests/test_live_risk_parity.py) rules
        for side in ("long", "short"):
            d[side].update(unstuck_threshold=0.3, unstuck_close_pct=0.2, unstuck_ema_dist=0.0,
                           unstuck_loss_allowance_pct=0.01)
        d.update(equity_stop_drawdown=0.02, equity_stop_cooldown_minutes=120)
        return live_config_from_dict(d, "busy + auto-unstuck + equity stop 2 % / 120 min")
    d["leverage"] = 7
    for side in ("long", "short"):
        d[side]["wallet_exposure_limit"] = 3.5
    return live_config_from_dict(d, "busy, leverage 7, exposure 3.5 + 3.5")


def one(exchange: str, days: float, time_limit: float, realism: str, funding: str = "on",
        start_day: float = 0.0, cfg_name: str = "busy") -> tuple[list[str], dict]:
    import numpy as np

    from passivbot.backtest.engine import S_MARGIN_REFUSED, run_backtest
    from passivbot.config import side_params
    from passivbot.data.bundled import load_bundled
    from passivbot.data.perp import load_funding
    from passivbot.markets import DEFAULT_FEES, market_spec
    from harness.parity import funding_arrays, run_parity, summary_lines

    s0 = int(start_day * DAY)
    candles = np.array(load_bundled("ETHUSDT")[s0: s0 + int(days * DAY)])
    cfg = config(cfg_name)
    fs = None
    if funding == "on":
        fs = load_funding(exchange, "ETHUSDT", int(candles[0, 0]), int(candles[-1, 0]) + 60_000,
                          cache_dir="caches")
        fs = fs if len(fs) else None
    t0 = time.perf_counter()
    last = [t0]

    def progress(i: int, n: int) -> None:
        if time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            print(f"  {exchange}: minute {i}/{n} after {last[0] - t0:.0f} s", file=sys.stderr,
                  flush=True)

    bounded = cfg_name == "bounded-loss"
    rep = asyncio.run(run_parity(cfg, candles, exchange, progress=progress,
                                 time_limit_s=time_limit, realism=realism, funding=fs,
                                 bounded_loss=bounded))
    spec, fees = market_spec(exchange, "ETHUSDT"), DEFAULT_FEES[exchange]
    f = funding_arrays(fs)
    from passivbot.config.risk import stop_params, unstuck_params
    risk = dict(long_risk=unstuck_params(cfg.long), short_risk=unstuck_params(cfg.short),
                stop_params=stop_params(cfg)) if bounded else {}
    bt_fills, _, summ = run_backtest(candles[:rep.n_candles], side_params(cfg.long),
                              side_params(cfg.short), spec.market_array(), spec.brackets_array(),
                              10_000.0, fees["maker_fee"], fees["taker_fee"], spec.mmr_add,
                              leverage=float(cfg.leverage),
                              funding_times=None if f is None else f[0],
                              funding_rates=None if f is None else f[1],
                              funding_marks=None if f is None else f[2], **risk)
    from passivbot.records import KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE
    from passivbot.backtest.engine import S_FUNDING_EVENTS, S_FUNDING_PAID, S_FUNDING_RECEIVED
    fig = {"funding_events": 0 if fs is None else int(summ[S_FUNDING_EVENTS]),
           "funding_net": float(summ[S_FUNDING_RECEIVED] - summ[S_FUNDING_PAID]),
           "margin_refused": int(summ[S_MARGIN_REFUSED]),
           "unstuck_closes": int((bt_fills["kind"] == KIND_UNSTUCK_CLOSE).sum()),
           "stop_closes": int((bt_fills["kind"] == KIND_STOP_CLOSE).sum()),
           "rate": rep.match_rate, "ok": rep.ok, "days": rep.n_candles / DAY,
           "seconds": time.perf_counter() - t0, "fills": len(rep.backtest.fills),
           "minutes_per_s": rep.n_candles / max(rep.live.seconds, 1e-9),
           "balance_diff": rep.balance_diff}
    return summary_lines(rep), fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--time-limit", type=float, default=780.0,
                    help="seconds per exchange's live run (they run in parallel)")
    ap.add_argument("--exchanges", nargs="+", default=["binance", "bybit"])
    ap.add_argument("--realism", choices=("full", "minute"), default="full")
    ap.add_argument("--funding", choices=("on", "off"), default="on",
                    help="charge the symbol's funding events in both (default: on where data "
                         "exists)")
    ap.add_argument("--start-day", type=float, default=0.0, help="first day of the sample")
    ap.add_argument("--config", choices=("busy", "high-exposure", "bounded-loss"),
                    default="busy")
    args = ap.parse_args()
    print(f"realism: {args.realism}; funding: {args.funding}; config: {args.config}; days "
          f"{args.start_day:g}..{args.start_day + args.days:g}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=len(args.exchanges)) as pool:
        futs = {ex: pool.submit(one, ex, args.days, args.time_limit, args.realism,
                                args.funding, args.start_day, args.config)
                for ex in args.exchanges}
        results = {ex: f.result() for ex, f in futs.items()}
    ok = True
    for ex, (lines, _) in results.items():
        print("\n".join(lines))
    for ex, (_, fig) in results.items():
        ok &= fig["ok"]
        print(f"parity_days_{ex}: {fig['days']:.2f} days (target {args.days:g})")
        print(f"parity_fills_{ex}: {fig['fills']} fills")
        print(f"parity_lockstep_speed_{ex}: {fig['minutes_per_s']:.0f} minutes/s")
        print(f"parity_match_{ex}: {fig['rate']:.1f} % (target 100)")
        print(f"parity_balance_diff_{ex}: {fig['balance_diff']:.6f} USDT (target 0)")
        print(f"parity_funding_events_{ex}: {fig['funding_events']} events, net "
              f"{fig['funding_net']:+.4f} USDT received")
        print(f"parity_margin_refused_{ex}: {fig['margin_refused']} entry fills refused "
              f"(backtest count)")
        print(f"parity_bounded_loss_{ex}: {fig['unstuck_closes']} unstuck closes, "
              f"{fig['stop_closes']} equity-stop closes (backtest count)")
    print(f"parity_total_time: {time.perf_counter() - t0:.0f} s (target < 900)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
