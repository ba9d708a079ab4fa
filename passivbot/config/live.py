"""Live config (`live_settings/NAME.json`): the schema table, the frozen typed config, loading
with every problem reported at once, and `side_params`, the one adapter to kernel arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from passivbot.config.risk import (
    STOP_FIELDS, STOP_KEYS, UNSTUCK_FIELDS, UNSTUCK_KEYS, check_unstuck,
)
from passivbot.config.schema import (
    BOOL, FLOAT, INT, OBJECT, STR, Collector, FieldSpec, check_object, read_json,
)
from passivbot.config.services import (
    AlertsConfig, StatusPageConfig, alerts_to_dict, check_alerts, check_status_page,
    status_page_to_dict,
)
from passivbot.errors import MISSING
from passivbot.records import N_PARAMS, PARAM_KEYS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LIVE_CONFIG_VERSION = 1
SIDES = ("long", "short")
SYMBOL_PATTERN = r"[A-Z0-9]{2,20}USDT"


def _f(name: str, scope: str, kind: str, doc: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name, scope, kind, doc, **kw)


# THE live schema: one row per key. scope "top" = top level, "side" = inside `long`/`short`.
LIVE_SCHEMA: tuple[FieldSpec, ...] = (
    _f("config_version", "top", INT, "config format version", default=LIVE_CONFIG_VERSION,
       lo=1),
    _f("symbol", "top", STR, "exchange symbol id, e.g. ETHUSDT", pattern=SYMBOL_PATTERN,
       hint="exchange id style, e.g. ETHUSDT"),
    _f("leverage", "top", INT, "leverage set on the exchange (both sides, cross margin)",
       lo=1, hi=125, unit="x"),
    _f("long", "top", OBJECT, "long side parameters (per-side keys below)"),
    _f("short", "top", OBJECT, "short side parameters (per-side keys below)"),
    _f("alerts", "top", OBJECT, "webhook alerts (optional, absent = off; keys below)",
       default=None),
    _f("status_page", "top", OBJECT, "read-only status page (optional, absent = off; keys "
       "below)", default=None),
    _f("enabled", "side", BOOL, "trade this side"),
    _f("wallet_exposure_limit", "side", FLOAT,
       "max position cost / wallet balance (the side's risk budget)",
       lo=0, hi=10, lo_incl=False, hint="position cost / balance", unit="ratio"),
    _f("ema_span_0", "side", FLOAT, "first EMA span; the band is min/max of the two EMAs",
       lo=1, hi=100_000, hint="minutes", unit="minutes"),
    _f("ema_span_1", "side", FLOAT, "second EMA span", lo=1, hi=100_000, hint="minutes",
       unit="minutes"),
    _f("initial_qty_pct", "side", FLOAT,
       "first entry cost = balance x wallet_exposure_limit x initial_qty_pct",
       lo=0, hi=1, lo_incl=False, hint="fraction of the exposure budget", unit="ratio"),
    _f("initial_eprice_ema_dist", "side", FLOAT,
       "long enters at lower band x (1 - dist), short at upper band x (1 + dist)",
       default=0.0, lo=-0.1, hi=0.5, hint="distance from the EMA band", unit="ratio"),
    _f("ddown_factor", "side", FLOAT, "re-entry qty = position size x ddown_factor",
       lo=0, hi=10, lo_incl=False, hint="re-entry qty / position size", unit="ratio"),
    _f("rentry_pprice_dist", "side", FLOAT,
       "grid spacing: next re-entry this far beyond the position price",
       lo=0, hi=0.9, lo_incl=False, hint="grid spacing ratio", unit="ratio"),
    _f("rentry_pprice_dist_wallet_exposure_weighting", "side", FLOAT,
       "spacing widens by (1 + exposure / limit x weighting)",
       default=0.0, lo=0, hi=100, hint="spacing weight of exposure", unit="ratio"),
    _f("min_markup", "side", FLOAT, "first take-profit at position price x (1 + min_markup)",
       lo=0, hi=0.5, hint="take-profit distance", unit="ratio"),
    _f("markup_range", "side", FLOAT, "take-profit grid spans min_markup .. min_markup + this",
       default=0.0, lo=0, hi=1, hint="take-profit grid width", unit="ratio"),
    _f("n_close_orders", "side", INT, "number of reduce-only take-profit orders",
       lo=1, hi=50, hint="count", unit="orders"),
) + UNSTUCK_FIELDS + STOP_FIELDS
TOP_FIELDS: dict[str, FieldSpec] = {f.name: f for f in LIVE_SCHEMA if f.scope == "top"}
SIDE_FIELDS: dict[str, FieldSpec] = {f.name: f for f in LIVE_SCHEMA if f.scope == "side"}
# The numeric grid keys of a side (the engine's params array); the optimizer may also vary
# the unstuck keys (config.backtest.SEARCHABLE_SIDE_KEYS).
SIDE_NUMERIC_KEYS: tuple[str, ...] = tuple(k for k, f in SIDE_FIELDS.items()
                                           if f.numeric and k not in UNSTUCK_KEYS)


@dataclass(frozen=True)
class SideConfig:
    """One side's strategy parameters, in PARAM_KEYS order, then its auto-unstuck keys (0 = off;
    meanings, units and typical values: docs/configs.md, "The strategy, parameter by
    parameter" and "Bounded loss")."""

    enabled: bool
    wallet_exposure_limit: float
    ema_span_0: float
    ema_span_1: float
    initial_qty_pct: float
    initial_eprice_ema_dist: float
    ddown_factor: float
    rentry_pprice_dist: float
    rentry_pprice_dist_wallet_exposure_weighting: float
    min_markup: float
    markup_range: float
    n_close_orders: int
    unstuck_threshold: float = 0.0
    unstuck_close_pct: float = 0.0
    unstuck_ema_dist: float = 0.0
    unstuck_loss_allowance_pct: float = 0.0


@dataclass(frozen=True)
class LiveConfig:
    """A validated live config. `source` is the file it came from (not part of equality)."""

    config_version: int
    symbol: str
    leverage: int
    long: SideConfig
    short: SideConfig
    source: str = field(default="", compare=False)
    alerts: AlertsConfig | None = None
    status_page: StatusPageConfig | None = None
    equity_stop_drawdown: float = 0.0
    equity_stop_cooldown_minutes: int = 0

    def side(self, name: str) -> SideConfig:
        """`long` or `short` by name."""
        return {"long": self.long, "short": self.short}[name]


assert (tuple(f.name for f in fields(SideConfig)) == PARAM_KEYS + UNSTUCK_KEYS
        == tuple(SIDE_FIELDS)), \
    "SideConfig, SIDE_FIELDS and records.PARAM_KEYS + UNSTUCK_KEYS must list the same keys in order"


def side_params(side: SideConfig) -> np.ndarray:
    """The side as the float64 array (length N_PARAMS, PARAM_KEYS order) the grid kernels take.

    The adapter from config to the grid's arrays (the risk kernels' arrays come from
    `passivbot.config.risk`); `enabled` becomes 1.0 / 0.0.
    """
    a = np.array([float(getattr(side, k)) for k in PARAM_KEYS], dtype=np.float64)
    assert a.shape == (N_PARAMS,)
    return a


def check_live_dict(d: Any, col: Collector) -> LiveConfig | None:
    """Validate `d` into `col`; the config when valid, else None (issues are in `col`)."""
    n_before = len(col.issues)
    top = check_object(d, TOP_FIELDS, "", col)
    if top is None:
        return None
    if top.get("config_version", 1) > LIVE_CONFIG_VERSION:
        col.add("config_version", top.pop("config_version"),
                f"unsupported: this passivbot reads config_version {LIVE_CONFIG_VERSION}")
    sides: dict[str, dict[str, Any]] = {}
    for s in SIDES:
        if s in top:
            got = check_object(top[s], SIDE_FIELDS, f"{s}.", col)
            if got is not None:
                sides[s] = got
                check_unstuck(s, got, col)
    _check_cross(top, sides, col)
    alerts = check_alerts(top["alerts"], col) if top.get("alerts") is not None else None
    page = (check_status_page(top["status_page"], col)
            if top.get("status_page") is not None else None)
    if len(col.issues) > n_before:
        return None
    return LiveConfig(
        config_version=top["config_version"], symbol=top["symbol"], leverage=top["leverage"],
        long=SideConfig(**sides["long"]), short=SideConfig(**sides["short"]), source=col.file,
        alerts=alerts, status_page=page,
        **{k: top[k] for k in STOP_KEYS},
    )


def _check_cross(top: dict[str, Any], sides: dict[str, dict[str, Any]], col: Collector) -> None:
    lev = top.get("leverage")
    if lev is None:
        return
    wels = {s: v["wallet_exposure_limit"] for s, v in sides.items() if "wallet_exposure_limit" in v}
    for s, wel in wels.items():
        if wel > lev:
            col.add(f"{s}.wallet_exposure_limit", wel,
                    f"must be <= leverage ({lev}): a position costing {wel}x the balance "
                    f"needs at least that leverage")
    enabled = [s for s in SIDES if sides.get(s, {}).get("enabled") and s in wels]
    if len(enabled) == 2 and all(w <= lev for w in wels.values()):
        total = wels["long"] + wels["short"]
        if total > lev + 1e-12:
            col.add("long.wallet_exposure_limit + short.wallet_exposure_limit", round(total, 12),
                    f"must be <= leverage ({lev}) when both sides are enabled: in cross margin "
                    f"both positions draw margin from the same wallet")


def live_config_from_dict(d: dict, source: str) -> LiveConfig:
    """Validate a parsed live config; raises ConfigError listing every issue (file = source)."""
    col = Collector(str(source))
    cfg = check_live_dict(d, col)
    col.raise_if_any()
    assert cfg is not None
    return cfg


def live_config_to_dict(cfg: LiveConfig, *, reveal_secrets: bool = False) -> dict:
    """The config resolved with defaults, as JSON-ready data; round-trips through from_dict.

    The optional sections appear only when set; `alerts.url` (it may hold a bot token) is
    redacted unless `reveal_secrets`, so printouts and result files never carry it (a redacted
    copy read back validates, with alerts off).
    """
    side = lambda sc: {k: getattr(sc, k) for k in SIDE_FIELDS}  # noqa: E731
    out = {"config_version": cfg.config_version, "symbol": cfg.symbol,
           "leverage": cfg.leverage, "long": side(cfg.long), "short": side(cfg.short)}
    out.update({k: getattr(cfg, k) for k in STOP_KEYS})
    if cfg.alerts is not None:
        out["alerts"] = alerts_to_dict(cfg.alerts, reveal=reveal_secrets)
    if cfg.status_page is not None:
        out["status_page"] = status_page_to_dict(cfg.status_page)
    return out


def resolve_config_path(name_or_path: str | Path, folder: str, root: Path | None) -> Path:
    """A bare NAME means `<root>/<folder>/NAME.json`; anything with a / or .json is a path."""
    s = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in s or "\\" in s or s.endswith(".json"):
        return Path(name_or_path)
    return (root or PROJECT_ROOT) / folder / f"{s}.json"


def missing_file_message(path: Path, name_or_path: str | Path, folder: str) -> str:
    """"file not found" naming the path tried and, for a bare NAME, the folder and its names."""
    s = str(name_or_path)
    if path.name == f"{s}.json" and path.parent.name == folder and "/" not in s:
        d = path.parent
        names = sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []
        avail = ", ".join(names) if names else "none"
        return f"file not found: {path} (searched {d}; available: {avail})"
    return f"file not found: {path} (resolved: {path.resolve()})"


def read_config_file(name_or_path: str | Path, folder: str, root: Path | None) -> tuple[Path, Any]:
    """(path, parsed JSON) of a config named by NAME (in `folder`) or path; ConfigError when
    the file is missing or not valid JSON. Shared by the live and the backtest loaders."""
    path = resolve_config_path(name_or_path, folder, root)
    col = Collector(str(path))
    if not path.is_file():
        col.add("", MISSING, missing_file_message(path, name_or_path, folder))
        col.raise_if_any()
    d = read_json(path, col)
    col.raise_if_any()
    return path, d


def load_live_config(name_or_path: str | Path, *, root: Path | None = None) -> LiveConfig:
    """Load and validate `live_settings/NAME.json` (bare NAME) or a path; ConfigError if bad."""
    path, d = read_config_file(name_or_path, "live_settings", root)
    return live_config_from_dict(d, str(path))
