"""`python3 -m passivbot.report`: a session journal becomes the backtest's stats, files and plots
(hand-computed on a tiny journal), a journal that replays a backtest exactly matches that
backtest side by side, and bad input exits 2 with a message."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from passivbot.cli import run_cli
from passivbot.config import live_config_to_dict, load_live_config
from passivbot.records import KIND_NAMES, LONG, SHORT
from passivbot.report.__main__ import main
from passivbot.report.journal import JournalWriter, read_journal

T0 = 1_746_403_200_000  # 2025-05-05 00:00 UTC: inside the bundled Binance ETHUSDT sample
H = 3_600_000


def run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with pytest.raises(SystemExit) as e:
            run_cli(main, argv)
    return int(e.value.code or 0), out.getvalue(), err.getvalue()


def tiny_journal(path: Path) -> Path:
    j = JournalWriter(path)
    j.session(T0 + 5_000, "binance", "ETHUSDT", "paper", 1000.0, 0.0002, 0.0005,
              live_config_to_dict(load_live_config("ETH-J1")))
    j.equity(T0, 1000.0, 1000.0, 2000.0, 0, 0, 0, 0, 0)
    j.fill(T0 + 10 * 60_000, "long", "initial_entry", 0.01, 2000.0, 0.004, 0.0, 0.01, 2000.0,
           999.996, True, "o1")
    j.equity(T0 + H, 999.996, 1000.496, 2050.0, 0.01, 2000.0, 0, 0, 1000.0)
    j.fill(T0 + 90 * 60_000, "long", "close", 0.01, 2020.0, 0.0101, 0.2, 0.0, 0.0, 1000.1859,
           False, "o2")
    j.event("error", T0 + 95 * 60_000, message="ignored by the report")
    j.equity(T0 + 2 * H, 1000.1859, 1000.1859, 2010.0, 0, 0, 0, 0, 0)
    j.close()
    return path


def test_tiny_session_hand_computed_stats_files_and_plots(tmp_path):
    jp = tiny_journal(tmp_path / "s.journal")
    code, out, err = run([str(jp), "--out", str(tmp_path / "rep")])
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1].split("report: ")[1])
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["final_balance"] == pytest.approx(1000.1859)
    assert stats["gain"] == pytest.approx(0.0001859)  # 1000.1859 / 1000 - 1
    assert stats["fees_paid"] == pytest.approx(0.0141)  # 0.004 + 0.0101
    assert (stats["n_fills"], stats["n_entries"], stats["n_closes"]) == (2, 1, 1)
    assert stats["volume"] == pytest.approx(40.2)  # 0.01 x 2000 + 0.01 x 2020
    assert stats["max_wallet_exposure_long"] == pytest.approx(20 / 999.996)
    assert stats["closest_liquidation_distance"] == pytest.approx(1 - 1000 / 2050)
    # equity 1000 -> 1000.496 (peak) -> 1000.1859
    assert stats["max_drawdown"] == pytest.approx((1000.496 - 1000.1859) / 1000.496)
    rows = list(csv.DictReader(open(folder / "fills.csv")))
    assert [r["kind_name"] for r in rows] == ["initial_entry", "close"]
    assert [int(r["minute"]) for r in rows] == [10, 90]
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "balance_equity.png", "position_sizes.png", "price_fills.png", "wallet_exposure.png"]
    session = json.loads((folder / "session.json").read_text())
    assert (session["n_maker"], session["n_taker"], session["mode"]) == (1, 1, "paper")
    assert out.startswith("paper session binance ETHUSDT  2025-05-05 00:00 .. 2025-05-05 02:00")
    assert "maker / taker fills  1 / 1" in out
    assert "1 of 2 fills paid the taker fee" in out


def test_a_journal_replaying_a_backtest_matches_it_side_by_side(tmp_path):
    """Write a backtest's fills and hourly equity as a journal: the report's stats and the
    --compare backtest of the same period must agree (same function, same records)."""
    from passivbot.backtest.runner import backtest_live_config
    from passivbot.config import backtest_config_from_dict

    bt = backtest_config_from_dict({"exchange": "binance", "symbol": "ETHUSDT",
                                    "data_source": "bundled", "start_date": "2025-05-05",
                                    "end_date": "2025-05-08",
                                    "starting_configs": ["live_settings/ETH-J1.json"]}, "x")
    res = backtest_live_config(bt.starting_configs[0], bt)
    assert len(res.fills) > 5
    j = JournalWriter(tmp_path / "replay.journal")
    # The live bot warms its EMAs on history before its session starts: the session begins at
    # the backtest's first traded candle.
    t0 = int(res.candles[res.candles_info["warmup_candles"], 0])
    j.session(t0, "binance", "ETHUSDT", "paper", bt.starting_balance,
              bt.maker_fee, bt.taker_fee, live_config_to_dict(res.live_config))
    sides = {LONG: "long", SHORT: "short"}
    for f in res.fills:
        j.fill(int(f["timestamp"]), sides[int(f["side"])], KIND_NAMES[int(f["kind"])],
               f["qty"], f["price"], f["fee"], f["pnl"], f["psize"], f["pprice"], f["balance"],
               True)
    for row in res.equity[res.equity[:, 0] >= t0]:
        j.equity(int(row[0]), *row[1:])
    j.close()
    code, out, err = run([str(tmp_path / "replay.journal"), "--out", str(tmp_path / "rep"),
                          "--no-plots", "--compare", "bundled"])
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1].split("report: ")[1])
    cmp = {r["stat"]: r for r in csv.DictReader(open(folder / "compare.csv"))}
    for k in ("gain", "n_fills", "n_entries", "n_closes", "fees_paid", "volume", "final_equity",
              "max_hours_stuck_long", "average_daily_gain"):
        assert float(cmp[k]["session"]) == pytest.approx(float(cmp[k]["backtest"]),
                                                        rel=1e-9, abs=1e-9), k
        assert float(cmp[k]["backtest"]) == pytest.approx(res.stats[k], rel=1e-9, abs=1e-12), k
    # Drawdown: the backtest's is measured on every candle's worst equity, a journal's on the
    # equity lines it holds (here the backtest's hourly closes): never deeper than the backtest's.
    assert 0 < float(cmp["max_drawdown"]["session"]) <= float(cmp["max_drawdown"]["backtest"])
    assert float(cmp["max_drawdown"]["backtest"]) == pytest.approx(res.stats["max_drawdown"])
    assert "session vs backtest of the same config, same period" in out


def test_truncated_last_line_is_skipped_and_bad_lines_named(tmp_path):
    jp = tiny_journal(tmp_path / "s.journal")
    with open(jp, "a") as f:
        f.write('{"type": "fill", "ts_ms": 17')  # the bot died mid-write
    assert len(read_journal(jp)["fill"]) == 2
    lines = jp.read_text().splitlines()
    lines[2] = lines[2].replace('"qty":0.01', '"qty":"lots"')
    jp.write_text("\n".join(lines) + "\n")
    code, _, err = run([str(jp), "--out", str(tmp_path / "r")])
    assert code == 2 and "Traceback" not in err
    assert f"{jp} line 3: qty must be a finite number" in err


@pytest.mark.parametrize("content,needle", [
    (b"", "no session line"),
    (b'{"type": "fill"}\n{"type": "session"}\n', "line 1: fill line lacks ts_ms"),
    (b"[" * 50_000 + b"\n{}\n", "line 1: not a JSON object"),
    (b"\xff\xfe\n", "cannot read journal"),
])
def test_bad_journals_exit_2_with_the_line(tmp_path, content, needle):
    (tmp_path / "j").write_bytes(content)
    code, _, err = run([str(tmp_path / "j"), "--out", str(tmp_path / "r")])
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_missing_journal_and_unwritable_out_checked_before_work(tmp_path):
    code, _, err = run([str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert code == 2 and "journal not found" in err
    jp = tiny_journal(tmp_path / "s.journal")
    (tmp_path / "file").write_text("x")
    code, _, err = run([str(jp), "--out", str(tmp_path / "file")])
    assert code == 2 and "--out" in err and "is a file" in err


def test_compare_without_candles_exits_2(tmp_path):
    j = JournalWriter(tmp_path / "old.journal")
    j.session(1_600_000_000_000, "binance", "ETHUSDT", "paper", 1000.0, 0.0002, 0.0005,
              live_config_to_dict(load_live_config("ETH-J1")))
    j.close()
    code, _, err = run([str(tmp_path / "old.journal"), "--out", str(tmp_path / "r"),
                        "--no-plots", "--compare", "bundled"])
    assert code == 2 and "--compare bundled" in err and "Traceback" not in err
