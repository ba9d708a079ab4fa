#!/usr/bin/env python3
"""Backtest a live config: `python3 backtest.py backtest_configs/demo.json --live-config
live_settings/ETH-J1.json` (docs/backtest.md); without --live-config, optimize one:
`python3 backtest.py backtest_configs/demo.json` (docs/optimize.md)."""

import os

# The optimizer's main process only samples, tells and logs: numpy's BLAS threads there take
# the cores the workers need (16 cores, CMA-ES drawing 6,400 candidates a generation: 0.24 ms of
# main-process CPU a trial with one BLAS thread a core, against ~0.02-0.03 ms on 2 cores).
# Set before numpy is imported; a value the user exported wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from passivbot.cli import run_cli  # noqa: E402
from passivbot.optimize.cli import main  # noqa: E402

if __name__ == "__main__":
    run_cli(main)
