"""Point numba's on-disk cache at a folder keyed by the source of every jitted module.

numba invalidates a cached function only when its *own* file changes; a kernel that inlines
`grid` functions from another file keeps running the old grid after an update (a backtest that
no longer means what the live bot does). Keying the cache folder by a hash of all modules that
use numba makes any change to any kernel recompile everything once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

KEEP_VERSIONS = 4


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "passivbot" / "numba"


def kernel_source_hash(package_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        data = path.read_bytes()
        if b"numba" in data:
            h.update(path.relative_to(package_dir).as_posix().encode())
            h.update(data)
    return h.hexdigest()[:16]


def configure(package_dir: Path) -> None:
    """Set NUMBA_CACHE_DIR (unless the user set it) before any kernel is compiled."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    root = _cache_root()
    target = root / kernel_source_hash(package_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # read-only home: numba falls back to __pycache__ beside the sources
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    if "numba" in sys.modules:  # imported before us: its config is already read
        sys.modules["numba"].config.CACHE_DIR = str(target)
    _prune(root, target)


def _prune(root: Path, keep: Path) -> None:
    """Drop all but the newest few source versions (each is a full set of compiled kernels)."""
    try:
        dirs = sorted((d for d in root.iterdir() if d.is_dir() and d != keep),
                      key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return
    for d in dirs[KEEP_VERSIONS - 1:]:
        shutil.rmtree(d, ignore_errors=True)
