"""A stand-in evaluator for optimizer tests that must not depend on the engine's speed or
behaviour: a smooth function of the long side's params with a known optimum, shaped like the
backtester's stats dict. Importable by spawned workers (tests/ is on their sys.path)."""

import numpy as np

from passivbot.records import P_DDOWN_FACTOR, P_MIN_MARKUP, P_WALLET_EXPOSURE_LIMIT

TARGET = {P_WALLET_EXPOSURE_LIMIT: 0.8, P_DDOWN_FACTOR: 1.5, P_MIN_MARKUP: 0.008}
SCALE = {P_WALLET_EXPOSURE_LIMIT: 1.0, P_DDOWN_FACTOR: 2.0, P_MIN_MARKUP: 0.01}


def stats(ctx, m, long_p, short_p, candles, leverage, risk=None):
    """Quadratic bowl around TARGET; drawdown grows with exposure (for the Pareto front)."""
    d = sum(((long_p[k] - t) / SCALE[k]) ** 2 for k, t in TARGET.items())
    return {"average_daily_gain": 0.01 - 0.01 * d, "max_drawdown": 0.5 * long_p[P_WALLET_EXPOSURE_LIMIT],
            "closest_liquidation_distance": 1.0, "max_hours_stuck": 1.0, "fills_per_day": 10.0,
            "liquidated": 0.0, "gain": 0.0, "n_fills": float(len(candles)),
            "close_sum": float(np.sum(candles[:, 4]))}  # what the worker's candles hold


def write_bt_config(folder, days=5, seed=7, **optimize):
    """A backtest config on `days` of seeded synthetic candles, ETH-J1 (which loses money on
    seed 7) as the starting config, the demo's bounds; `optimize` overrides its section."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    d = json.loads((root / "backtest_configs" / "demo.json").read_text())
    d.update(data_source="synthetic", synthetic_seed=seed, start_date="2024-01-01",
             end_date=f"2024-01-{1 + days:02d}",
             starting_configs=[str(root / "live_settings" / "ETH-J1.json")])
    d["optimize"].update(optimize)
    path = Path(folder) / "bt.json"
    path.write_text(json.dumps(d))
    return path


WARMUP_ROWS = 2000  # init_worker's warm-up backtests this many candles


def slow_start_stats(ctx, m, long_p, short_p, candles, leverage, risk=None):
    """`stats`, where every worker but the first to warm up takes a second more to do it (as
    one loading a cold JIT cache would), so a pool that starts the search before every worker
    is up shows it. The first one claims a file in $PB_TEST_SLOW_START_DIR."""
    if len(candles) <= WARMUP_ROWS:
        import os
        import time

        try:
            os.close(os.open(os.path.join(os.environ["PB_TEST_SLOW_START_DIR"], "first"),
                             os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            time.sleep(1.0)
    return stats(ctx, m, long_p, short_p, candles, leverage)


def jitter_stats(ctx, m, long_p, short_p, candles, leverage, risk=None):
    """`stats` after 0-20 ms that vary with the candidate, so tasks finish out of order."""
    import time

    time.sleep(float(long_p[P_WALLET_EXPOSURE_LIMIT] * 7919.0 % 1.0) * 0.02)
    return stats(ctx, m, long_p, short_p, candles, leverage)


def per_symbol_stats(ctx, m, long_p, short_p, candles, leverage, risk=None):
    """`stats` with a gain lowered by the mean close price: symbols with different candles
    score differently."""
    st = stats(ctx, m, long_p, short_p, candles, leverage)
    st["average_daily_gain"] -= 0.001 * float(np.mean(candles[:, 4]))
    return st


def risk_stats(ctx, m, long_p, short_p, candles, leverage, risk=None):
    """`stats` with the bounded-loss arrays the evaluator received echoed back, so a test sees
    what each candidate's rules reached the engine with (risk None: -1)."""
    from passivbot.risk import S_DRAWDOWN, U_THRESHOLD

    st = stats(ctx, m, long_p, short_p, candles, leverage)
    st["risk_long_threshold"] = -1.0 if risk is None else float(risk[0][U_THRESHOLD])
    st["risk_stop_drawdown"] = -1.0 if risk is None else float(risk[2][S_DRAWDOWN])
    return st
