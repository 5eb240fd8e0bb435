"""Published figures (estimates of Russian mining by officials, industry and the press) against
what the posterior says about the same quantity.

``published_figures`` is the one place this is computed; the table and the chart read only its
DataFrame (``block``, ``quantity``, ``unit`` and the numbers), so a new kind of evidence shows
up in the report without touching them.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from nowcast.model import published as run_evidence

COLUMNS = [
    "block",
    "quantity",
    "unit",
    "region",
    "observer",
    "period_start",
    "period_end",
    "published",
    "value",
    "posterior_median",
    "lower",
    "upper",
    "predictive_lower",
    "predictive_upper",
    "outside",
    "outside_predictive",
]

# What each row of the DataFrame says about its figure, in plain words.
INSIDE = "inside posterior"
OUTSIDE_POSTERIOR = "outside posterior, inside predictive"
OUTSIDE_PREDICTIVE = "outside predictive"


def figure_status(outside: bool, outside_predictive: bool) -> str:
    """Where a published figure lies: inside the posterior interval of its quantity, outside
    it but inside the predictive interval (which adds the estimates' error), or outside both.
    """
    if outside_predictive:
        return OUTSIDE_PREDICTIVE
    return OUTSIDE_POSTERIOR if outside else INSIDE


def published_figures(tree: xr.DataTree, prob: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Each published figure the run's evidence held, against the posterior of the quantity
    the model predicts for it (its central ``prob`` interval) and the posterior predictive
    interval (that quantity with its kind's observation error), one row each with the columns
    in ``COLUMNS``; ``quantity`` and ``unit`` label the row.

    Read from the saved run through the evidence registry
    (``nowcast.model.evidence.published_figures``): the model's own ``predicted_<kind>`` draws,
    never a second copy of its equations."""
    return run_evidence.published_figures(tree, prob=prob, seed=seed).reindex(columns=COLUMNS)
