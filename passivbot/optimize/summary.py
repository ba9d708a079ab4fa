"""What the console shows after an optimization, in a trader's words: the best config's gain,
average daily gain, drawdown, hours stuck, closest liquidation and fees; how many candidates
broke each constraint; what "score" means; per-symbol and hold-out results when there are any.
The optimizer's own figures (trials/s, overhead) only with --verbose."""

from __future__ import annotations

from collections import Counter
from typing import Any

SCORE_MEANING = ("score = average daily gain when every constraint holds; a broken constraint "
                 "subtracts 1 plus how far past its threshold it went (so every candidate that "
                 "breaks one ranks below every candidate that breaks none)")

ROWS = (  # label, stat key, format
    ("gain", "gain", "{:+.2%}"),
    ("average daily gain", "average_daily_gain", "{:+.4%}"),
    ("max drawdown", "max_drawdown", "{:.2%}"),
    ("hours stuck (longest)", "max_hours_stuck", "{:.1f} h"),
    ("closest liquidation", "closest_liquidation_distance", "{:.1%} away"),
    ("fees paid", "fees_paid", "{:,.2f} USDT"),
    ("fills per day", "fills_per_day", "{:.1f}"),
)


def _fmt(stats: dict[str, float], key: str, f: str) -> str:
    return f.format(stats[key]) if key in stats else "-"


def broken_counts(records: list[dict[str, Any]]) -> Counter:
    """How many candidates broke each constraint (and how many were invalid configs)."""
    c: Counter = Counter()
    for r in records:
        if r.get("error"):
            c["invalid config"] += 1
        for k in r.get("violations") or {}:
            c[k] += 1
    return c


def summary_lines(res: Any, verbose: bool = False) -> list[str]:
    """The lines printed after a run (res: run.OptimizeResult)."""
    b, recs = res.best, res.records
    st = b.get("stats") or {}
    starts = [r for r in recs if r["origin"].startswith("start:")]
    out = [f"run folder: {res.run_dir}",
           f"{len(recs)} candidates evaluated; best is trial #{b['number']} "
           f"({b['origin']}), score {b['score']:.6g}"
           + (f"; the starting config scored {max(r['score'] for r in starts):.6g}"
              if starts else "")]
    width = max(len(r[0]) for r in ROWS)
    several = len(res.symbols) > 1
    out.append("best config" + (" (mean over the searched symbols):" if several else
                                " (the account, every symbol on one wallet):"
                                if res.one_wallet else ":"))
    out += [f"  {label:<{width}}  {_fmt(st, key, f):>16}" for label, key, f in ROWS]
    if several:
        out.append("per symbol:  " + "  ".join(f"{s} score {v['score']:.4g} gain "
                                               f"{v['stats']['gain']:+.2%}"
                                               for s, v in res.symbols.items()))
    if res.one_wallet:
        out.append("one wallet, per symbol:  " + "  ".join(
            f"{s} pnl {v['realized_pnl']:+,.2f} fills {v['n_fills']:g}"
            for s, v in res.one_wallet["symbols"].items()))
    if res.holdout:
        h = res.holdout
        out.append("hold-out (never searched): " + "  ".join(
            f"{s} score {v['score']:.4g} gain {v['stats']['gain']:+.2%}"
            for s, v in h["symbols"].items())
            + f"; mean score {h['mean']:.4g} beside the search's {b['score']:.4g}")
    if res.holdout_period:
        h = res.holdout_period
        out.append(f"hold-out period (the last {h['days']} days, from {h['start']}, never "
                   f"searched): score {h['score']:.4g} beside the search's {b['score']:.4g}; "
                   + "  ".join(f"{s} gain {v['stats']['gain']:+.2%}"
                               for s, v in h["symbols"].items()))
    out.append(SCORE_MEANING)
    counts = broken_counts(recs)
    if counts:
        out.append("constraints broken: " + ", ".join(
            f"{k} by {n} of {len(recs)}" for k, n in counts.most_common()))
    if b.get("violations"):
        out.append("warning: no candidate met every constraint; best.json breaks "
                   + ", ".join(f"{k} (by {100 * v:.0f}%)"
                               for k, v in sorted(b["violations"].items()))
                   + ". Widen the bounds, relax the constraints or run more iterations.")
    out.append(f"best.json: {res.run_dir / 'best.json'}")
    if res.report_dir:
        out.append(f"report: {res.report_dir}")
    s = res.search
    if verbose and s.trials:
        out.append(f"this session: {s.trials} trials in {s.wall_s:.1f} s "
                   f"({s.trials / s.wall_s:.1f} trials/s, {s.generations} generations); "
                   f"optimizer overhead {100 * s.overhead_fraction:.2f}% of the backtests' "
                   f"CPU time")
    return out
