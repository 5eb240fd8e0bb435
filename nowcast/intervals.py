"""One interval summary for every stage: posterior months, forecast paths and report tables
all carry the same columns, so a CSV from one can be read with the names of another.

Columns: ``mean``, ``median``, then ``lower_<k>`` and ``upper_<k>`` for each central
(equal-tailed) interval of probability ``k``% (``lower_50, upper_50, lower_80, ...``).
Quantiles are NumPy's default (linear interpolation), which is also xarray's.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.errors import NowcastError

PROBS: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)


def percent(prob: float) -> int:
    """``0.8`` -> ``80``: the label an interval's columns carry."""
    return round(prob * 100)


def interval_columns(probs: Sequence[float] = PROBS) -> list[str]:
    """The column names ``interval_summary`` returns for ``probs``, in order."""
    cols = ["mean", "median"]
    for p in probs:
        cols += [f"lower_{percent(p)}", f"upper_{percent(p)}"]
    return cols


def interval_summary(
    samples: xr.DataArray,
    sample_dims: Hashable | Sequence[Hashable],
    probs: Sequence[float] = PROBS,
) -> pd.DataFrame:
    """Mean, median and central ``probs`` intervals of ``samples`` over ``sample_dims``.

    One row per element of the remaining dims (indexed by their coordinates; one row when
    none remain), columns as ``interval_columns(probs)``. Units are those of ``samples``.
    """
    dims = [sample_dims] if isinstance(sample_dims, str) else list(sample_dims)
    missing = [d for d in dims if d not in samples.dims]
    if missing:
        raise NowcastError(
            f"cannot summarise {samples.name or 'samples'}: no dim {missing}"
            f" (its dims are {list(samples.dims)})"
        )
    bad = [p for p in probs if not 0 < p < 1]
    if bad:
        raise NowcastError(f"interval probabilities must lie strictly between 0 and 1: {bad}")
    rest = [d for d in samples.dims if d not in dims]
    # sample dims last, flattened into one axis: one row of draws per remaining element
    x = samples.transpose(*rest, *dims)
    n = int(np.prod([x.sizes[d] for d in dims]))
    values = np.asarray(x.values, dtype=float).reshape(-1, n)
    qs = sorted({0.5, *[(1 - p) / 2 for p in probs], *[(1 + p) / 2 for p in probs]})
    q = dict(zip(qs, np.quantile(values, qs, axis=1), strict=True))
    out = {"mean": values.mean(axis=1), "median": q[0.5]}
    for p in probs:
        out[f"lower_{percent(p)}"] = q[(1 - p) / 2]
        out[f"upper_{percent(p)}"] = q[(1 + p) / 2]
    if not rest:
        index: pd.Index = pd.RangeIndex(1)
    elif len(rest) == 1:
        index = x.indexes[rest[0]] if rest[0] in x.indexes else pd.RangeIndex(x.sizes[rest[0]])
        index = index.rename(rest[0])
    else:
        index = pd.MultiIndex.from_product(
            [x[d].values if d in x.coords else range(x.sizes[d]) for d in rest], names=rest
        )
    return pd.DataFrame(out, index=index)
