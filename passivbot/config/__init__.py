"""Configs: live (`live_settings/NAME.json`) and backtest (`backtest_configs/NAME.json`).

Typed, frozen, strict: unknown keys are rejected with a "did you mean", ranges and cross-field
rules are checked, and every problem is reported at once in one `ConfigError`.
`python3 -m passivbot.config PATH` validates a file and prints it resolved with defaults.
"""

from passivbot.config.backtest import (
    BACKTEST_SCHEMA, BacktestConfig, Bound, Constraints, OptimizeConfig,
    backtest_config_from_dict, backtest_config_to_dict, load_backtest_config,
)
from passivbot.config.live import (
    LIVE_SCHEMA, PROJECT_ROOT, SIDE_FIELDS, SIDE_NUMERIC_KEYS, TOP_FIELDS, LiveConfig,
    SideConfig, live_config_from_dict, live_config_to_dict, load_live_config, side_params,
)
from passivbot.config.schema import FieldSpec
from passivbot.errors import ConfigError, ConfigIssue

__all__ = [
    "BACKTEST_SCHEMA", "BacktestConfig", "Bound", "ConfigError", "ConfigIssue", "Constraints",
    "FieldSpec", "LIVE_SCHEMA", "LiveConfig", "OptimizeConfig", "PROJECT_ROOT", "SIDE_FIELDS",
    "SIDE_NUMERIC_KEYS", "SideConfig", "TOP_FIELDS", "backtest_config_from_dict",
    "backtest_config_to_dict", "live_config_from_dict", "live_config_to_dict",
    "load_backtest_config", "load_live_config", "side_params",
]
