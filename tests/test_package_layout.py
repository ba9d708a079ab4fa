"""The product package never imports the test harness (issue 15: harnesses out of the
product's import path)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_product_module_imports_the_harness() -> None:
    offenders = []
    for path in sorted((ROOT / "passivbot").rglob("*.py")):
        bad = [m for m in _imports(path) if m == "harness" or m.startswith("harness.")]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {bad}")
    assert offenders == []


def test_harness_modules_live_in_one_declared_package() -> None:
    assert (ROOT / "harness" / "__init__.py").is_file()
    for old in ("passivbot/parity.py", "passivbot/fault_campaign.py",
                "passivbot/fault_measures.py", "passivbot/live/testing.py",
                "passivbot/emulator/testing.py"):
        assert not (ROOT / old).exists(), old
