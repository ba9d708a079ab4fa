"""Multi-symbol live config: several markets, one wallet (docs/configs.md, "Many symbols, one
wallet").

A live config with any of MULTI_KEYS is a multi-symbol config:
- `symbols`: the approved markets (unique exchange ids, e.g. ["ETHUSDT", "SOLUSDT"]);
- `n_positions`: how many of them may hold a position at once per side (default: all; fewer
  than `symbols`: `passivbot.selection` picks which, see that module);
- `total_wallet_exposure_limit`: {"long": x, "short": y}, the exposure budget per side SHARED
  by all symbols. Each symbol's side trades with wallet_exposure_limit = total / n_positions,
  so n_positions symbols at their limits sum to the total; the per-side
  `wallet_exposure_limit` key is therefore not allowed in a multi-symbol config;
- `overrides`: {"SYMBOL": {"long": {...}, "short": {...}}}, per-symbol values of any strategy
  key except wallet_exposure_limit (the shared limit owns it);
- every other key as in a one-symbol config (`leverage`, `long`, `short`, ...), without
  `symbol`.
A one-symbol config (`symbol`, no MULTI_KEYS) keeps meaning what it means: `as_multi` views it
as one symbol, n_positions 1, total = its own limits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passivbot.config.live import (
    SIDE_FIELDS, SIDES, SYMBOL_PATTERN, LiveConfig, check_live_dict, read_config_file,
)
from passivbot.config.schema import Collector, did_you_mean, is_finite
from passivbot.errors import MISSING

MULTI_KEYS = ("symbols", "n_positions", "total_wallet_exposure_limit", "overrides")
_WEL = "wallet_exposure_limit"
_WEL_HI = SIDE_FIELDS[_WEL].hi


@dataclass(frozen=True)
class MultiConfig:
    """A validated multi-symbol config. `configs[symbol]` is the LiveConfig that symbol trades
    (overrides applied, wallet_exposure_limit = total / n_positions)."""

    symbols: tuple[str, ...]
    n_positions: int
    total_wallet_exposure_limit: tuple[float, float]  # long, short
    leverage: int
    configs: dict[str, LiveConfig]
    overrides: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    source: str = field(default="", compare=False)

    @property
    def selecting(self) -> bool:
        """Whether a selection chooses among the symbols (n_positions < len(symbols))."""
        return self.n_positions < len(self.symbols)


def is_multi_dict(d: Any) -> bool:
    return isinstance(d, dict) and any(k in d for k in MULTI_KEYS)


def as_multi(cfg: LiveConfig) -> MultiConfig:
    """A one-symbol config as a MultiConfig of one symbol (same strategy, same limits)."""
    return MultiConfig((cfg.symbol,), 1, (cfg.long.wallet_exposure_limit,
                                          cfg.short.wallet_exposure_limit),
                       cfg.leverage, {cfg.symbol: cfg}, {}, cfg.source)


def _symbols(d: dict, col: Collector) -> list[str] | None:
    import re

    syms = d.get("symbols", MISSING)
    if syms is MISSING:
        col.add("symbols", MISSING, "missing required key in a multi-symbol config (a list of "
                "exchange ids, e.g. [\"ETHUSDT\", \"SOLUSDT\"])")
        return None
    if not isinstance(syms, list) or not syms:
        col.add("symbols", syms, "must be a non-empty list of exchange ids, e.g. [\"ETHUSDT\"]")
        return None
    ok = True
    for i, s in enumerate(syms):
        if not isinstance(s, str) or not re.fullmatch(SYMBOL_PATTERN, s):
            col.add(f"symbols[{i}]", s, "unknown symbol: must be an exchange id like ETHUSDT "
                    f"(pattern {SYMBOL_PATTERN})")
            ok = False
        elif syms.index(s) != i:
            col.add(f"symbols[{i}]", s, f"listed twice (first at symbols[{syms.index(s)}])")
            ok = False
    return syms if ok else None


def _int_in(d: dict, key: str, lo: int, hi: int, default: int, col: Collector) -> int | None:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        col.add(key, v, f"must be an integer in [{lo}, {hi}]")
        return None
    return v


def _totals(d: dict, col: Collector) -> dict[str, float] | None:
    t = d.get("total_wallet_exposure_limit", MISSING)
    key = "total_wallet_exposure_limit"
    if not isinstance(t, dict):
        col.add(key, t, "must be an object {\"long\": x, \"short\": y}: the exposure budget per "
                "side shared by all symbols (position cost / balance)")
        return None
    out = {}
    for k in t:
        if k not in SIDES:
            col.add(f"{key}.{k}", t[k], f"unknown key{did_you_mean(k, SIDES)} (allowed: long, "
                    "short)")
    for s in SIDES:
        v = t.get(s, MISSING)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not is_finite(v) \
                or not 0 < v <= _WEL_HI * 10:
            col.add(f"{key}.{s}", v, f"must be a number in (0, {_WEL_HI * 10:g}] (ratio)")
        else:
            out[s] = float(v)
    return out if len(out) == 2 else None


def check_multi_dict(d: dict, col: Collector) -> MultiConfig | None:
    """Validate a multi-symbol config into `col`; the config when valid, else None."""
    n_before = len(col.issues)
    syms = _symbols(d, col)
    n_pos = _int_in(d, "n_positions", 1, len(syms) if syms else 10_000,
                    len(syms) if syms else 1, col)
    totals = _totals(d, col)
    if "symbol" in d:
        col.add("symbol", d["symbol"], "a multi-symbol config names its markets in `symbols` "
                "(remove `symbol`)")
    base = {k: v for k, v in d.items() if k not in MULTI_KEYS and k != "symbol"}
    for s in SIDES:
        if isinstance(base.get(s), dict) and _WEL in base[s]:
            col.add(f"{s}.{_WEL}", base[s][_WEL], f"set by total_wallet_exposure_limit.{s} / "
                    "n_positions in a multi-symbol config: remove it")
    overrides = d.get("overrides", {})
    if not isinstance(overrides, dict):
        col.add("overrides", overrides, "must be an object {\"SYMBOL\": {\"long\": {...}}}")
        overrides = {}
    for sym, ov in overrides.items():
        where = f"overrides.{sym}"
        if syms is not None and sym not in syms:
            col.add(where, ov, f"unknown symbol: not in `symbols`{did_you_mean(sym, syms)}")
            continue
        if not isinstance(ov, dict):
            col.add(where, ov, "must be an object {\"long\": {...}, \"short\": {...}}")
            continue
        for s, keys in ov.items():
            if s not in SIDES:
                col.add(f"{where}.{s}", keys, f"unknown key{did_you_mean(s, SIDES)} (allowed: "
                        "long, short)")
            elif not isinstance(keys, dict):
                col.add(f"{where}.{s}", keys, "must be an object of strategy keys")
            elif _WEL in keys:
                col.add(f"{where}.{s}.{_WEL}", keys[_WEL], "overlaps "
                        f"total_wallet_exposure_limit.{s}: the shared limit sets every symbol's "
                        "limit; remove the override")
    lev = base.get("leverage")
    if totals and isinstance(lev, int) and not isinstance(lev, bool):
        for s in SIDES:
            if totals[s] > lev:
                col.add(f"total_wallet_exposure_limit.{s}", totals[s], f"must be <= leverage "
                        f"({lev}): positions costing that much of the balance need that leverage")
        both = all(isinstance(base.get(s), dict) and base[s].get("enabled") for s in SIDES)
        if both and all(totals[s] <= lev for s in SIDES) and sum(totals.values()) > lev + 1e-12:
            col.add("total_wallet_exposure_limit.long + total_wallet_exposure_limit.short",
                    sum(totals.values()), f"must be <= leverage ({lev}) when both sides are "
                    "enabled: in cross margin every position draws on the same wallet")
    if syms is None:
        return None
    # each symbol's strategy is validated even when the keys above had problems (every issue
    # at once); a placeholder limit stands in for an invalid total
    split = {s: (totals[s] if totals else 1e-6) / (n_pos or len(syms)) for s in SIDES}
    configs: dict[str, LiveConfig] = {}
    seen: set[tuple[str, str]] = set()
    for sym in syms:
        ov = overrides.get(sym, {})
        dd = copy.deepcopy(base)
        dd["symbol"] = sym
        for s in SIDES:
            if isinstance(dd.get(s), dict):
                dd[s] = {**dd[s], _WEL: split[s], **ov.get(s, {})}
        sub = Collector(col.file)
        cfg = check_live_dict(dd, sub)
        for issue in sub.issues:
            side_key = issue.key.split(".", 1)
            if len(side_key) == 2 and side_key[1] in ov.get(side_key[0], {}):
                key = f"overrides.{sym}.{issue.key}"
            else:
                key = issue.key
            if (key, issue.message) not in seen:
                seen.add((key, issue.message))
                col.add(key, issue.value, issue.message)
        if cfg is not None:
            configs[sym] = cfg
    if len(col.issues) > n_before or totals is None or n_pos is None:
        return None
    first = configs[syms[0]]
    return MultiConfig(tuple(syms), n_pos, (totals["long"], totals["short"]), first.leverage,
                       configs, {k: copy.deepcopy(v) for k, v in overrides.items()}, col.file)


def multi_config_from_dict(d: Any, source: str) -> MultiConfig:
    """Any live config dict (one-symbol or multi-symbol) as a MultiConfig; ConfigError listing
    every issue (file = source) when invalid."""
    col = Collector(str(source))
    if is_multi_dict(d):
        cfg = check_multi_dict(d, col)
        col.raise_if_any()
        assert cfg is not None
        return cfg
    one = check_live_dict(d, col)
    col.raise_if_any()
    assert one is not None
    return as_multi(one)


def load_multi_config(name_or_path: str | Path, *, root: Path | None = None) -> MultiConfig:
    """Load `live_settings/NAME.json` or a path, one-symbol or multi-symbol, as a MultiConfig."""
    path, d = read_config_file(name_or_path, "live_settings", root)
    return multi_config_from_dict(d, str(path))


def multi_config_to_dict(cfg: MultiConfig) -> dict[str, Any]:
    """A multi-symbol config file's dict that loads back to the same per-symbol configs: the
    first symbol's strategy as the base, every other symbol's differences as its overrides
    (recomputed from the resolved configs, so it holds whatever the original overrides were)."""
    from passivbot.config import live_config_to_dict

    per = {s: live_config_to_dict(cfg.configs[s]) for s in cfg.symbols}
    base = copy.deepcopy(per[cfg.symbols[0]])
    base.pop("symbol", None)
    for s in SIDES:
        base[s].pop(_WEL, None)
    overrides: dict[str, dict[str, dict[str, Any]]] = {}
    for sym in cfg.symbols[1:]:
        diff = {s: {k: v for k, v in per[sym][s].items() if k != _WEL and v != base[s][k]}
                for s in SIDES}
        diff = {s: d for s, d in diff.items() if d}
        if diff:
            overrides[sym] = diff
    out = {"config_version": base.pop("config_version", 1), "symbols": list(cfg.symbols),
           "n_positions": cfg.n_positions,
           "total_wallet_exposure_limit": dict(zip(SIDES, cfg.total_wallet_exposure_limit)),
           **base}
    if overrides:
        out["overrides"] = overrides
    return out


def main(argv: list[str]) -> int:
    """`python3 -m passivbot.config.multi PATH`: validate a live config (one- or multi-symbol)
    and print what each symbol trades (exit 0), or every problem on stderr (exit 2)."""
    import argparse

    p = argparse.ArgumentParser(prog="python3 -m passivbot.config.multi", description=main.__doc__)
    p.add_argument("path", help="live config file, or a bare NAME from live_settings/")
    cfg = load_multi_config(p.parse_args(argv).path)
    lo, sh = cfg.total_wallet_exposure_limit
    print(f"{cfg.source}: {len(cfg.symbols)} symbols, n_positions {cfg.n_positions}, shared "
          f"wallet exposure limit long {lo:g} short {sh:g} (per symbol {lo / cfg.n_positions:g} / "
          f"{sh / cfg.n_positions:g}), leverage {cfg.leverage}")
    for s in cfg.symbols:
        ov = cfg.overrides.get(s)
        print(f"  {s}" + (f"  overrides {ov}" if ov else ""))
    return 0


if __name__ == "__main__":
    from passivbot.cli import run_cli

    run_cli(main)


# The "Many symbols, one wallet" section of docs/configs.md (rendered by passivbot.config.docs).
MULTI_DOC = """## Many symbols, one wallet: multi-symbol live configs

One account trades several markets from one balance. A live config with any of `symbols`,
`n_positions`, `total_wallet_exposure_limit` or `overrides` is a multi-symbol config
(`passivbot/config/multi.py`); a one-symbol config (`symbol`) keeps meaning what it means.
Example: `live_settings/multi-example.json`. Check one with
`python3 -m passivbot.config.multi PATH` (exit 2 and every problem, with file and key).

| key | meaning | allowed |
| --- | --- | --- |
| `symbols` | the approved markets, in priority order for ties | non-empty list of unique exchange ids (e.g. `ETHUSDT`) |
| `n_positions` | how many symbols may hold a position at once, per side | 1 .. len(symbols); default: all |
| `total_wallet_exposure_limit` | `{"long": x, "short": y}`: each side's exposure budget (position cost / balance) shared by all symbols | (0, 100]; each <= `leverage`, and long + short <= `leverage` when both sides are enabled |
| `overrides` | `{"SYMBOL": {"long": {...}, "short": {...}}}`: per-symbol values of any strategy key | symbols in `symbols`; strategy keys and ranges as above, except `wallet_exposure_limit` |

**The shared limit.** Each symbol's side trades with `wallet_exposure_limit` =
`total_wallet_exposure_limit` / `n_positions`, and at most `n_positions` symbols hold a position
per side, so the exposures sum to at most the total (up to one quantity step of rounding per
symbol, as the one-symbol grid). The per-side `wallet_exposure_limit` key is therefore an error
in a multi-symbol config (the total owns it), and so is an override of it. Worked example
(`multi-example.json`): 6 symbols, `n_positions` 3, total long 1.5, balance 1000 USDT. Each
symbol's long may cost up to 1.5 / 3 = 0.5 x 1000 = 500 USDT; its first entry costs
1000 x 0.5 x `initial_qty_pct` 0.02 = 10 USDT (raised to the exchange's 20 USDT minimum). With
three longs at their limit the account holds 1500 USDT of longs = 1.5 x the balance; a fourth
symbol cannot open a long until one of the three closes. Every grid is sized from the one
shared balance, so a fill or a funding payment on one symbol moves every other symbol's orders.

**Which symbols (`n_positions` < number of symbols).** Every 60 minutes the pure kernel
`passivbot/selection.py` (the backtest and the live bot's `MultiBot` call the same function)
scores each symbol that trades (its EMA warm-up done) over its last 1440 1-minute candles:
mean quote volume x mean relative range, `mean(volume x close) x mean((high - low) / close)`
(liquid and moving markets first, as Passivbot's forager ranks by volume, then volatility).
Per side, symbols with an open position keep their slot and are managed (re-entries and
closes) until the position closes, even when they rank low; the free slots go to the
best-scoring flat symbols (ties: the earlier in `symbols`); the other flat symbols place no
initial entry. Example: 3 candles (close 100, volume 2, range 20), (100, 4, 4), (50, 10, 10):
mean quote volume (200 + 400 + 500) / 3 = 366.7, mean range (0.2 + 0.04 + 0.2) / 3 = 0.1467,
score 53.8. With scores ETH 53.8, SOL 54.0, BTC 12.0, n_positions 2, and BTC holding a long:
BTC keeps its slot and SOL gets the other; ETH waits.

**Backtest.** `python3 backtest.py backtest_configs/demo.json -c live_settings/multi-example.json`
(or `python3 -m passivbot.backtest.multi_runner multi-example demo`) replays all the symbols on
one minute axis with one balance (`passivbot/backtest/multi_nb.py` documents the rules: markets
that list later or whose data ends earlier, cross-margin liquidation of the whole account, the
initial-margin check over all positions; auto-unstuck per symbol, the equity stop on the
account's equity), writes `backtests/{exchange}/MULTI/...` ([docs/backtest.md](backtest.md)) and prints the
account's figures and one row per symbol. A one-symbol config gives the one-symbol engine's
results bit for bit.

**Worked example, measured** (2026-11-27, engine of this commit; the README's command:
`multi-example.json` on the bundled Binance sample, 2025-05-20 .. 2025-06-03, balance 1000).
The EMA warm-up (2,160 minutes) ends 2025-05-21 12:00; the first selection there scores
ETHUSDT 18,120 (mean quote volume 12.5 M USDT a minute x mean range 0.145 %), BTCUSDT 12,070
(17.6 M x 0.069 %), SOLUSDT 3,507, XRPUSDT 968, LTCUSDT 238, BNBUSDT 188: ETH, BTC and SOL
take the 3 slots of each side and
keep them (a slot frees only when a position closes, and the hourly ranking kept the other
three last): XRP, BNB and LTC never open a position. Over the 14 days: 500 fills (ETH 308,
BTC 94, SOL 98); the long side used up to 0.970 of its shared 1.5 (SOL's long at its 0.5 cap,
BTC 0.42, ETH 0.24 of the balance), the short side up to 0.852; gain +1.63 % on equity (balance
1,058.48, equity 1,016.27 with SOL's long still open), max drawdown 5.36 %, closest
liquidation 99.39 %, longest stuck 95.1 h (SOL long), fees 6.94. Where the budget binds
(`tests/test_multi_backtest.py`, `test_shared_limit_binds...`: the same six symbols,
`n_positions` 2, total 1.0 per side, `ddown_factor` 1.5, `rentry_pprice_dist` 0.005, the
sample's first 20 days): the longs' summed exposure peaks at 0.993 (ETH at 0.5, BTC at 0.494),
never above 1.0 plus a quantity step's rounding, and never more than 2 symbols hold a position
per side.
"""  # noqa: E501 (markdown table rows)
