"""Backtest config (`backtest_configs/NAME.json`): market, data, dates, fees, starting live
configs and the optimizer's settings and bounds. Its own schema table, same validation rules
as the live config (every issue at once, did-you-mean, ranges from one table)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passivbot.config.live import (
    PROJECT_ROOT, SIDE_FIELDS, SIDE_NUMERIC_KEYS, SIDES, SYMBOL_PATTERN, TOP_FIELDS, LiveConfig,
    check_live_dict, missing_file_message, read_config_file,
)
from passivbot.config.risk import STOP_KEYS, UNSTUCK_KEYS
from passivbot.config.schema import (
    BOOL, CHOICE, FLOAT, INT, LIST, OBJECT, STR, Collector, FieldSpec, check_object,
    did_you_mean, is_finite, read_json,
)
from passivbot.errors import MISSING
from passivbot.markets import DEFAULT_FEES, EXCHANGES

BACKTEST_CONFIG_VERSION = 1
PER_EXCHANGE = "DEFAULT_FEES[exchange]"  # documented default of the fee keys
SAMPLERS = ("cmaes", "tpe", "random", "nsga2", "nsga3")
MULTI_OBJECTIVE_SAMPLERS = ("nsga2", "tpe", "nsga3")
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


def _f(name: str, scope: str, kind: str, doc: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name, scope, kind, doc, **kw)


_FEE = dict(lo=-0.001, hi=0.01, default=PER_EXCHANGE, hint="fee rate; negative = rebate",
            unit="rate")
# scope: "top" | "optimize" (inside `optimize`) | "constraints" (inside `optimize.constraints`)
BACKTEST_SCHEMA: tuple[FieldSpec, ...] = (
    _f("config_version", "top", INT, "config format version", default=BACKTEST_CONFIG_VERSION,
       lo=1),
    _f("exchange", "top", CHOICE, "exchange whose data, fees and market specs are used",
       choices=EXCHANGES),
    _f("symbol", "top", STR, "exchange symbol id, e.g. ETHUSDT (or give `symbols`)",
       default=None, pattern=SYMBOL_PATTERN, hint="exchange id style, e.g. ETHUSDT"),
    _f("symbols", "top", LIST,
       "several symbols: the optimizer scores each candidate on all of them (the first is "
       "the one a single backtest uses)", default=None),
    _f("data_source", "top", CHOICE,
       "cache = downloader's cache, bundled = shipped sample, synthetic = seeded generator",
       default="cache", choices=("cache", "bundled", "synthetic")),
    _f("synthetic_seed", "top", INT, "seed of the synthetic generator (data_source synthetic)",
       default=0, lo=0),
    _f("start_date", "top", STR, "first day, UTC, inclusive", pattern=DATE_PATTERN,
       hint="YYYY-MM-DD", unit="date"),
    _f("end_date", "top", STR, "end day, UTC, exclusive; after start_date",
       pattern=DATE_PATTERN, hint="YYYY-MM-DD", unit="date"),
    _f("starting_balance", "top", FLOAT, "wallet balance at the start", default=1000.0,
       lo=0, lo_incl=False, unit="USDT"),
    _f("maker_fee", "top", FLOAT, "maker fee rate (resting orders)", **_FEE),
    _f("taker_fee", "top", FLOAT, "taker fee rate (liquidations)", **_FEE),
    _f("starting_configs", "top", LIST,
       "live config paths (relative to the project root) to backtest / seed the optimizer"),
    _f("optimize", "top", OBJECT, "optimizer settings (optional)", default=None),
    _f("iterations", "optimize", INT, "candidates to evaluate", default=200, lo=1,
       hi=1_000_000),
    _f("sampler", "optimize", CHOICE,
       "search algorithm: cmaes (the cmaes library), nsga2 / nsga3 (pymoo), random, tpe "
       "(Optuna)",
       default="cmaes",
       choices=SAMPLERS),
    _f("batch_size", "optimize", INT,
       "candidates per generation (the population); 0 = auto (32 per worker, at least the "
       "sampler's default)", default=0, lo=0, hi=100_000),
    _f("n_folds", "optimize", INT, "time folds each candidate is scored on", default=1, lo=1,
       hi=20),
    _f("fold_score", "optimize", CHOICE, "how fold scores combine", default="worst",
       choices=("worst", "mean")),
    _f("multi_objective", "optimize", BOOL,
       "gain vs drawdown, writes the Pareto front (needs sampler nsga2, nsga3 or tpe)",
       default=False),
    _f("symbol_score", "optimize", CHOICE, "how the scores on several symbols combine",
       default="mean", choices=("mean", "worst")),
    _f("one_wallet", "optimize", BOOL,
       "with several `symbols`: each candidate trades them all at once on one wallet (the "
       "multi-symbol backtest; its wallet_exposure_limit is each side's total) and is scored "
       "on the account", default=False),
    _f("holdout_symbols", "optimize", LIST,
       "symbols the search never sees; the best config is backtested on them at the end and "
       "reported beside its score", default=None),
    _f("holdout_days", "optimize", INT,
       "the last days of the period, which the search never sees; the best config is "
       "backtested on them at the end and reported beside its score (0 = none)", default=0,
       lo=0, hi=36_500, unit="days"),
    _f("seed", "optimize", INT, "random seed of the search", default=0, lo=0),
    _f("constraints", "optimize", OBJECT, "candidates violating these score as failed",
       default=None),
    _f("bounds", "optimize", OBJECT,
       'search space: {"leverage": [lo, hi], "long"/"short": {key: [lo, hi] or [lo, hi, step]}}',
       default=None),
    _f("min_liquidation_distance", "constraints", FLOAT,
       "closest liquidation distance / price must stay above", default=0.25, lo=0, hi=1,
       unit="ratio"),
    _f("max_hours_stuck", "constraints", FLOAT, "longest time without a fill", default=720.0,
       lo=0, lo_incl=False, unit="hours"),
    _f("max_drawdown", "constraints", FLOAT, "deepest equity drawdown", default=0.5, lo=0,
       hi=1, lo_incl=False, unit="ratio"),
    _f("min_daily_fills", "constraints", FLOAT, "average fills per day at least", default=0.5,
       lo=0, unit="fills/day"),
    _f("max_unstuck_loss", "constraints", FLOAT,
       "realized losses of unstuck closes at most this share of the starting balance",
       default=1.0, lo=0, unit="ratio"),
    _f("max_equity_stops", "constraints", INT,
       "the equity stop may fire at most this many times (-1 = any number)", default=-1,
       lo=-1, unit="count"),
)


def _scope(name: str) -> dict[str, FieldSpec]:
    return {f.name: f for f in BACKTEST_SCHEMA if f.scope == name}


BT_TOP, BT_OPTIMIZE, BT_CONSTRAINTS = _scope("top"), _scope("optimize"), _scope("constraints")


@dataclass(frozen=True)
class Bound:
    """Search interval of one parameter; `step` None = continuous."""

    lo: float
    hi: float
    step: float | None = None


@dataclass(frozen=True)
class Constraints:
    min_liquidation_distance: float = 0.25
    max_hours_stuck: float = 720.0
    max_drawdown: float = 0.5
    min_daily_fills: float = 0.5
    max_unstuck_loss: float = 1.0
    max_equity_stops: int = -1


@dataclass(frozen=True)
class OptimizeConfig:
    """Optimizer settings. `bounds` keys: "leverage", "long.<key>", "short.<key>"."""

    iterations: int = 200
    sampler: str = "cmaes"
    batch_size: int = 0
    n_folds: int = 1
    fold_score: str = "worst"
    multi_objective: bool = False
    symbol_score: str = "mean"
    one_wallet: bool = False
    holdout_symbols: tuple[str, ...] = ()
    holdout_days: int = 0
    seed: int = 0
    constraints: Constraints = field(default_factory=Constraints)
    bounds: dict[str, Bound] = field(default_factory=dict)


@dataclass(frozen=True)
class BacktestConfig:
    """A validated backtest config; starting configs are loaded and validated live configs."""

    config_version: int
    exchange: str
    symbol: str
    data_source: str
    synthetic_seed: int
    start_date: dt.date
    end_date: dt.date
    starting_balance: float
    maker_fee: float
    taker_fee: float
    starting_config_paths: tuple[str, ...]
    starting_configs: tuple[LiveConfig, ...]
    optimize: OptimizeConfig
    source: str = field(default="", compare=False)
    symbols: tuple[str, ...] = ()  # every symbol the optimizer scores on; symbols[0] == symbol

    def __post_init__(self) -> None:
        if not self.symbols or self.symbols[0] != self.symbol:
            object.__setattr__(self, "symbols", (self.symbol, *(
                s for s in self.symbols if s != self.symbol)))

    @property
    def start_ms(self) -> int:
        """start_date 00:00 UTC in ms since epoch (inclusive)."""
        return _ms(self.start_date)

    @property
    def end_ms(self) -> int:
        """end_date 00:00 UTC in ms since epoch (exclusive)."""
        return _ms(self.end_date)


def _ms(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _date(top: dict[str, Any], key: str, col: Collector) -> dt.date | None:
    if key not in top:
        return None
    try:
        return dt.date.fromisoformat(top[key])
    except ValueError as e:
        col.add(key, top.pop(key), f"not a valid date: {e}")
        return None


def _bound(key: str, spec: FieldSpec, v: Any, col: Collector) -> Bound | None:
    shape = "[lo, hi] or [lo, hi, step]"
    if not isinstance(v, list) or len(v) not in (2, 3):
        col.add(key, v, f"must be {shape}")
        return None
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
        col.add(key, v, f"must be {shape} of numbers")
        return None
    if not all(is_finite(x) for x in v):
        col.add(key, v, f"must be {shape} of finite numbers")
        return None
    lo, hi = float(v[0]), float(v[1])
    step = float(v[2]) if len(v) == 3 else None
    n = len(col.issues)
    if lo > hi:
        col.add(key, v, f"inverted bounds: lo {lo:g} > hi {hi:g}")
    for name, x in (("lo", lo), ("hi", hi)):
        if not spec.in_range(x):
            col.add(key, v, f"{name} {x:g} outside the live schema's range: "
                    f"{spec.range_message()[len('must be '):]}")
    if step is not None and not step > 0:
        col.add(key, v, "step must be > 0")
    return Bound(lo, hi, step) if len(col.issues) == n else None


# Live keys the optimizer may vary: leverage and the equity stop at the top level; per side,
# the numeric grid keys and the unstuck keys (the evaluator passes them to the engine).
SEARCHABLE_TOP_KEYS = ("leverage", *STOP_KEYS)
SEARCHABLE_SIDE_KEYS = (*SIDE_NUMERIC_KEYS, *UNSTUCK_KEYS)


def _bounds(d: Any, col: Collector) -> dict[str, Bound]:
    out: dict[str, Bound] = {}
    if d is None:
        return out
    for k, v in d.items():
        if k in SEARCHABLE_TOP_KEYS:
            b = _bound(f"optimize.bounds.{k}", TOP_FIELDS[k], v, col)
        elif k in SIDES:
            if not isinstance(v, dict):
                col.add(f"optimize.bounds.{k}", v, "wrong type: must be an object {key: [lo, hi]}")
                continue
            for sk, sv in v.items():
                key = f"optimize.bounds.{k}.{sk}"
                if sk not in SEARCHABLE_SIDE_KEYS:
                    what = "not a numeric strategy key" if sk in SIDE_FIELDS else "unknown key"
                    col.add(key, sv, what + (did_you_mean(sk, SEARCHABLE_SIDE_KEYS)
                                             or f" (allowed: {', '.join(SEARCHABLE_SIDE_KEYS)})"))
                    continue
                b = _bound(key, SIDE_FIELDS[sk], sv, col)
                if b is not None:
                    out[f"{k}.{sk}"] = b
            continue
        else:
            col.add(f"optimize.bounds.{k}", v,
                    "unknown key" + (did_you_mean(k, (*SEARCHABLE_TOP_KEYS, *SIDES))
                                     or f" (allowed: {', '.join(SEARCHABLE_TOP_KEYS)}, long, "
                                        "short)"))
            continue
        if b is not None:
            out[k] = b
    return out


def _optimize(d: Any, col: Collector) -> OptimizeConfig | None:
    if d is None:
        return OptimizeConfig()
    opt = check_object(d, BT_OPTIMIZE, "optimize.", col)
    if opt is None:
        return None
    cons = check_object(opt.pop("constraints") or {}, BT_CONSTRAINTS, "optimize.constraints.",
                        col) if "constraints" in opt else {}
    bounds = _bounds(opt.pop("bounds", None), col)
    opt["holdout_symbols"] = _symbol_list(opt.get("holdout_symbols"),
                                          "optimize.holdout_symbols", col)
    if opt.get("multi_objective") and opt.get("sampler", "") not in MULTI_OBJECTIVE_SAMPLERS:
        col.add("optimize.multi_objective", True,
                f"requires sampler {' or '.join(MULTI_OBJECTIVE_SAMPLERS)} "
                f"(got {opt['sampler']!r})")
    try:
        return OptimizeConfig(**opt, constraints=Constraints(**(cons or {})), bounds=bounds)
    except TypeError:  # a key was invalid and left out; its issue is already collected
        return None


def _symbol_list(v: Any, key: str, col: Collector) -> tuple[str, ...]:
    """A list of distinct symbol ids (each like ETHUSDT)."""
    import re

    if v is None:
        return ()
    out = []
    for i, s in enumerate(v):
        if not isinstance(s, str) or not re.fullmatch(SYMBOL_PATTERN, s):
            col.add(f"{key}[{i}]", s, "must be an exchange symbol id, e.g. ETHUSDT")
        elif s in out:
            col.add(f"{key}[{i}]", s, "listed twice")
        else:
            out.append(s)
    return tuple(out)


def _starting(paths: Any, root: Path, col: Collector) -> tuple[tuple[str, ...], tuple[LiveConfig, ...]]:
    if paths is None:
        return (), ()
    if not paths:
        col.add("starting_configs", paths, "must list at least one live config path")
    cfgs = []
    for i, p in enumerate(paths):
        key = f"starting_configs[{i}]"
        if not isinstance(p, str):
            col.add(key, p, "wrong type: must be a path string")
            continue
        path = Path(p) if Path(p).is_absolute() else root / p
        if not path.is_file():
            col.add(key, p, missing_file_message(path, path, "live_settings"))
            continue
        sub = Collector(str(path))
        d = read_json(path, sub)
        cfg = check_live_dict(d, sub) if not sub.issues else None
        if sub.issues:
            col.add(key, p, f"invalid live config (issues listed under {path})")
            col.extend(sub.issues)
        elif cfg is not None:
            cfgs.append(cfg)
    return tuple(paths if all(isinstance(p, str) for p in paths) else ()), tuple(cfgs)


def backtest_config_from_dict(d: dict, source: str, *, root: Path | None = None) -> BacktestConfig:
    """Validate a parsed backtest config; ConfigError lists every issue, including those of
    the starting configs (under their own file names)."""
    col = Collector(str(source))
    top = check_object(d, BT_TOP, "", col)
    if top is None:
        col.raise_if_any()
    if top.get("config_version", 1) > BACKTEST_CONFIG_VERSION:
        col.add("config_version", top.pop("config_version"),
                f"unsupported: this passivbot reads config_version {BACKTEST_CONFIG_VERSION}")
    start, end = _date(top, "start_date", col), _date(top, "end_date", col)
    if start and end and end <= start:
        col.add("end_date", top["end_date"],
                f"must be after start_date ({top['start_date']}); end_date is exclusive")
    for fee in ("maker_fee", "taker_fee"):
        if top.get(fee) == PER_EXCHANGE and "exchange" in top:
            top[fee] = DEFAULT_FEES[top["exchange"]][fee]
    paths, cfgs = _starting(top.get("starting_configs"), root or PROJECT_ROOT, col)
    opt = _optimize(top.get("optimize"), col)
    symbols = _symbol_list(top.get("symbols"), "symbols", col)
    if top.get("symbols") is not None and not top["symbols"]:
        col.add("symbols", top["symbols"], "must list at least one symbol")
    symbol = top.get("symbol") or (symbols[0] if symbols else None)
    flagged = {i.key for i in col.issues}
    if symbol is None and "symbol" not in flagged and "symbols" not in flagged:
        col.add("symbol", MISSING, "missing required key: give `symbol` or `symbols`")
    if opt is not None and symbol:
        both = set(opt.holdout_symbols) & {symbol, *symbols}
        if both:
            col.add("optimize.holdout_symbols", list(opt.holdout_symbols),
                    f"{', '.join(sorted(both))} also searched: a hold-out symbol must not be")
    if opt is not None and opt.one_wallet:
        n = len(symbols) if symbols else 1
        for bad, why in ((n < 2, f"needs at least 2 `symbols` (got {n})"),
                         (opt.n_folds > 1, f"needs n_folds 1 (got {opt.n_folds})"),
                         (bool(opt.holdout_symbols), "cannot be combined with holdout_symbols "
                                                     "(use holdout_days)")):
            if bad:
                col.add("optimize.one_wallet", True, why)
    if opt is not None and start and end and opt.holdout_days >= (end - start).days:
        col.add("optimize.holdout_days", opt.holdout_days,
                f"must be < {(end - start).days}, the days from start_date to end_date: the "
                f"search needs at least one day before the hold-out period")
    col.raise_if_any()
    return BacktestConfig(
        config_version=top["config_version"], exchange=top["exchange"], symbol=symbol,
        symbols=symbols,
        data_source=top["data_source"], synthetic_seed=top["synthetic_seed"], start_date=start,
        end_date=end, starting_balance=top["starting_balance"], maker_fee=top["maker_fee"],
        taker_fee=top["taker_fee"], starting_config_paths=paths, starting_configs=cfgs,
        optimize=opt, source=str(source),
    )


def _bound_list(b: Bound) -> list[float]:
    return [b.lo, b.hi] if b.step is None else [b.lo, b.hi, b.step]


def backtest_config_to_dict(cfg: BacktestConfig) -> dict:
    """The config resolved with defaults (fees filled in), as JSON-ready data."""
    o = cfg.optimize
    bounds: dict[str, Any] = {}
    for k, b in o.bounds.items():
        if "." in k:
            side, key = k.split(".", 1)
            bounds.setdefault(side, {})[key] = _bound_list(b)
        else:
            bounds[k] = _bound_list(b)
    c = o.constraints
    return {
        "config_version": cfg.config_version, "exchange": cfg.exchange, "symbol": cfg.symbol,
        **({"symbols": list(cfg.symbols)} if len(cfg.symbols) > 1 else {}),
        "data_source": cfg.data_source, "synthetic_seed": cfg.synthetic_seed,
        "start_date": cfg.start_date.isoformat(), "end_date": cfg.end_date.isoformat(),
        "starting_balance": cfg.starting_balance, "maker_fee": cfg.maker_fee,
        "taker_fee": cfg.taker_fee, "starting_configs": list(cfg.starting_config_paths),
        "optimize": {
            "iterations": o.iterations, "sampler": o.sampler, "batch_size": o.batch_size,
            "n_folds": o.n_folds, "fold_score": o.fold_score,
            "multi_objective": o.multi_objective, "symbol_score": o.symbol_score,
            "one_wallet": o.one_wallet,
            "holdout_symbols": list(o.holdout_symbols), "holdout_days": o.holdout_days,
            "seed": o.seed,
            "constraints": {k: getattr(c, k) for k in BT_CONSTRAINTS},
            "bounds": bounds,
        },
    }


def load_backtest_config(name_or_path: str | Path, *, root: Path | None = None) -> BacktestConfig:
    """Load `backtest_configs/NAME.json` (bare NAME) or a path; starting config paths are
    relative to `root` (default: the project root). ConfigError lists every issue."""
    path, d = read_config_file(name_or_path, "backtest_configs", root)
    return backtest_config_from_dict(d, str(path), root=root)
