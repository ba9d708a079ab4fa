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
import tempfile
import time
from pathlib import Path

KEEP_VERSIONS = 4
# A version folder used within this long is never pruned, however many there are: another
# checkout's process may be compiling into it or loading from it right now (several worktrees
# or versions side by side would otherwise delete each other's caches mid-run).
IN_USE_S = 24 * 3600


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


def _writable(d: Path) -> bool:
    """numba's own test (its locators create the folder and write a temp file in it)."""
    try:
        d.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=d).close()
        return True
    except OSError:
        return False


def _in_tree_allowed() -> bool:
    """Whether numba may fall back to `__pycache__` beside the sources (its default list)."""
    classes = os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES", "")
    return not classes or "InTree" in classes


def configure(package_dir: Path) -> None:
    """Set NUMBA_CACHE_DIR (unless the user set it) before any kernel is compiled.

    Tries the user cache folder, then the system temp folder; when no folder numba could write
    to exists (the user's NUMBA_CACHE_DIR, these two, `__pycache__` beside the sources), exits 2
    with what to do instead of a traceback at the first `@njit(cache=True)`.
    """
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    in_tree = _in_tree_allowed() and _writable(package_dir / "__pycache__")
    if user_dir:
        if not _writable(Path(user_dir)) and not in_tree:
            _no_cache_exit(f"NUMBA_CACHE_DIR={user_dir} is not writable")
        return
    key = kernel_source_hash(package_dir)
    for root in (_cache_root(), Path(tempfile.gettempdir()) / f"passivbot-numba-{os.getuid()}"):
        target = root / key
        if _writable(target):
            break
    else:
        if in_tree:
            return  # numba falls back to __pycache__ beside the sources
        _no_cache_exit(f"tried {_cache_root()}, {tempfile.gettempdir()} and {package_dir}")
    try:
        os.utime(target)  # marks this version as in use (see _prune)
    except OSError:
        pass
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    if "numba" in sys.modules:  # imported before us: its config is already read
        sys.modules["numba"].config.CACHE_DIR = str(target)
    _prune(root, target)


def _no_cache_exit(tried: str) -> None:
    print(f"error: no writable folder for numba's compiled-kernel cache ({tried}): set "
          "NUMBA_CACHE_DIR to a writable folder, e.g. NUMBA_CACHE_DIR=/tmp/numba-cache",
          file=sys.stderr)
    raise SystemExit(2)


def _prune(root: Path, keep: Path, now: float | None = None) -> None:
    """Drop all but the newest few source versions (each is a full set of compiled kernels),
    sparing any used within IN_USE_S (its folder's time is set each time a process picks it)."""
    now = time.time() if now is None else now
    try:
        dirs = sorted(((d.stat().st_mtime, d) for d in root.iterdir()
                       if d.is_dir() and d != keep), reverse=True)
    except OSError:
        return
    for mtime, d in dirs[KEEP_VERSIONS - 1:]:
        if now - mtime > IN_USE_S:
            shutil.rmtree(d, ignore_errors=True)
