#!/usr/bin/env python3
"""Auto-unstuck and the equity stop on the bundled samples: one config backtested without them
(its own rules set to 0), with unstuck, with the stop and with both, on several symbols; prints
a markdown table (docs/configs.md "Bounded loss", docs/backtest.md) and one `name: value unit`
line per symbol and variant.

    python3 bench/bounded_loss.py [--symbols ETHUSDT,BTCUSDT,...] [--config default]
        [--wallet-exposure-limit 3.5] [--start-date 2025-05-05 --end-date 2025-06-03]

Every run: backtest_configs/demo.json's dates, balance and fees, the symbol's bundled funding,
the live config's leverage, its EMA warm-up (what `python3 backtest.py` does). --start-date /
--end-date (end exclusive) replace the demo's dates for every symbol, e.g. to stay inside a
shorter bundled sample (ENAUSDT's ends on 2025-06-03).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passivbot.backtest.runner import (  # noqa: E402
    backtest_live_config, load_backtest_candles, with_overrides,
)
from passivbot.config.risk import STOP_KEYS, UNSTUCK_KEYS  # noqa: E402
from passivbot.config import (  # noqa: E402
    LiveConfig, live_config_from_dict, live_config_to_dict, load_backtest_config, load_live_config,
)

UNSTUCK = {"unstuck_threshold": 0.8, "unstuck_close_pct": 0.1, "unstuck_ema_dist": 0.005,
           "unstuck_loss_allowance_pct": 0.02}
STOP = {"equity_stop_drawdown": 0.1, "equity_stop_cooldown_minutes": 1440}
VARIANTS = {"off": ({}, {}), "unstuck": (UNSTUCK, {}), "stop": ({}, STOP),
            "both": (UNSTUCK, STOP)}


def variant(base: LiveConfig, side_keys: dict, top_keys: dict, wel: float | None) -> LiveConfig:
    d = live_config_to_dict(base)
    d.update({k: 0 for k in STOP_KEYS})  # "off" is off, whatever the config ships with
    for s in ("long", "short"):
        d[s].update({k: 0.0 for k in UNSTUCK_KEYS})
        d[s].update(side_keys)
        if wel is not None:
            d[s]["wallet_exposure_limit"] = wel
    d.update(top_keys)
    return live_config_from_dict(d, f"{base.source} (variant)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", default="ETHUSDT,BTCUSDT,SOLUSDT,XRPUSDT,BNBUSDT")
    ap.add_argument("--config", default="default")
    ap.add_argument("--wallet-exposure-limit", type=float, default=None)
    ap.add_argument("--start-date", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--end-date", type=dt.date.fromisoformat, default=None)
    a = ap.parse_args()
    bt = with_overrides(load_backtest_config("demo"), start_date=a.start_date,
                        end_date=a.end_date)
    print(f"period {bt.start_date} .. {bt.end_date} (end exclusive), config {a.config}, "
          f"wallet_exposure_limit {a.wallet_exposure_limit or 'as configured'}")
    base = load_live_config(a.config)
    lines = []
    print("| symbol | variant | liquidated | max drawdown | hours stuck long / short | gain |"
          " unstuck closes (loss) | stops |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for sym in a.symbols.split(","):
        b = with_overrides(bt, symbol=sym)
        candles = load_backtest_candles(b)
        for name, (side_keys, top_keys) in VARIANTS.items():
            s = backtest_live_config(variant(base, side_keys, top_keys, a.wallet_exposure_limit),
                                     b, candles=candles).stats
            print(f"| {sym} | {name} | {'yes' if s['liquidated'] else 'no'} | "
                  f"{s['max_drawdown'] * 100:.2f} % | {s['max_hours_stuck_long']:.1f} / "
                  f"{s['max_hours_stuck_short']:.1f} | {s['gain'] * 100:.2f} % | "
                  f"{int(s['n_unstuck_closes'])} ({s['unstuck_loss']:.2f}) | "
                  f"{int(s['n_equity_stops'])} |", flush=True)
            lines.append(f"bounded_loss_gain_{sym}_{name}: {s['gain'] * 100:.2f} % "
                         f"(target: none, measured)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
