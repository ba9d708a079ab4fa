"""`python3 -m passivbot.report JOURNAL [--out DIR] [--compare bundled|cache|synthetic]`: a live
or paper session's journal as a backtest-style report folder (stats.json, fills.csv,
equity.csv, plots/, session.json) and console summary; with `--compare`, the backtest of the
same config over the same period's candles, side by side (compare.csv).

`python3 -m passivbot.report --exchange binance --user NAME --since 2025-05-05 [--until ...]`:
the same report from the exchange's own trade history (every page, through ccxt; the key pair
of NAME in api-keys.json, or `--emulator HOST:PORT` for a paper session), written first as a
journal in the report folder (what it can and cannot say: passivbot/report/exchange.py).

Exit 2 with a message (never a traceback) for a missing or bad journal, an output folder that
cannot be written (checked before any work), bad dates or keys, or candles that do not cover the
session; exit 1 when the exchange cannot be read (its message, redacted).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np

from passivbot.cli import check_output_dir, run_cli
from passivbot.errors import InputError
from passivbot.report.history_cli import add_history_args, journal_from_history


def _fmt(key: str, v: float) -> str:
    if key in ("gain", "average_daily_gain", "max_drawdown", "closest_liquidation_distance"):
        return f"{v:+.3%}" if "gain" in key else f"{v:.2%}"
    if key.startswith("n_"):
        return f"{v:.0f}"
    return f"{v:,.2f}"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 -m passivbot.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("journal", type=Path, nargs="?",
                   help="the bot's journal (JSONL), e.g. logs/*.journal")
    p.add_argument("--out", type=Path, default=Path("reports"),
                   help="folder for the report (default: reports/)")
    p.add_argument("--compare", choices=("bundled", "cache", "synthetic"),
                   help="also backtest the session's config over its period with these candles")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_history_args(p)
    args = p.parse_args(argv)
    if (args.journal is None) == (args.exchange is None):
        raise InputError("give a JOURNAL file or --exchange EXCHANGE --user NAME --since DATE "
                         "(the exchange's trade history), not both")
    if args.exchange is not None:
        check_output_dir(args.out, "--out")
        args.journal = journal_from_history(args)
    if not args.journal.is_file():
        raise InputError(f"journal not found: {args.journal}")
    check_output_dir(args.out, "--out")

    import json

    from passivbot.backtest.report import summary_table, write_report
    from passivbot.report.journal import JournalError, read_journal
    from passivbot.report.session import comparison_rows, session_result

    try:
        journal = read_journal(args.journal)
    except JournalError as e:
        raise InputError(str(e)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read journal {args.journal}: {e}") from None
    result, info = session_result(journal, str(args.journal))
    label = f"session_{info.mode}_{Path(args.journal).stem}"
    out = write_report(result, args.out, label=label, plots=not args.no_plots)
    (out / "session.json").write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    table = summary_table(result)  # the backtest's own summary; only its first word differs
    print(f"{info.mode} session" + table[len("backtest"):] if table.startswith("backtest")
          else table)
    total = info.n_maker + info.n_taker
    print(f"  maker / taker fills  {info.n_maker} / {info.n_taker}"
          f"   (fees maker {info.fees_maker:,.4f}, taker {info.fees_taker:,.4f})")
    if total and info.n_taker:
        print(f"note: {info.n_taker} of {total} fills paid the taker fee; the backtest books "
              "grid fills as maker, so its fees are lower for the same fills")
    if info.n_sessions > 1:
        print(f"note: {info.n_sessions} sessions (restarts) in this journal"
              + ("; the config changed between them (stats use the first)"
                 if info.config_changed else ""))
    if args.compare:
        _compare(args.compare, result, out, comparison_rows)
    print(f"report: {out}")
    return 0


def _compare(source: str, result, out: Path, comparison_rows) -> None:
    from passivbot.backtest.runner import backtest_live_config, warmup_candles
    from passivbot.data import load_source

    info = result.candles_info
    t0, t1 = int(info["first_ts"]), int(info["last_ts"])
    day = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date()  # noqa: E731
    bt = replace(result.backtest_config, data_source=source)
    # The bot warmed its EMAs on history before the session: the backtest warms on the candles
    # before t0 (as many as there are, up to the runner's warm-up) and trades from t0.
    t_warm = t0 - warmup_candles(result.live_config, 1 << 40) * 60_000
    try:
        candles = load_source(source, bt.exchange, bt.symbol, day(t_warm),
                              day(t1) + dt.timedelta(days=1), download=False)
    except Exception as e:  # DataError and friends: the candles are not there
        raise InputError(f"--compare {source}: no candles for {bt.symbol} "
                         f"{day(t0)}..{day(t1)}: {e}") from None
    candles = candles[(candles[:, 0] >= t_warm) & (candles[:, 0] <= t1)]
    n_warm = int(np.count_nonzero(candles[:, 0] < t0))
    if len(candles) - n_warm < 2 or candles[n_warm, 0] > t0 + 60_000:
        raise InputError(f"--compare {source}: the candles do not cover the session start "
                         f"({day(t0)}); download them or use another source")
    back = backtest_live_config(result.live_config, bt, np.ascontiguousarray(candles),
                                warmup=n_warm)
    rows = comparison_rows(result.stats, back.stats)
    print(f"\nsession vs backtest of the same config, same period ({len(candles) - n_warm:,} "
          f"candles after {n_warm:,} of warm-up,"
          f" {source}):")
    print(f"  {'stat':<30} {'session':>14} {'backtest':>14} {'difference':>14}")
    for k, a, b, d in rows:
        print(f"  {k:<30} {_fmt(k, a):>14} {_fmt(k, b):>14} {_fmt(k, d):>14}")
    with open(out / "compare.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stat", "session", "backtest", "difference"])
        w.writerows(rows)


if __name__ == "__main__":
    run_cli(main)
