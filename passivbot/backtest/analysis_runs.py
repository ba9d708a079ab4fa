"""Finding and loading result folders for analysis (the notebook's first cells), and the
tables it shows next to the figures: stats, best config, an optimization's trials.

Layouts searched under a results root (default `backtests/`):
- a backtest:      {root}/{exchange}/{SYMBOL}/{YYYYmmddTHHMMSS}_{label}/   (report.write_report)
- an optimization: {root}/optimize/{exchange}/{SYMBOL}/{YYYYmmddTHHMMSS}/  (optimize.output),
  with trials.csv, best.json and the best config's backtest under report/{exchange}/{SYMBOL}/.

"Latest" is by the timestamp that starts the folder name (UTC creation time), then by name, so
the choice does not depend on file times a copy or a checkout may change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from passivbot.backtest.analysis import Run
from passivbot.backtest.report import SUMMARY_ROWS
from passivbot.data.bundled import BUNDLED_SYMBOLS, load_bundled
from passivbot.errors import InputError

DEMO_COMMAND = ("python3 backtest.py backtest_configs/demo.json "
                "--live-config live_settings/ETH-J1.json")
DEMO_DAYS = (date(2025, 5, 5), date(2025, 6, 24))  # demo.json's [start_date, end_date)
OPTIMIZE_DIR = "optimize"


class NoResultsError(InputError):
    """No result folder where one was expected. The message names the folder searched and the
    command that makes a result, so a notebook cell can print it instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        # IPython renders an exception through this hook when present: a notebook cell that
        # lets it propagate shows the message alone (and Run All stops there), no traceback.
        return [f"{type(self).__name__}: {self}"]


def make_command(symbol: str) -> str:
    """The command that writes a backtest result for `symbol` (the demo config runs offline on
    the bundled candles; other symbols need the downloader's cache first)."""
    sym = symbol.upper()
    if sym == "ETHUSDT":
        return DEMO_COMMAND
    cmd = f"{DEMO_COMMAND} --symbol {sym}"
    if sym in BUNDLED_SYMBOLS:  # its sample may span fewer days than the demo's
        first, end = _bundled_days(sym)
        if first > DEMO_DAYS[0]:
            cmd += f" --start-date {first.isoformat()}"
        if end < DEMO_DAYS[1]:
            cmd += f" --end-date {end.isoformat()}"
    else:
        cmd += ("\n  (bundled candles cover only " + ", ".join(BUNDLED_SYMBOLS) + "; for "
                f"{sym} download candles first (docs/data.md) and use a backtest config with "
                '"data_source": "cache")')
    return cmd


def _bundled_days(symbol: str) -> tuple[date, date]:
    """Days [first, last + 1) the bundled sample of `symbol` touches."""
    ts = load_bundled(symbol)[[0, -1], 0] / 1000.0
    first, last = (datetime.fromtimestamp(t, timezone.utc).date() for t in ts)
    return first, last + timedelta(days=1)


def _is_backtest(p: Path) -> bool:
    return (p / "fills.csv").is_file() and (p / "equity.csv").is_file()


def _is_optimization(p: Path) -> bool:
    return (p / "trials.csv").is_file() or (p / "best.json").is_file()


def _latest(paths: list[Path]) -> Path | None:
    # Folder names start with the UTC creation stamp (YYYYmmddTHHMMSS), so names sort by time.
    return max(paths, key=lambda p: (p.name[:15], p.name, str(p))) if paths else None


def _symbol_dirs(base: Path, symbol: str) -> list[Path]:
    """base/*/SYMBOL (case-insensitive symbol), skipping the optimize tree."""
    if not base.is_dir():
        return []
    out = []
    for ex in sorted(base.iterdir()):
        if ex.is_dir() and ex.name != OPTIMIZE_DIR:
            out += [d for d in ex.iterdir() if d.is_dir() and d.name.upper() == symbol.upper()]
    return out


def backtest_runs(symbol: str, root: str | Path = "backtests") -> list[Path]:
    """Every backtest folder of `symbol` under root: plain backtests and optimizations' best
    reports."""
    root = Path(root)
    dirs = _symbol_dirs(root, symbol)
    for opt in optimization_runs(symbol, root):
        dirs += _symbol_dirs(opt / "report", symbol)
    return [r for d in dirs for r in d.iterdir() if r.is_dir() and _is_backtest(r)]


def optimization_runs(symbol: str, root: str | Path = "backtests") -> list[Path]:
    """Every optimization folder of `symbol` under root/optimize."""
    dirs = _symbol_dirs(Path(root) / OPTIMIZE_DIR, symbol)
    return [r for d in dirs for r in d.iterdir() if r.is_dir() and _is_optimization(r)]


def _missing(symbol: str, root: Path, what: str) -> NoResultsError:
    return NoResultsError(
        f"no {what} for {symbol} under {root.resolve()} (searched {root}/*/{symbol}/* and "
        f"{root}/{OPTIMIZE_DIR}/*/{symbol}/*/report/).\nMake one with:\n  {make_command(symbol)}")


def find_run(symbol: str, root: str | Path = "backtests",
             run_dir: str | Path | None = None) -> Path:
    """The backtest folder to analyse: `run_dir` when given (an optimization folder resolves to
    its best config's report), else the latest backtest of `symbol` under `root`.

    Raises NoResultsError naming the folder searched and the command that makes a result."""
    root = Path(root)
    if run_dir is not None:
        p = Path(run_dir)
        if _is_backtest(p):
            return p
        if _is_optimization(p):
            reports = [r for d in _symbol_dirs(p / "report", symbol) for r in d.iterdir()
                       if r.is_dir() and _is_backtest(r)]
            if reports:
                return _latest(reports)  # type: ignore[return-value]
            raise NoResultsError(
                f"the optimization {p} has no backtest report of its best config for {symbol} "
                f"(expected {p}/report/*/{symbol}/*/fills.csv). Backtest its best.json with:\n"
                f"  python3 backtest.py {p}/backtest_config.json --live-config {p}/best.json")
        raise NoResultsError(
            f"{p.resolve()} is not a backtest result folder (no fills.csv and equity.csv) nor an "
            f"optimization folder (no trials.csv).\n"
            f"Make a backtest with:\n  {make_command(symbol)}")
    found = _latest(backtest_runs(symbol, root))
    if found is None:
        raise _missing(symbol, root, "backtest results")
    return found


def find_optimization(symbol: str, root: str | Path = "backtests",
                      run_dir: str | Path | None = None) -> Path | None:
    """The optimization folder to show: `run_dir` if it is one (or a report inside one), else
    the latest under root/optimize for `symbol`; None when there is none (optional section)."""
    if run_dir is not None:
        for p in (Path(run_dir), *Path(run_dir).parents):
            if _is_optimization(p):
                return p
        return None
    return _latest(optimization_runs(symbol, root))


@dataclass
class Optimization:
    """One optimization folder loaded: trials (one row per trial: number, origin, score, error,
    params by bound key such as `long.ddown_factor`, then stats), the best live config, and the
    names of the searched params."""

    path: Path
    trials: pd.DataFrame
    best: dict
    params: list[str]


def load_optimization(path: str | Path) -> Optimization:
    """Load trials.csv and best.json of an optimization folder."""
    p = Path(path)
    trials = pd.read_csv(p / "trials.csv") if (p / "trials.csv").is_file() else pd.DataFrame()
    if "error" in trials:
        trials["error"] = trials["error"].fillna("").astype(str)
    best = json.loads((p / "best.json").read_text()) if (p / "best.json").is_file() else {}
    params = [c for c in trials.columns if "." in c or c == "leverage"]
    return Optimization(p, trials, best, params)


def feasible_trials(trials: pd.DataFrame) -> pd.Series:
    """True for trials that ran and broke no constraint: the objective puts every broken one
    below -1 (PENALTY_OFFSET), and a valid score is an average daily gain, always > -1."""
    ok = trials["score"] > -1.0
    if "error" in trials:
        ok &= trials["error"].fillna("").astype(str) == ""
    return ok


def key_params(opt: Optimization, n: int = 6) -> list[str]:
    """The `n` searched params whose rank correlation with the score is strongest (constant
    ones dropped): the first panels worth reading."""
    t = opt.trials[feasible_trials(opt.trials)] if len(opt.trials) else opt.trials
    corr = {}
    for k in opt.params:
        if k in t and t[k].nunique() > 1:
            c = t[k].rank().corr(t["score"].rank())
            corr[k] = 0.0 if pd.isna(c) else abs(float(c))
    return sorted(corr, key=lambda k: -corr[k])[:n]


def best_config_table(live_config: dict) -> pd.DataFrame:
    """A live config dict as a table: one row per key, long and short side by side; global keys
    (symbol, leverage) in the `global` column."""
    sides = {s: live_config.get(s, {}) for s in ("long", "short")}
    keys = list(dict.fromkeys([*sides["long"], *sides["short"]]))
    rows = {k: {"long": sides["long"].get(k), "short": sides["short"].get(k)} for k in keys}
    glob = {k: v for k, v in live_config.items() if k not in sides}
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["long", "short"])
    g = pd.DataFrame({"global": pd.Series(glob, dtype=object)})
    return pd.concat([g, df]).astype(object).where(lambda d: d.notna(), "")


def stats_table(stats: dict, meta: dict | None = None) -> pd.DataFrame:
    """The console summary's rows (report.SUMMARY_ROWS) as a one-column table, formatted;
    with `meta`, the data source and candle range first (and a SYNTHETIC warning)."""
    rows: dict[str, str] = {}
    if meta:
        rows["data"] = f"{meta.get('exchange', '')} {meta.get('symbol', '')} " \
                       f"({meta.get('data_source', '')})"
        first, last = meta.get("first_candle", ""), meta.get("last_candle", "")
        rows["candles"] = f"{first[:16]} .. {last[:16]} UTC"
        if meta.get("synthetic"):
            rows["!! data"] = "SYNTHETIC candles: not market data"
    for name, key, fmt in SUMMARY_ROWS:
        if key is None:
            rows[name] = (f"{stats.get('n_fills', 0):.0f} ({stats.get('n_entries', 0):.0f}/"
                          f"{stats.get('n_closes', 0):.0f})")
        elif key in stats:
            rows[name] = fmt.format(stats[key])
    return pd.DataFrame({"value": pd.Series(rows)})


def _ts(x) -> pd.Timestamp | None:
    if x is None:
        return None
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def zoom(run: Run, start=None, end=None) -> Run:
    """The run restricted to [start, end) (UTC; strings like '2025-05-10' or '2025-05-10 12:00',
    Timestamps, or None for open ends): every plot of the zoomed run shows only that range."""
    s, e = _ts(start), _ts(end)

    def cut(df: pd.DataFrame) -> pd.DataFrame:
        m = pd.Series(True, index=df.index)
        if s is not None:
            m &= df["time"] >= s
        if e is not None:
            m &= df["time"] < e
        return df[m].reset_index(drop=True)

    return replace(run, fills=cut(run.fills), equity=cut(run.equity))
