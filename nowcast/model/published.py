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

from nowcast.constants import CHAIN, DRAW, MONTH, REGION
from nowcast.model.data import Block, ModelData
from nowcast.model.evidence import REGISTRY, EvidenceKind

EVIDENCE_GROUP = "evidence"
DROPPED = "dropped_figure"  # dim of the figures a kind read but could not use
PREDICTIVE_PROB = 0.9


def evidence_dataset(data: ModelData) -> xr.Dataset:
    """Each kind's figures with their periods, labels and aggregation weights, for the run's
    ``evidence`` group: what the report needs to set figures against the posterior."""
    ds = xr.Dataset(coords={MONTH: data.months, REGION: data.regions})
    if len(data.dropped):
        d = data.dropped
        for col in ("series", "region", "observer", "reason"):
            ds[f"dropped__{col}"] = (DROPPED, d[col].astype(str).to_numpy().astype(str))
        for col in ("period_start", "period_end"):
            ds[f"dropped__{col}"] = (DROPPED, pd.to_datetime(d[col]).to_numpy())
    for name, b in data.blocks.items():
        if not b.n or name not in REGISTRY:
            continue
        dim = REGISTRY[name].dim
        ds[f"{name}__value"] = (dim, b.values.astype(float))
        ds[f"{name}__weights"] = ((dim, MONTH), b.weights.astype(float))
        if b.units.size:
            ds[f"{name}__units"] = ((dim, REGION), b.units.astype(float))
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
    units = np.zeros((0, 0))
    if f"{name}__units" in ev:
        units = ev[f"{name}__units"].values
    elif f"{name}__group" in ev and REGISTRY[name].regional:
        # runs saved before areas: each figure was about one modelled region
        units = np.eye(len(tree["posterior"][REGION]))[ev[f"{name}__group"].values.astype(int)]
    return Block(
        values=ev[f"{name}__value"].values,
        weights=ev[f"{name}__weights"].values,
        labels=labels,
        units=units,
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
                    # a lower bound is missed only when the quantity stays below it
                    "outside": bool(
                        value > hi[i] or (value < lo[i] and not kind.observation.lower_bound)
                    ),
                    "outside_predictive": bool(
                        value > phi[i] or (value < plo[i] and not kind.observation.lower_bound)
                    ),
                }
            )
    return pd.DataFrame(rows)


def unused_figures(tree: xr.DataTree) -> pd.DataFrame:
    """Every published figure in the run's panel that the model did not use, with why: the
    report lists them, so nothing in the data is silently ignored. Reads the run only (its
    panel, spec and ``evidence`` group). Columns: series, region, observer, period_start,
    period_end, published, value, reason."""
    from nowcast.model.evidence import PanelView
    from nowcast.model.spec import spec_of

    panel = tree["panel"].to_dataset()
    spec = spec_of(tree)
    figures = pd.DataFrame(
        {
            "series": panel["obs_series"].values.astype(str),
            "region": panel["obs_region"].values.astype(str),
            "observer": panel["obs_observer"].values.astype(str),
            "period_start": pd.to_datetime(panel["obs_period_start"].values),
            "period_end": pd.to_datetime(panel["obs_period_end"].values),
            "published": pd.to_datetime(panel["obs_published"].values),
            "value": panel["obs_value"].values.astype(float),
        }
    )
    columns = [*figures.columns, "reason"]
    if figures.empty:
        return pd.DataFrame(columns=columns)
    key = ["series", "region", "observer", "period_start", "period_end"]
    used = set()
    dropped: dict[tuple, str] = {}
    if EVIDENCE_GROUP in tree.children:
        ev = tree[EVIDENCE_GROUP].to_dataset()
        if "dropped__reason" in ev:
            cols = {k: ev[f"dropped__{k}"].values for k in (*key, "reason")}
            for i in range(len(cols["reason"])):
                k = tuple(
                    pd.Timestamp(cols[c][i]) if c.startswith("period") else str(cols[c][i])
                    for c in key
                )
                dropped[k] = str(cols["reason"][i])
    for kind in REGISTRY.values():
        block = block_from_run(tree, kind.name)
        if block is not None:
            lab = block.labels.assign(
                period_start=pd.to_datetime(block.labels["period_start"]),
                period_end=pd.to_datetime(block.labels["period_end"]),
            )
            used |= set(map(tuple, lab[key].astype(object).values.tolist()))
    mine = PanelView(
        figures["series"].to_numpy(),
        figures["region"].to_numpy(),
        figures["observer"].to_numpy(),
        list(spec.regions),
    )
    everywhere = PanelView(mine.series, mine.region, mine.observer, sorted(set(figures["region"])))
    start = max(pd.Timestamp(spec.start), pd.Timestamp(panel[MONTH].values[0]))
    on = [k for k in REGISTRY.values() if spec.uses(k.switch)]
    off = [k for k in REGISTRY.values() if not spec.uses(k.switch)]
    chosen = _any(on, mine)
    switched_off = {i: k for k in off for i in np.nonzero(k.candidates(mine))[0]}
    elsewhere = _any(on, everywhere)
    read = set(figures["series"][_any(list(REGISTRY.values()), everywhere)])
    rows = []
    for i, fig in enumerate(figures.itertuples(index=False)):
        this = tuple(getattr(fig, k) for k in key)
        if this in used:
            continue
        if this in dropped:
            why = dropped[this]
        elif fig.period_start < start:
            why = f"begins before the model's window (from {start:%Y-%m})"
        elif chosen[i]:
            why = (
                "overlaps another figure of the same flow: the model takes one figure per"
                " period (preferring quarters) so that one flow is not counted twice"
            )
        elif i in switched_off:
            kind = switched_off[i]
            why = f"its kind of evidence ({kind.label}) is switched off in spec {spec.name}"
        elif elsewhere[i]:
            why = (
                f"region {fig.region} is not one of the model's regions ({', '.join(spec.regions)})"
            )
        elif fig.series in read:
            why = (
                f"the model reads {fig.series} only for the areas and publishers it models;"
                f" {fig.region} ({fig.observer}) is not one of them"
            )
        else:
            why = f"no kind of evidence reads {fig.series}: the model has no equation for it yet"
        rows.append({**fig._asdict(), "reason": why})
    return pd.DataFrame(rows, columns=columns)


def _any(kinds: list[EvidenceKind], view: object) -> np.ndarray:
    out = np.zeros(len(view.series), dtype=bool)  # type: ignore[attr-defined]
    for kind in kinds:
        out |= kind.candidates(view)  # type: ignore[arg-type]
    return out
