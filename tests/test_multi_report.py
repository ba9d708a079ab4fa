"""The multi-symbol result folder and console summary: the files hold what the replay produced
(fills with their symbol, account and per-symbol samples, stats per symbol and for the account,
the config that loads back), the plots are PNGs, the console speaks a trader's words."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from passivbot.backtest.multi_report import summary_table, write_multi_report
from passivbot.backtest.multi_runner import backtest_multi_config
from passivbot.config import load_backtest_config
from passivbot.config.multi import (
    load_multi_config, multi_config_from_dict, multi_config_to_dict,
)
from passivbot.data.bundled import load_bundled
from passivbot.records import KIND_FUNDING

ROOT = Path(__file__).resolve().parents[1]
SYMS = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run():
    cfg = load_multi_config(ROOT / "live_settings" / "multi-example.json")
    d = multi_config_to_dict(cfg)
    d["symbols"], d["n_positions"] = list(SYMS), 2
    d["overrides"] = {"BTCUSDT": d["overrides"]["BTCUSDT"]}
    cfg = multi_config_from_dict(d, "four.json")
    bt = load_backtest_config(ROOT / "backtest_configs" / "demo.json")
    candles = {s: load_bundled(s)[: 5 * 1440] for s in SYMS}
    return backtest_multi_config(cfg, bt, candles)


def test_result_folder_holds_fills_with_symbols_samples_stats_and_plots(run, tmp_path):
    path = write_multi_report(run, tmp_path)
    res = run.result
    assert path.parent == tmp_path / "binance" / "MULTI"
    fills = pd.read_csv(path / "fills.csv")
    assert len(fills) == len(res.fills) > 50
    assert fills["symbol"].tolist() == [SYMS[k] for k in res.fill_symbol]
    assert np.allclose(fills["balance"], res.fills["balance"], rtol=0, atol=1e-9)
    stats = json.loads((path / "stats.json").read_text())
    assert set(stats["symbols"]) == set(SYMS)
    for sym, s in stats["symbols"].items():  # each symbol's figures from its own rows
        mine = fills[(fills["symbol"] == sym) & (fills["kind"] != KIND_FUNDING)]
        assert s["n_fills"] == len(mine)
        assert s["fees_paid"] == pytest.approx(mine["fee"].sum(), abs=1e-9)
    traded = fills[fills["kind"] != KIND_FUNDING]
    assert stats["account"]["fees_paid"] == pytest.approx(traded["fee"].sum(), abs=1e-9)
    assert stats["account"]["final_balance"] == pytest.approx(fills["balance"].iloc[-1])
    eq = pd.read_csv(path / "equity.csv")
    assert list(eq.columns) == ["timestamp", "balance", "equity", "time"]
    assert len(eq) == len(res.equity) and eq["balance"].iloc[-1] == pytest.approx(
        res.equity[-1, 1])
    pos = pd.read_csv(path / "positions.csv")
    assert len(pos) == len(res.equity) * len(SYMS)
    assert pos["symbol"].tolist()[:4] == list(SYMS)
    last = pos.groupby("symbol").tail(1).set_index("symbol")  # the last sample per symbol
    for k, sym in enumerate(SYMS):
        assert last.loc[sym, "psize_long"] == res.symbol_equity[-1, k, 1]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["symbols"] == list(SYMS) and meta["per_symbol"]["ETHUSDT"]["n_candles"] == 5 * 1440
    back = multi_config_from_dict(json.loads((path / "live_config.json").read_text()), "x")
    assert back.configs == run.config.configs and back.n_positions == 2
    for name in ("balance_equity", "positions", "wallet_exposure"):
        assert (path / "plots" / f"{name}.png").read_bytes()[:8] == PNG


def test_console_summary_speaks_a_traders_words(run):
    lines = summary_table(run)
    text = "\n".join(lines)
    acc = run.stats["account"]
    for label in ("gain", "average daily gain", "max drawdown", "closest liquidation",
                  "max hours stuck", "fees paid"):
        assert f"  {label} " in text, label
    assert f"{acc['max_drawdown']:.2%}" in text and f"{acc['gain']:+.2%}" in text
    assert f"{acc['fees_paid']:,.2f}" in text
    rows = {ln.split()[0]: ln.split() for ln in lines if ln.strip().split(" ")[0] in SYMS}
    assert set(rows) == set(SYMS)
    for sym, s in run.stats["symbols"].items():  # symbol, fills, pnl, fees, funding, net, ...
        r = rows[sym]
        assert float(r[1]) == s["n_fills"] and float(r[3]) == pytest.approx(s["fees_paid"],
                                                                            abs=0.005)
        net = s["realized_pnl"] - s["fees_paid"] + s["funding_net"]
        assert float(r[5]) == pytest.approx(net, abs=0.005)
    stuck_sym = text.split("max hours stuck")[1].split("(")[1].split()[0]
    assert stuck_sym in SYMS


def test_backtest_cli_writes_the_multi_folder(tmp_path, capsys):
    from passivbot.backtest.cli import main

    rc = main(["demo", "-c", str(ROOT / "live_settings" / "multi-example.json"),
               "--start-date", "2025-05-20", "--end-date", "2025-05-23", "--results",
               str(tmp_path), "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 0
    folder = Path(out.strip().splitlines()[-1].split("results: ", 1)[1])
    assert folder.is_dir() and folder.parent == tmp_path / "binance" / "MULTI"
    assert {"fills.csv", "stats.json", "equity.csv", "positions.csv"} <= {
        p.name for p in folder.iterdir()}
    assert "6 symbols on one wallet, at most 3 positions per side" in out
    assert "max drawdown" in out and "LTCUSDT" in out


def test_config_dict_round_trip_when_every_symbol_is_overridden():
    cfg = load_multi_config(ROOT / "live_settings" / "multi-example.json")
    d = multi_config_to_dict(cfg)
    d["symbols"] = ["ETHUSDT", "BTCUSDT"]
    d["n_positions"] = 2
    d["overrides"] = {"ETHUSDT": {"long": {"ddown_factor": 1.1}},
                      "BTCUSDT": {"short": {"min_markup": 0.005}}}
    cfg = multi_config_from_dict(d, "two.json")
    back = multi_config_from_dict(multi_config_to_dict(cfg), "back.json")
    assert back.configs == cfg.configs
    assert back.configs["ETHUSDT"].long.ddown_factor == 1.1
    assert back.configs["BTCUSDT"].short.min_markup == 0.005


def test_docs_worked_example_quotes_the_measured_run():
    """docs/configs.md's worked example: the README's multi-symbol command, run here, gives
    the figures the section quotes (a change of behaviour must update the doc)."""
    from dataclasses import replace

    from passivbot.selection import score_nb

    doc = (ROOT / "docs" / "configs.md").read_text()
    doc = " ".join(doc.split("**Worked example, measured**", 1)[1].split("**", 1)[0].split())
    cfg = load_multi_config(ROOT / "live_settings" / "multi-example.json")
    bt = replace(load_backtest_config(ROOT / "backtest_configs" / "demo.json"),
                 start_date="2025-05-20", end_date="2025-06-03")
    out = backtest_multi_config(cfg, bt)
    acc, per = out.stats["account"], out.stats["symbols"]
    assert f"{acc['gain'] * 100:+.2f} %" in doc and f"{acc['max_drawdown'] * 100:.2f} %" in doc
    assert f"{acc['n_fills']:.0f} fills" in doc and f"fees {acc['fees_paid']:.2f}" in doc
    assert f"{acc['max_wallet_exposure_long']:.3f} of its shared 1.5" in doc
    assert f"up to {acc['max_wallet_exposure_short']:.3f}" in doc
    assert f"balance 1,{acc['final_balance'] - 1000:06.2f}" in doc
    assert f"ETH {per['ETHUSDT']['n_fills']:.0f}" in doc
    assert f"SOL {per['SOLUSDT']['n_fills']:.0f}" in doc
    assert all(per[s]["n_fills"] == 0 for s in ("XRPUSDT", "BNBUSDT", "LTCUSDT"))
    t0 = int(out.result.summary[11])  # S_WARMUP: the first trading minute = first selection
    c = {x: load_bundled(x) for x in cfg.symbols}
    first = {x: int(np.searchsorted(c[x][:, 0], out.result.axis_ts[0])) for x in cfg.symbols}
    for sym, want in (("ETHUSDT", "18,120"), ("BTCUSDT", "12,070"), ("SOLUSDT", "3,507")):
        i = first[sym] + t0 + 1
        got = score_nb(c[sym], i - 1440, i)
        assert f"{sym} {want}" in doc and abs(got - float(want.replace(",", ""))) < 5, sym


def test_multi_runner_command_writes_the_folder_and_checks_its_dates(tmp_path, capsys):
    """Regression: --start/--end went into the backtest config as strings and writing
    backtest_config.json crashed; now they are validated like the file's."""
    from passivbot.backtest.multi_runner import main
    from passivbot.config import ConfigError

    assert main(["multi-example", "demo", "--start", "2025-05-20", "--end", "2025-05-22",
                 "--results", str(tmp_path), "--no-plots"]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1].split("results: ", 1)[1])
    bt = json.loads((folder / "backtest_config.json").read_text())
    assert (bt["start_date"], bt["end_date"]) == ("2025-05-20", "2025-05-22")
    with pytest.raises(ConfigError, match="start_date"):
        main(["multi-example", "demo", "--start", "2025-13-20"])
