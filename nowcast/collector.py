"""Python's cyclic garbage collector paused for a bounded piece of work (``paused``).

A fit, an update and the second process's jobs build PyTensor graphs: tens of thousands of
nodes, variables and their types, alive for the whole job. The collector's full passes are
triggered by the number of objects created, and each pass walks every one of those objects
again, to free almost nothing: the graphs are alive, and what they drop is freed by reference
counting. Measured on December's update of the bundled data (docs/PERFORMANCE.md): the
collector took 0.5 of the 2.1 s the evaluator's compile took in the second process, and about
a second of the whole update in this one; peak memory rose by 9 MiB with it paused.

The collector is paused only around work that ends (a job, an update, a run) and is restored
after it, so a long session (a notebook, a backtest running one fit after another) still
collects between them. Pausing nests and is shared between threads: the collector is
restored when the outermost pause ends, to the state it had when it began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection by Python's cyclic garbage collector inside the block
    (reference counting still frees everything not in a cycle); the collector's state is
    restored when the outermost pause ends."""
    global _depth, _was_enabled
    with _LOCK:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
