"""Published figures (estimates of Russian mining by officials, industry and the press) against
what the posterior says about the same quantity.

``published_figures`` is the one place this is computed; the table and the chart read only its
DataFrame (``block``, ``quantity``, ``unit`` and the numbers), so a new kind of evidence shows
up in the report without touching them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.forecast import SAMPLE
from nowcast.identify import spec_of
from nowcast.model.data import Block, prepare

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

# published estimates compared with the posterior: block -> (what, unit)
_BLOCKS = {
    "share_estimates": ("Russia's share of the network hashrate", "%"),
    "power_gw": ("Russia's mining power", "GW"),
    "load_mw": ("regional mining load", "MW"),
    "mining_twh": ("Russia's mining electricity", "TWh"),
    "btc_mined": ("BTC mined in Russia", "BTC"),
    "mining_revenue": ("Russia's mining revenue", "USD bn"),
}


def figure_status(outside: bool, outside_predictive: bool) -> str:
    """Where a published figure lies: inside the posterior interval of its quantity, outside
    it but inside the predictive interval (which adds the estimates' error), or outside both.
    """
    if outside_predictive:
        return OUTSIDE_PREDICTIVE
    return OUTSIDE_POSTERIOR if outside else INSIDE


def _weights_mean(w: np.ndarray) -> np.ndarray:
    return w / w.sum(axis=1, keepdims=True)


def published_figures(tree: xr.DataTree, prob: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Each published estimate the model's evidence holds, against the posterior of the same
    quantity (its central ``prob`` interval) and the posterior predictive interval (the same
    quantity with the estimates' shared log-scale error ``estimate_log_sd``), one row each with
    the columns in ``COLUMNS``; ``quantity`` and ``unit`` label the row.

    The quantities are those the likelihood compares: share = logistic of the period mean of
    the share's logit; power = period mean of ``mining_power_gw``; load = period mean of the
    region's share of that power x 1e3; electricity, BTC mined and revenue = period sums."""
    spec = spec_of(tree)
    data = prepare(tree["panel"].to_dataset(), spec)
    post = tree["posterior"]
    months = pd.DatetimeIndex(post[MONTH].values)
    if not months.equals(data.months):
        raise NowcastError(
            "the posterior's months differ from the panel's model window:"
            " the run was not fitted with this spec"
        )

    def p(name: str) -> np.ndarray:
        return post[name].stack({SAMPLE: (CHAIN, DRAW)}).transpose(SAMPLE, ...).values

    power = p("mining_power_gw")
    issuance = data.drivers["issuance_btc"]
    quantity: dict[str, Callable[[Block], np.ndarray]] = {
        "share_estimates": lambda b: (
            1.0 / (1.0 + np.exp(-(p("share_logit") @ _weights_mean(b.weights).T)))
        ),
        "power_gw": lambda b: power @ _weights_mean(b.weights).T,
        "load_mw": lambda b: (
            np.einsum(
                "ot,sot->so",
                _weights_mean(b.weights),
                p("region_share")[:, b.group, :] * power[:, None, :],
            )
            * 1e3
        ),
        "mining_twh": lambda b: (power * data.hours[None, :] * 1e-3) @ b.weights.T,
        "btc_mined": lambda b: (p("hashrate_share") * issuance[None, :]) @ b.weights.T,
        "mining_revenue": lambda b: p("mining_revenue_usd_bn") @ b.weights.T,
    }
    rng = np.random.default_rng(seed)
    sd = p("estimate_log_sd") if "estimate_log_sd" in post else None
    lo_q, hi_q = (1 - prob) / 2, (1 + prob) / 2
    rows = []
    for name, (what, unit) in _BLOCKS.items():
        block = data.blocks.get(name)
        if block is None or not block.n:
            continue
        q = quantity[name](block)  # (sample, obs)
        if sd is not None:
            z = sd[:, None] * rng.standard_normal(q.shape)
            if name == "share_estimates":
                pred = 1.0 / (1.0 + np.exp(-(np.log(q / (1 - q)) + z)))
            else:
                pred = q * np.exp(z)
        else:
            pred = q
        scale = 100.0 if name == "share_estimates" else 1.0
        for i, lab in block.labels.iterrows():
            lo, med, hi = np.quantile(q[:, i], (lo_q, 0.5, hi_q)) * scale
            plo, phi = np.quantile(pred[:, i], (lo_q, hi_q)) * scale
            value = float(block.values[i]) * scale
            rows.append(
                {
                    "block": name,
                    "quantity": f"{what} ({lab['region']})" if name == "load_mw" else what,
                    "unit": unit,
                    "region": lab["region"],
                    "observer": lab["observer"],
                    "period_start": lab["period_start"],
                    "period_end": lab["period_end"],
                    "published": lab["published"],
                    "value": value,
                    "posterior_median": med,
                    "lower": lo,
                    "upper": hi,
                    "predictive_lower": plo,
                    "predictive_upper": phi,
                    "outside": bool(value < lo or value > hi),
                    "outside_predictive": bool(value < plo or value > phi),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
