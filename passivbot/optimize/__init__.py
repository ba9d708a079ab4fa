"""The optimizer: population samplers (cmaes, pymoo) asked a generation at a time over the
backtest config's bounds, candidates backtested in tasks on local processes or a Dask cluster
on one or several symbols, resumable from an append-only trial log, ending with best.json (a
live config). See docs/optimize.md."""

from passivbot.optimize.cli import main
from passivbot.optimize.objective import EvalContext, score, violations
from passivbot.optimize.run import OptimizeResult, optimize

__all__ = ["EvalContext", "OptimizeResult", "main", "optimize", "score", "violations"]
