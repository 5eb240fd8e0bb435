"""Every figure in a run's data is either used by the model or listed, with the reason, as
not used (the report's table and ``unused_figures.csv``): nothing is silently ignored."""

from __future__ import annotations

import pandas as pd
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
    # the regional file's figures have no equation yet, and the report says so
    regional = unused[unused["series"].str.startswith("regional_")]
    assert len(regional) > 0
    assert regional["reason"].str.contains("no kind of evidence reads").all()
    # other countries' CBECI shares are read for Russia only
    foreign = unused[(unused["series"] == "hashrate_share") & (unused["region"] != "RU")]
    assert len(foreign) and foreign["reason"].str.contains("only for the areas").all()
