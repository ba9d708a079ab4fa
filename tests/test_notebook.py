"""backtesting_notes.ipynb runs headless, top to bottom, on a demo result made here (a short
backtest of the bundled ETHUSDT and a small optimization folder written with the optimizer's
writers), every figure renders, and a symbol without results gives a clear message."""

import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from passivbot.backtest.analysis import load_run
from passivbot.backtest.analysis_cycles import position_cycles, run_cycles
from passivbot.backtest.analysis_runs import (
    DEMO_COMMAND, DEMO_DAYS, NoResultsError, find_optimization, find_run, load_optimization,
    make_command, zoom,
)
from passivbot.backtest.report import write_report
from passivbot.backtest.runner import backtest_live_config, load_backtest_candles
from passivbot.config import live_config_from_dict, load_backtest_config, load_live_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "backtesting_notes.ipynb"


def _write_optimization(root: Path, bt, base_cfg, candles) -> Path:
    """An optimization folder as the optimizer lays it out (its own writers), from a few real
    backtests with varied long-side params and one invalid trial."""
    from passivbot.optimize.objective import INVALID_SCORE, score
    from passivbot.optimize.output import new_run_dir, write_best, write_trials_csv
    from passivbot.optimize.space import SearchSpace

    space = SearchSpace.build(bt.optimize.bounds, base_cfg)
    base, _ = space.params_of(base_cfg)
    run_dir = new_run_dir(root, bt)
    records, best = [], None
    for k in range(4):
        params = {**base, "long.ddown_factor": 0.3 + 0.4 * k,
                  "long.wallet_exposure_limit": 0.2 + 0.2 * k}
        cfg = live_config_from_dict(space.candidate(params), f"trial {k}")
        res = backtest_live_config(cfg, bt, candles=candles)
        rec = {"number": k, "origin": "search", "score": score(res.stats, bt.optimize.constraints),
               "error": "", "params": params, "stats": res.stats}
        records.append(rec)
        best = max(best or (rec, res), (rec, res), key=lambda x: x[0]["score"])
    records.append({"number": 4, "origin": "search", "score": INVALID_SCORE,
                    "error": "exposure above leverage", "params": base, "stats": {}})
    write_trials_csv(run_dir / "trials.csv", records)
    write_best(run_dir, space.candidate(best[0]["params"]))
    write_report(best[1], root=run_dir / "report", label="best", plots=False)
    return run_dir


def _eth_j1_with_rules() -> dict:
    """ETH-J1 with auto-unstuck and the equity stop tight enough that, on 2025-05-05 .. 09 of
    the bundled ETHUSDT, unstuck closes happen and the stop fires once (measured: 2 unstuck
    closes, 1 stop), so the notebook has both kinds of fills to show."""
    import json

    d = json.loads((ROOT / "live_settings/ETH-J1.json").read_text())
    d.update(equity_stop_drawdown=0.03, equity_stop_cooldown_minutes=360)
    for side in ("long", "short"):
        d[side].update(unstuck_threshold=0.2, unstuck_close_pct=0.2, unstuck_ema_dist=0.005,
                       unstuck_loss_allowance_pct=0.02)
    return d


RULES_ON = _eth_j1_with_rules()


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """tmp backtests/ with a 4-day bundled ETHUSDT backtest and an optimization folder."""
    root = tmp_path_factory.mktemp("results") / "backtests"
    bt = load_backtest_config(ROOT / "backtest_configs/demo.json")
    bt = replace(bt, start_date=dt.date(2025, 5, 5), end_date=dt.date(2025, 5, 9))
    live = live_config_from_dict(RULES_ON, "ETH-J1 with the bounded-loss rules")
    candles = load_backtest_candles(bt)
    write_report(backtest_live_config(live, bt, candles=candles), root=root, plots=False)
    _write_optimization(root, bt, live, candles)
    return root


@pytest.fixture()
def python3_kernel(tmp_path, monkeypatch) -> str:
    """A `python3` kernelspec for this interpreter in a temp dir first on JUPYTER_PATH, so the
    notebook runs in this venv whatever kernels the machine has; no network needed."""
    from ipykernel.kernelspec import install

    install(prefix=str(tmp_path / "jupyter"), kernel_name="python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    spec = tmp_path / "jupyter/share/jupyter/kernels/python3/kernel.json"
    assert sys.executable in spec.read_text()
    return "python3"


def test_notebook_runs_top_to_bottom_on_a_demo_result_and_every_figure_renders(
        demo_root, python3_kernel, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[4].cell_type == "code"
    assert nb.cells[4].source.splitlines()[0].split("#")[0].strip() == "symbol = 'ETHUSDT'"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "store the notebook without outputs"
    monkeypatch.setenv("PASSIVBOT_BACKTESTS", str(demo_root))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = NotebookClient(nb, timeout=120, kernel_name=python3_kernel, allow_errors=False,
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError on any cell error

    images = [c for c in nb.cells if c.cell_type == "code"
              and any("image/png" in o.get("data", {}) for o in c.outputs)]
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # price, balance, funding, sizes + exposure, durations + depth, fill sizes, liquidation,
    # trials
    assert len(images) == 8
    n_png = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                for o in c.outputs)
    assert n_png == 11  # every figure the notebook draws (trials: score panels + progress)
    assert str(demo_root) in text and "optimization:" in text and "(5 trials)" in text
    # the bounded-loss cell lists the unstuck and stop closes of the run, the funding cell
    # the funding the run paid and received
    run = load_run(find_run("ETHUSDT", demo_root))
    n_unstuck = int((run.fills["kind_name"] == "unstuck_close").sum())
    n_stop = int((run.fills["kind_name"] == "stop_close").sum())
    assert n_unstuck > 0 and n_stop > 0
    assert f"unstuck closes: {n_unstuck} " in text and "equity stops: 1 " in text
    cell = next(c for c in nb.cells if c.source.startswith("risk_fills = bounded_loss_fills"))
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    assert html.count(">unstuck_close<") == n_unstuck and html.count(">stop_close<") == n_stop
    st = run.stats
    assert st["funding_paid"] > 0 and st["funding_received"] > 0
    assert f"funding paid {st['funding_paid']:.4f}, received {st['funding_received']:.4f}" in text


def test_a_symbol_without_results_names_the_folder_searched_and_the_command(tmp_path):
    root = tmp_path / "backtests"
    with pytest.raises(NoResultsError) as e:
        find_run("ETHUSDT", root)
    msg = str(e.value)
    assert str(root.resolve()) in msg and DEMO_COMMAND in msg
    with pytest.raises(NoResultsError) as e:
        find_run("SOLUSDT", root)
    assert "SOLUSDT" in str(e.value) and "--symbol SOLUSDT" in str(e.value)
    assert find_optimization("ETHUSDT", root) is None
    # the notebook shows the message alone (IPython's hook), not a traceback
    assert e.value._render_traceback_() == [f"NoResultsError: {e.value}"]


def test_the_command_for_a_bundled_symbol_stays_inside_its_sample():
    """Every bundled symbol gets a command without a download note, with dates its sample
    covers (ENA's ends on 2025-06-03, ADA's starts on 2025-05-09); others get the note."""
    from passivbot.data import load_source
    from passivbot.data.bundled import BUNDLED_SYMBOLS

    demo = load_backtest_config(ROOT / "backtest_configs" / "demo.json")
    assert DEMO_DAYS == (demo.start_date, demo.end_date) and demo.symbol == "ETHUSDT"
    assert len(BUNDLED_SYMBOLS) > 2
    for sym in ("ADAUSDT", "ENAUSDT", "BTCUSDT"):
        cmd = make_command(sym)
        assert "download" not in cmd and f"--symbol {sym}" in cmd
        args = cmd.split()
        start = args[args.index("--start-date") + 1] if "--start-date" in args else DEMO_DAYS[0]
        end = args[args.index("--end-date") + 1] if "--end-date" in args else DEMO_DAYS[1]
        assert len(load_source("bundled", "binance", sym, start, end)) > 0
    assert "--start-date 2025-05-09" in make_command("ADAUSDT")
    assert "--end-date 2025-06-04" in make_command("ENAUSDT")
    assert "--start-date" not in make_command("BTCUSDT")
    assert "download candles first" in make_command("DOGEUSDT")


def test_a_named_folder_that_is_no_result_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoResultsError, match="not a backtest result folder"):
        find_run("ETHUSDT", tmp_path, run_dir=tmp_path / "empty")


def test_latest_backtest_is_chosen_by_folder_stamp_and_an_optimization_resolves_to_its_report(
        demo_root):
    plain = demo_root / "binance/ETHUSDT"
    older = plain / "20000101T000000_old"
    older.mkdir()
    for name in ("fills.csv", "equity.csv"):
        (older / name).write_text("")
    latest = find_run("ethusdt", demo_root)  # symbol case does not matter
    assert latest != older and latest.name[:15] > older.name[:15]
    opt_dir = find_optimization("ETHUSDT", demo_root)
    report = find_run("ETHUSDT", demo_root, run_dir=opt_dir)
    assert opt_dir in report.parents and report.name.endswith("_best")
    assert find_optimization("ETHUSDT", demo_root, run_dir=report) == opt_dir
    opt = load_optimization(opt_dir)
    assert "long.ddown_factor" in opt.params and len(opt.trials) == 5
    assert opt.best["symbol"] == "ETHUSDT"


def test_cycles_count_reentries_and_end_when_the_position_is_flat(demo_root):
    run = load_run(find_run("ETHUSDT", demo_root))
    cycles = run_cycles(run)
    f = run.fills
    for side in (1, -1):
        s = f[f["side"] == side]
        c = cycles[cycles["side"] == side]
        # every entry and re-entry belongs to exactly one cycle, every cycle starts with one entry
        assert c["n_entries"].sum() == s["kind"].isin((0, 1)).sum()
        assert c["n_reentries"].sum() == (s["kind"] == 1).sum()
        assert (c["n_entries"] == c["n_reentries"] + 1).all()
        assert (c.loc[~c["open"], "hours"] >= 0).all()
        # a closed cycle ends exactly at a fill that left the side flat
        flat_times = set(s.loc[s["psize"] <= 1e-12, "time"])
        assert set(c.loc[~c["open"], "end"]) <= flat_times
    assert len(position_cycles(f.iloc[:0])) == 0


def test_zoom_keeps_only_the_range(demo_root):
    run = load_run(find_run("ETHUSDT", demo_root))
    v = zoom(run, "2025-05-06", "2025-05-07 12:00")
    assert len(v.equity) == 36
    assert v.fills["time"].min() >= v.equity["time"].min()
    assert v.fills["time"].max() < v.equity["time"].max() + pd.Timedelta(hours=1)


def test_the_notebook_with_a_symbol_without_results_prints_the_message_not_a_traceback(
        tmp_path, python3_kernel, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells[4].source = "symbol = 'SOLUSDT'"
    nb.cells = nb.cells[:7]  # up to the cell that finds the result
    monkeypatch.setenv("PASSIVBOT_BACKTESTS", str(tmp_path / "backtests"))
    NotebookClient(nb, timeout=60, kernel_name=python3_kernel, allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "NoResultsError"
    shown = "\n".join(errors[0]["traceback"])
    assert shown.startswith("NoResultsError: no backtest results for SOLUSDT")
    assert str((tmp_path / "backtests").resolve()) in shown and DEMO_COMMAND in shown
    assert "Traceback" not in shown and "File " not in shown


def test_funding_flows_and_bounded_loss_fills_from_the_fill_rows():
    """Hand-built rows: funding pnl -1.5 (paid), +0.5, -0.25 -> paid 1.5, 1.5, 1.75; received 0,
    0.5, 0.5; net -1.5, -1.0, -1.25. An unstuck close with pnl -2 and fee 0.1 -> -2.1."""
    from passivbot.backtest.analysis import bounded_loss_fills, funding_flows

    t = pd.to_datetime([0, 1, 2, 3, 4], unit="h", utc=True)
    f = pd.DataFrame({"time": t, "side": [1, -1, 1, 1, -1], "kind": [4, 4, 2, 5, 4],
                      "kind_name": ["funding", "funding", "close", "unstuck_close", "funding"],
                      "qty": 1.0, "price": 100.0, "pnl": [-1.5, 0.5, 3.0, -2.0, -0.25],
                      "fee": [0.0, 0.0, 0.02, 0.1, 0.0], "psize": 1.0, "balance": 1000.0})
    fl = funding_flows(f)
    assert fl["paid"].tolist() == [1.5, 1.5, 1.75]
    assert fl["received"].tolist() == [0.0, 0.5, 0.5]
    assert fl["net"].tolist() == [-1.5, -1.0, -1.25]
    assert fl["side"].tolist() == ["long", "short", "short"]
    b = bounded_loss_fills(f)
    assert len(b) == 1 and b.loc[0, "kind_name"] == "unstuck_close"
    assert b.loc[0, "pnl_after_fee"] == pytest.approx(-2.1) and b.loc[0, "side"] == "long"


def test_the_price_plot_marks_unstuck_and_stop_closes(demo_root):
    from passivbot.backtest.analysis import plot_price_fills

    run = load_run(find_run("ETHUSDT", demo_root))
    fig = plot_price_fills(run.equity, run.fills)
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert any(lab.endswith("unstuck closes") for lab in labels), labels
    assert any(lab.endswith("equity stop closes") for lab in labels), labels
