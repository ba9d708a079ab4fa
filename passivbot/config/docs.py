"""Render the schema tables as markdown: `python3 -m passivbot.config.docs > docs/configs.md`.
A test checks the committed file matches, so the docs cannot drift from the validation."""

from __future__ import annotations

from passivbot.config.backtest import BACKTEST_SCHEMA, PER_EXCHANGE
from passivbot.config.live import LIVE_SCHEMA
from passivbot.config.schema import FieldSpec

_SCOPES = {
    "top": "top level", "side": "inside `long` and `short`", "optimize": "inside `optimize`",
    "constraints": "inside `optimize.constraints`",
}


def _row(f: FieldSpec) -> str:
    default = "required" if f.required else ("-" if f.default is None else f"`{f.default!r}`")
    if f.default == PER_EXCHANGE:
        default = "per exchange: `passivbot.markets.DEFAULT_FEES`"
    if isinstance(f.default, bool):
        default = f"`{str(f.default).lower()}`"
    allowed = f.allowed_text().replace("|", "\\|")
    return f"| `{f.name}` | {_SCOPES.get(f.scope, f.scope)} | {f.doc} | {f.unit or '-'} | {allowed} | {default} |"


def table(schema: tuple[FieldSpec, ...]) -> str:
    head = "| key | where | meaning | unit | allowed | default |\n| --- | --- | --- | --- | --- | --- |"
    return "\n".join([head, *(_row(f) for f in schema)])


def render() -> str:
    return f"""# Configs

Generated from the schema tables in `passivbot/config/live.py` and
`passivbot/config/backtest.py` by `python3 -m passivbot.config.docs > docs/configs.md`
(a test fails when this file is out of date). Check a file with
`python3 -m passivbot.config PATH`: it prints the config resolved with defaults, or every
problem at once (file, key, value given, what is allowed) and exits with code 2.

Rules for every key: unknown keys are errors (with a "did you mean"); integers may be written
`7.0` but not `7.5`; `true`/`false` are never numbers; NaN and infinities are rejected.

## Live config: `live_settings/NAME.json`

`NAME` is also the key pair's name in `api-keys.json` (see `api-keys.example.json`).
Strategy meanings: DESIGN.md "The strategy".

{table(LIVE_SCHEMA)}

Cross-field rules: each side's `wallet_exposure_limit` <= `leverage`; when both sides are
enabled, long + short `wallet_exposure_limit` <= `leverage` (cross margin: both positions
draw margin from the same wallet). A `config_version` newer than this passivbot reads is an
error.

## Backtest config: `backtest_configs/NAME.json`

{table(BACKTEST_SCHEMA)}

Cross-field rules: `end_date` after `start_date`; `multi_objective` needs sampler `nsga2` or
`tpe`; each `starting_configs` entry (relative to the project root) must exist and validate as
a live config (its problems are reported under its own file name).

`optimize.bounds`: `{{"leverage": [lo, hi], "long": {{KEY: [lo, hi] or [lo, hi, step]}},
"short": {{...}}}}` where KEY is any numeric per-side key of the live schema. `lo <= hi`, both
inside that key's live range, `step > 0`. Keys not listed keep the starting config's value.
"""


if __name__ == "__main__":
    print(render(), end="")
