"""Borrowed array views for hot loops: an alias of an array without numba's reference counting.

Why: in a jitted loop, `market[k]` (a view of symbol k's row) is a new array that holds a
reference to its parent's memory: numba increments and decrements an atomic reference count for
every such view, twice per call it is passed to. The multi-symbol replay makes a few views per
symbol per minute (its per-symbol market, parameters, records and order caches); those atomic
counts were most of its time (measured with perf: about 80 % of the kernel's samples in
NRT_incref / NRT_decref). A borrowed view has no memory owner, so its views are not counted.

The rule that keeps it safe: borrow only an ARGUMENT of the jitted function that uses the view,
and use the view only inside that call (never return it or store it). The caller holds the
argument's reference for the whole call, so the memory outlives the view. Under
NUMBA_DISABLE_JIT=1 `borrowed_view` returns its argument (plain Python, no counting anyway).
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core.extending import intrinsic, overload


def borrowed_view(a: np.ndarray) -> np.ndarray:
    """The same array, without reference counting in jitted code (see the module docstring)."""
    return a


@intrinsic
def _borrowed_view_nb(typingctx, arr):
    """Same data, shape, strides and type; no meminfo (NULL: incref/decref return at once)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, args[0])
        out = context.make_array(sig.return_type)(context, builder)
        context.populate_array(out, data=src.data, shape=src.shape, strides=src.strides,
                               itemsize=src.itemsize, meminfo=None)
        return out._getvalue()

    return arr(arr), codegen


@overload(borrowed_view)
def _borrowed_view_ov(a):
    if isinstance(a, types.Array):
        return lambda a: _borrowed_view_nb(a)
    return None
