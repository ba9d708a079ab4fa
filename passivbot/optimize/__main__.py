"""`python3 -m passivbot.optimize BACKTEST_CONFIG [--iterations N] [--resume RUN_DIR] ...`"""

from passivbot.cli import run_cli
from passivbot.optimize.cli import main

if __name__ == "__main__":
    run_cli(main)
