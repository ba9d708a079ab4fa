"""docs/configs.md ("The shipped configs on the bundled data") quotes a backtest of each shipped
live config on the bundled ETHUSDT sample (issue 20: "the shipped example configs backtested in
the docs with their figures"). This reruns them: a change of behaviour must update the doc."""

from pathlib import Path

import pytest

from passivbot.backtest.runner import backtest_live_config
from passivbot.config import load_backtest_config, load_live_config

ROOT = Path(__file__).resolve().parents[1]


def doc_row(name: str) -> list[str]:
    text = (ROOT / "docs" / "configs.md").read_text(encoding="utf-8")
    section = text.split("### The shipped configs on the bundled data", 1)[1].split("\n## ", 1)[0]
    row = next(ln for ln in section.splitlines() if ln.startswith(f"| `{name}.json`"))
    return [c.strip() for c in row.strip("|").split("|")]


@pytest.mark.parametrize("name", ["ETH-J1", "default"])
def test_the_shipped_configs_figures_in_configs_md_are_the_backtests(name):
    bt = load_backtest_config(ROOT / "backtest_configs" / "demo.json")
    s = backtest_live_config(load_live_config(name), bt).stats
    row = doc_row(name)
    assert row[1:] == [
        f"{s['gain'] * 100:+.2f} %".replace("+", "") if s["gain"] >= 0
        else f"{s['gain'] * 100:.2f} %",
        f"{s['max_drawdown'] * 100:.2f} %",
        f"{s['max_hours_stuck_long']:.1f} / {s['max_hours_stuck_short']:.1f}",
        f"{s['n_fills']:.0f}",
        f"{s['fees_paid']:.2f}",
        f"{s['max_wallet_exposure_long']:.3f} / {s['max_wallet_exposure_short']:.3f}",
    ], (name, s)
