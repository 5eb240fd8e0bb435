"""Every figure in a run's data is either used by the model or listed, with the reason, as
not used (the report's table and ``unused_figures.csv``): nothing is silently ignored."""

from __future__ import annotations

import pandas as pd
import xarray as xr
from test_report import fitted_run

from nowcast.fit import load_run
from nowcast.model.evidence import REGISTRY
from nowcast.model.published import block_from_run, unused_figures

KEY = ["series", "region", "observer", "period_start", "period_end"]


def test_every_figure_is_used_or_listed_with_a_reason(tmp_path_factory):
    tree = load_run(fitted_run(tmp_path_factory))
    panel = tree["panel"].to_dataset()
    figures = pd.DataFrame(
        {
            "series": panel["obs_series"].values.astype(str),
            "region": panel["obs_region"].values.astype(str),
            "observer": panel["obs_observer"].values.astype(str),
            "period_start": pd.to_datetime(panel["obs_period_start"].values),
            "period_end": pd.to_datetime(panel["obs_period_end"].values),
        }
    )
    used = pd.concat(
        [
            block_from_run(tree, k).labels[KEY]
            for k in REGISTRY
            if block_from_run(tree, k) is not None
        ]
    ).assign(
        period_start=lambda d: pd.to_datetime(d["period_start"]),
        period_end=lambda d: pd.to_datetime(d["period_end"]),
    )
    unused = unused_figures(tree)
    assert unused["reason"].str.len().gt(0).all()
    listed = set(map(tuple, unused[KEY].astype(object).values.tolist()))
    in_model = set(map(tuple, used.astype(object).values.tolist()))
    every = set(map(tuple, figures.astype(object).values.tolist()))
    assert listed.isdisjoint(in_model)
    assert every <= listed | in_model
    # the regional file: the regions', the energy systems' and the country's changes are used
    # (the 2025 ones among them); an energy system's level is in another definition of the
    # national total, a region the spec leaves in a rest is no sum over the units: both listed
    yoy = block_from_run(tree, "electricity_yoy").labels
    assert {"RU-IRK", "UES-RU", "OES-SIBERIA", "RU-BU"} <= set(yoy["region"])
    assert (pd.to_datetime(yoy["period_start"]) == "2025-01-01").any()
    regional = unused[unused["series"].str.startswith("regional_")]
    rostov = regional[regional["region"] == "RU-ROS"]
    assert len(rostov) and rostov["reason"].str.contains("no sum over the model's units").all()
    # balance-of-payments items other than errors and omissions have no equation
    current = unused[unused["series"] == "bop_current_account_usd_bn"]
    assert len(current) and current["reason"].str.contains("no kind of evidence reads").all()


def _with_figures(tree, rows: list[dict]):
    """The run with extra figures in its panel (not in its evidence: the model never saw
    them), to check the reasons given for them."""
    panel = tree["panel"].to_dataset()
    n = panel.sizes["period_obs"]
    extra = panel.isel(period_obs=[0] * len(rows)).assign_coords(period_obs=range(n, n + len(rows)))
    for field in ("series", "region", "observer"):
        extra = extra.assign_coords({f"obs_{field}": ("period_obs", [r[field] for r in rows])})
    for field in ("period_start", "period_end"):
        extra = extra.assign_coords(
            {f"obs_{field}": ("period_obs", pd.to_datetime([r[field] for r in rows]))}
        )
    out = tree.copy()
    both = xr.concat([panel, extra], dim="period_obs", data_vars="minimal", coords="minimal")
    out["panel"] = xr.DataTree(both)
    return out


def test_reasons_name_what_the_model_lacks(tmp_path_factory):
    tree = load_run(fitted_run(tmp_path_factory))
    start = pd.Timestamp(tree["panel"]["month"].values[3])
    end = start + pd.offsets.MonthEnd(0)
    rows = [
        # a region the model does not model, of a series it reads for its regions
        {"series": "electricity_consumption_mln_kwh", "region": "RU-TVE", "observer": "x"},
        # another country's share: the model reads the share for Russia only
        {"series": "hashrate_share", "region": "CN", "observer": "y"},
        # a series nothing reads
        {"series": "tea_consumption_kg", "region": "RU", "observer": "z"},
    ]
    for r in rows:
        r.update(period_start=start, period_end=end)
    unused = unused_figures(_with_figures(tree, rows)).set_index(["series", "region"])
    assert (
        "RU-TVE is not one of the model's regions"
        in unused.loc[("electricity_consumption_mln_kwh", "RU-TVE"), "reason"]
    )
    assert (
        "only for the areas and publishers it models"
        in unused.loc[("hashrate_share", "CN"), "reason"]
    )
    assert (
        "no kind of evidence reads tea_consumption_kg"
        in unused.loc[("tea_consumption_kg", "RU"), "reason"]
    )
