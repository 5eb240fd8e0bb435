"""A fitted run's evidence, read back through the registry: each kind's figures as the model
saw them (the run's ``evidence`` group) and the published figures against the model's own
predictions of them (``predicted_<kind>``) and their posterior predictive. Nothing here
rebuilds or re-derives the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.model.data import Block, ModelData
from nowcast.model.evidence import REGISTRY, EvidenceKind

EVIDENCE_GROUP = "evidence"
PREDICTIVE_PROB = 0.9


def evidence_dataset(data: ModelData) -> xr.Dataset:
    """Each kind's figures with their periods, labels and aggregation weights, for the run's
    ``evidence`` group: what the report needs to set figures against the posterior."""
    ds = xr.Dataset(coords={MONTH: data.months})
    for name, b in data.blocks.items():
        if not b.n or name not in REGISTRY:
            continue
        dim = REGISTRY[name].dim
        ds[f"{name}__value"] = (dim, b.values.astype(float))
        ds[f"{name}__weights"] = ((dim, MONTH), b.weights.astype(float))
        ds[f"{name}__group"] = (dim, np.asarray(b.group if len(b.group) else np.zeros(b.n), int))
        for col in ("series", "region", "observer"):
            ds[f"{name}__{col}"] = (dim, b.labels[col].astype(str).to_numpy().astype(str))
        for col in ("period_start", "period_end", "published"):
            ds[f"{name}__{col}"] = (dim, pd.to_datetime(b.labels[col]).to_numpy())
    return ds


def block_from_run(tree: xr.DataTree, name: str) -> Block | None:
    """One kind's block as the run saw it (``None`` when the run had no such figures)."""
    if EVIDENCE_GROUP not in tree.children:
        return None
    ev = tree[EVIDENCE_GROUP].to_dataset()
    if f"{name}__value" not in ev:
        return None
    labels = pd.DataFrame(
        {
            col: ev[f"{name}__{col}"].values
            for col in (
                "series",
                "region",
                "observer",
                "period_start",
                "period_end",
                "published",
            )
        }
    )
    labels["value"] = ev[f"{name}__value"].values
    return Block(
        values=ev[f"{name}__value"].values,
        weights=ev[f"{name}__weights"].values,
        labels=labels,
        group=ev[f"{name}__group"].values.astype(int),
    )


@dataclass
class _Draws(Mapping[str, np.ndarray]):
    """Posterior draws by name, flattened to (sample, 1) so they broadcast over figures."""

    post: xr.Dataset
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            self.cache[name] = self.post[name].values.reshape(-1, 1)
        return self.cache[name]

    def __iter__(self):
        return iter(self.post.data_vars)

    def __len__(self) -> int:
        return len(self.post.data_vars)


def predictive_draws(
    kind: EvidenceKind,
    predicted: np.ndarray,
    params: Mapping[str, np.ndarray],
    block: Block,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of the published figure itself (sample, figure): the prediction with the
    kind's own observation error added, on the figure's scale."""
    obs = kind.observation
    sigma = np.broadcast_to(obs.sigma(params, block, np), predicted.shape)
    if obs.family == "student_t":
        nu = np.broadcast_to(obs.nu(params), predicted.shape)
        noise = rng.standard_t(nu)
    else:
        noise = rng.standard_normal(predicted.shape)
    return obs.from_scale(obs.to_scale(predicted, np) + sigma * noise, np)


def published_figures(
    tree: xr.DataTree, prob: float = PREDICTIVE_PROB, seed: int = 0
) -> pd.DataFrame:
    """Every published figure the run's evidence held, against the posterior of the quantity the
    model predicts for it (central ``prob`` interval) and its posterior predictive (the same
    quantity with that kind's observation error).

    Reads the saved run only: the model's ``predicted_<kind>`` draws, the error parameters'
    draws and the ``evidence`` group. Columns: block, quantity, unit, region, observer,
    period_start, period_end, published, value, posterior_median, lower, upper,
    predictive_lower, predictive_upper, outside, outside_predictive (values in the display
    unit: shares in %)."""
    post = tree["posterior"].to_dataset()
    params = _Draws(post)
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - prob) / 2, (1 + prob) / 2
    rows = []
    for kind in REGISTRY.values():
        if not kind.published or kind.predicted_name not in post:
            continue
        block = block_from_run(tree, kind.name)
        if block is None:
            continue
        pred = post[kind.predicted_name].stack(sample=(CHAIN, DRAW)).transpose("sample", ...)
        pred = pred.values
        predictive = predictive_draws(kind, pred, params, block, rng)
        k = kind.display_scale
        lo, med, hi = np.quantile(pred, (lo_q, 0.5, hi_q), axis=0) * k
        plo, phi = np.quantile(predictive, (lo_q, hi_q), axis=0) * k
        for i, lab in block.labels.iterrows():
            value = float(block.values[i]) * k
            what = f"{kind.label} ({lab['region']})" if kind.regional else kind.label
            rows.append(
                {
                    "block": kind.name,
                    "quantity": what,
                    "unit": kind.display_unit or kind.unit,
                    "region": lab["region"],
                    "observer": lab["observer"],
                    "period_start": pd.Timestamp(lab["period_start"]),
                    "period_end": pd.Timestamp(lab["period_end"]),
                    "published": pd.Timestamp(lab["published"]),
                    "value": value,
                    "posterior_median": med[i],
                    "lower": lo[i],
                    "upper": hi[i],
                    "predictive_lower": plo[i],
                    "predictive_upper": phi[i],
                    "outside": bool(value < lo[i] or value > hi[i]),
                    "outside_predictive": bool(value < plo[i] or value > phi[i]),
                }
            )
    return pd.DataFrame(rows)
