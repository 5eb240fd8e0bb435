"""Compiled PyTensor functions kept on disk between processes, keyed by the graph they compute.

Most of a warm run's compile time is PyTensor rewriting graphs it rewrote the same way in the
previous run (the sampler's log density and gradient, the vectorised derived quantities and
log densities): PyTensor caches the generated code on disk, but not the rewritten graph. A
compiled ``pytensor.function`` pickles with its rewritten graph, and unpickling it links that
graph again without rewriting it, so a later process computing the same graph loads it in a
fraction of the time (measured in docs/PERFORMANCE.md).

The key is a digest of a canonical description of the graph, node by node: ops by class and
parameters (inner graphs described the same way), constants by dtype, shape and bytes, other
inputs by name and type, plus the library versions. A graph holding anything known only by its
identity (an object whose description is its address) gets no key and is never cached. Entries
live in PyTensor's compile directory (``nowcast_functions``), written atomically; the least
recently used beyond ``MAX_BYTES`` are removed; an entry that cannot be read is removed and
rebuilt, never an error. Functions that draw random numbers must not be cached (their
generator's state would be pickled with them): the graphs cached here compute log densities
and derived quantities.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Bump when what is cached changes shape: old entries are then never loaded.
CACHE_VERSION = 1
# the newest entries kept up to this many bytes: the default model's are about 5 MB, a test
# model's a fifth of one (a count limit let one test run push out the real model's entries)
MAX_BYTES = 512 * 2**20
ENV_DISABLE = "NOWCAST_NO_FUNCTION_CACHE"  # set to anything but "" or "0": never cache


class _Unknown(Exception):
    """Something in the graph can only be told apart by its identity."""


def cache_dir() -> Path:
    """Where the entries live: PyTensor's compile directory, beside its own caches."""
    from pytensor import config

    return Path(config.compiledir) / "nowcast_functions"


def enabled() -> bool:
    return os.environ.get(ENV_DISABLE, "") in ("", "0")


def graph_digest(outputs: Sequence[Any], extra: object = ()) -> str | None:
    """A digest of the graph computing ``outputs`` (and of ``extra``, a value described the
    same way) that is equal across processes exactly when the graphs are; None when the graph
    holds something known only by its identity."""
    try:
        text = repr((_describe(list(outputs)), _value(extra), _versions()))
    except _Unknown as exc:
        log.debug("graph not cacheable: %s", exc)
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def cached[T](digest: str | None, build: Callable[[], T]) -> tuple[T, bool]:
    """What ``build`` returns, taken from the disk cache under ``digest`` when an entry is
    there; else built, stored and (so that every process uses the same unpickled form, whose
    generated code PyTensor caches under its own key) read back. The second value says
    whether it came from the cache."""
    if digest is None or not enabled():
        return build(), False
    path = cache_dir() / f"{digest}.pkl"
    if path.exists():
        try:
            with path.open("rb") as fh:
                value = pickle.load(fh)  # noqa: S301 - this user's own cache directory
            os.utime(path)  # recently used: kept longest
            return value, True
        except Exception as exc:  # noqa: BLE001 - a bad entry is rebuilt, never an error
            log.warning("function cache entry %s unreadable (%s): rebuilt", path.name, exc)
            path.unlink(missing_ok=True)
    value = build()
    try:
        drop_node_caches(value)
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        value = pickle.loads(data)  # noqa: S301 - bytes made just above
    except Exception as exc:  # noqa: BLE001 - not picklable: used as built, not cached
        log.info("function not cacheable (%s)", exc)
        return value, False
    _store(path, data)
    return value, False


def drop_node_caches(value: object) -> None:
    """Forget what the compiled functions in ``value`` cache on their graphs' nodes and
    rebuild when linked: a vectorised node's NumPy gufunc is a local closure pickle cannot
    take (PyTensor's Blockwise builds it again when it is missing)."""
    from pytensor.compile.executor import Function

    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if isinstance(item, Function):
            for node in item.maker.fgraph.apply_nodes:
                if hasattr(node.tag, "gufunc"):
                    del node.tag.gufunc


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        entries = sorted(path.parent.glob("*.pkl"), key=lambda p: -p.stat().st_mtime)
        total = 0
        for entry in entries:  # newest first
            total += entry.stat().st_size
            if total > MAX_BYTES and entry != path:
                entry.unlink(missing_ok=True)
    except OSError as exc:  # a read-only or full disk: nothing cached, nothing broken
        log.info("function cache not written (%s)", exc)


def _versions() -> tuple:
    import numba
    import pymc
    import pytensor

    return (CACHE_VERSION, sys.version, np.__version__, pytensor.__version__, pymc.__version__,
            numba.__version__)  # fmt: skip


# --------------------------------------------------------------------------- descriptions


def _describe(outputs: list[Any], inputs: list[Any] | None = None) -> tuple:
    """The graph from ``inputs`` (default: every root) to ``outputs``, node by node in
    topological order, each variable by its position."""
    from pytensor.graph.traversal import graph_inputs, io_toposort

    index: dict[Any, int] = {}
    roots = []
    for v in inputs if inputs is not None else graph_inputs(outputs):
        index[v] = len(index)
        roots.append(_root(v, inner=inputs is not None))
    nodes = []
    for node in io_toposort(list(index), outputs):
        for out in node.outputs:
            index[out] = len(index)
        nodes.append(
            (
                _op(node.op),
                # a constant an inner graph uses without listing it as an input: by value
                tuple(
                    index[i] if i in index else ("orphan", _root(i, inner=True))
                    for i in node.inputs
                ),
                tuple(str(o.type) for o in node.outputs),
            )
        )
    return tuple(roots), tuple(nodes), tuple(index[o] for o in outputs)


def _root(v: Any, inner: bool) -> tuple:
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.tensor.random.type import RandomType

    if isinstance(v, Constant):
        return ("const", str(v.type), _value(v.data))
    if isinstance(v, SharedVariable):
        if isinstance(v.type, RandomType):  # a generator: its state is no part of a density
            return ("rng", str(v.type))
        return ("shared", v.name, str(v.type), _value(v.get_value(borrow=True)))
    return ("input", None if inner else v.name, str(v.type))


def _op(op: Any) -> tuple:
    cls = (type(op).__module__, type(op).__qualname__)
    props = getattr(op, "__props__", None)
    if props is not None:
        return (*cls, tuple((p, _value(getattr(op, p))) for p in props))
    inner = getattr(op, "fgraph", None)
    if inner is None:
        text = repr(op)
        if " at 0x" in text:
            raise _Unknown(f"op {text}")
        return (*cls, text)
    # an op with an inner graph (PyMC's symbolic random variables, Scan): the graph and its
    # plain settings; equality of such ops is identity in PyTensor, so nothing else tells them
    settings = tuple(
        sorted(
            (k, _value(v))
            for k, v in vars(op).items()
            if not k.startswith("_") and isinstance(v, str | int | float | bool | tuple | None)
        )
    )
    return (*cls, _value(inner), settings, _value(getattr(op, "info", None)))


def _value(x: Any) -> object:
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.op import Op

    if x is None or isinstance(x, str | bool | int | float | complex | np.generic):
        return repr(x)
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            return ("objects", x.shape, tuple(_value(i) for i in x.ravel()))
        data = np.ascontiguousarray(x)
        return ("array", data.dtype.str, data.shape, hashlib.sha256(data.tobytes()).hexdigest())
    if isinstance(x, tuple | list):
        return (type(x).__name__, tuple(_value(i) for i in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((repr(k), _value(v)) for k, v in x.items())))
    if isinstance(x, Op):
        return _op(x)
    if isinstance(x, FunctionGraph):
        return ("fgraph", _describe(list(x.outputs), list(x.inputs)))
    text = repr(x)
    if " at 0x" in text:
        raise _Unknown(f"value {text}")
    return (type(x).__module__, type(x).__qualname__, text)
