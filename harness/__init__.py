"""Test and bench harnesses: the real bot against the emulator in lockstep, parity, faults.

Declared apart from the product on purpose: `passivbot` (the bot, backtester, emulator,
optimizer) never imports this package, so nothing here can change what trades. `bench/` and
`tests/` use it.

- `harness.emulator`: synthetic candles and polling helpers for driving the emulator;
- `harness.live`: lockstep helpers for running `LiveBot` against the emulator;
- `harness.parity`: backtest = live proofs (`bench/parity.py`, `tests/test_parity*.py`);
- `harness.parity_multi`: the same for several symbols on one wallet (`bench/parity_multi.py`,
  `tests/test_live_multi.py`);
- `harness.fault_campaign`, `harness.fault_measures`: the fault campaign (`bench/faults.py`).
- `harness.console_shot`: how docs/img/console.png is made (a paper session, rendered).
"""
