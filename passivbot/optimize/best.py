"""The best config after a search: its full backtest report on every searched symbol, its
stats per symbol (`symbols.json`), and its score on the hold-out symbols (`holdout.json`) and
the final hold-out days (`holdout_period.json`) the search never saw, reported beside the
search's score so overfitting to the searched charts or period shows."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from passivbot.config import BacktestConfig, LiveConfig
from passivbot.optimize.candles import load_candles
from passivbot.optimize.objective import combine, fold_slices, score
from passivbot.optimize.output import write_json


def symbol_results(cfg: LiveConfig, bt: BacktestConfig, candles: dict[str, np.ndarray]
                   ) -> dict[str, Any]:
    """{symbol: BacktestResult} of `cfg` over each symbol's whole period."""
    from passivbot.backtest.runner import backtest_live_config

    return {s: backtest_live_config(cfg, replace(bt, symbol=s, symbols=(s,)), candles=c)
            for s, c in candles.items()}


def symbol_scores(results: dict[str, Any], bt: BacktestConfig, candles: dict[str, np.ndarray]
                  ) -> dict[str, dict[str, Any]]:
    """{symbol: {"score", "stats"}}: the score as the search computes it (folds included),
    the stats over the whole period (those of the report)."""
    from passivbot.backtest.runner import backtest_live_config

    o = bt.optimize
    out = {}
    for s, res in results.items():
        if o.n_folds == 1:
            sc = score(res.stats, o.constraints)
        else:
            fold = [backtest_live_config(res.live_config, replace(bt, symbol=s, symbols=(s,)),
                                         candles=candles[s][sl]).stats
                    for sl in fold_slices(len(candles[s]), o.n_folds)]
            sc = combine(fold, [score(f, o.constraints) for f in fold], o.fold_score)[0]
        out[s] = {"score": sc, "stats": res.stats}
    return out


def write_best_reports(cfg: LiveConfig, bt: BacktestConfig, candles: dict[str, np.ndarray],
                       run_dir: Path, plots: bool = True) -> tuple[Path, dict[str, Any]]:
    """The best config's report per searched symbol under run_dir/report (one symbol: as
    before, one folder), and with several symbols run_dir/symbols.json. Returns the report
    root and {symbol: {score, stats}}."""
    from passivbot.backtest.report import write_report

    results = symbol_results(cfg, bt, candles)
    for s, res in results.items():
        write_report(res, root=run_dir / "report", label="best", plots=plots)
    per = symbol_scores(results, bt, candles) if len(results) > 1 else {}
    if per:
        write_json(run_dir / "symbols.json", per)
    return run_dir / "report", per


def holdout(cfg: LiveConfig, bt: BacktestConfig, candles: dict[str, np.ndarray] | None = None,
            run_dir: Path | None = None) -> dict[str, Any]:
    """The best config on the hold-out symbols: {symbol: {score, stats}} plus "mean" and
    "worst" scores; written to run_dir/holdout.json. Symbols whose candles or market spec
    cannot be had are skipped with a note."""

    syms = bt.optimize.holdout_symbols
    if not syms:
        return {}
    got: dict[str, np.ndarray] = {}
    for s in syms:
        try:
            got[s] = candles[s] if candles and s in candles else load_candles(bt, s)
        except Exception as e:  # noqa: BLE001 - a note, the search's result stands
            print(f"note: hold-out symbol {s} skipped ({e})", file=sys.stderr)
    try:
        per = symbol_scores(symbol_results(cfg, bt, got), bt, got)
    except KeyError as e:  # no offline market spec
        print(f"note: hold-out skipped ({e.args[0]})", file=sys.stderr)
        return {}
    scores = [v["score"] for v in per.values()]
    out = {"symbols": per, "mean": float(np.mean(scores)) if scores else None,
           "worst": min(scores) if scores else None}
    if run_dir is not None:
        write_json(run_dir / "holdout.json", out)
    return out


def write_best_one_wallet(run_dir: Path, candidate: dict[str, Any], symbols: tuple[str, ...]
                          ) -> Any:
    """best.json of a one-wallet search: the multi-symbol live config every candidate was
    backtested as (objective.one_wallet_dict), validated before it is written."""
    from passivbot.config.multi import multi_config_from_dict
    from passivbot.optimize.objective import one_wallet_dict

    d = one_wallet_dict(candidate, list(symbols))
    cfg = multi_config_from_dict(d, str(run_dir / "best.json"))
    write_json(run_dir / "best.json", d)
    return cfg


def one_wallet_result(cfg: Any, bt: BacktestConfig, candles: dict[str, np.ndarray]
                      ) -> dict[str, Any]:
    """The multi-symbol config `cfg` on one wallet over `candles`: {"score", "stats" (the
    account's), "symbols" (each symbol's share)}, by multi_runner.backtest_multi_config."""
    from passivbot.backtest.multi_runner import backtest_multi_config

    out = backtest_multi_config(cfg, bt, candles=candles)
    acc = out.stats["account"]
    return {"score": score(acc, bt.optimize.constraints), "stats": acc,
            "symbols": out.stats["symbols"]}


def holdout_period(cfg: Any, bt: BacktestConfig, candles: dict[str, np.ndarray],
                   run_dir: Path | None = None) -> dict[str, Any]:
    """The best config over the final `optimize.holdout_days` (`candles`: that period's, per
    searched symbol), scored as the search scores (folds, then symbols by `symbol_score`):
    {"days", "start", "score", "symbols": {symbol: {score, stats}}}; written to
    run_dir/holdout_period.json."""
    import datetime as dt

    if bt.optimize.one_wallet:  # one account: its score and stats, each symbol's share
        r = one_wallet_result(cfg, bt, candles)
        per = {"+".join(candles): {"score": r["score"], "stats": r["stats"]}}
    else:
        per = symbol_scores(symbol_results(cfg, bt, candles), bt, candles)
    scores = [v["score"] for v in per.values()]
    days = bt.optimize.holdout_days
    out = {"days": days, "start": (bt.end_date - dt.timedelta(days=days)).isoformat(),
           "score": min(scores) if bt.optimize.symbol_score == "worst" else float(np.mean(scores)),
           "symbols": per}
    if run_dir is not None:
        write_json(run_dir / "holdout_period.json", out)
    return out
