"""Session reports: the live or paper bot's own journal of fills (`journal.py`, JSONL) turned
into the same stats, CSV files and plots as a backtest (`session.py`, reusing
passivbot.backtest's stats and report writer), and a side-by-side with the backtest of the same
period. `python3 -m passivbot.report JOURNAL` (see docs/live.md)."""
