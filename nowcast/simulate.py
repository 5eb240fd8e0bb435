"""The simulator: datasets drawn from the model's own generative story, with known truth.

One joint draw from the prior of the default spec (parameters, latent share, power, regional
electricity, hidden inflow) and of every observation, plus ``truth.csv``. Drivers are written in
their publishers' own formats; every kind of evidence of the registry
(``nowcast.model.evidence``) as a generic long CSV of its panel series, so a new kind of
evidence is simulated with no change here. ``nowcast ingest-dir`` reads the folder like real
data.

By default the evidence has the real data's availability (which months, years and quarters
each source published, the sparse published estimates), so calibration speaks about the real
situation. ``rich=True`` adds what more data would buy: monthly consumption of every modelled
region and a monthly hashrate-share series for every month.

Drivers (on-chain data, Brent, the key rate) are the real published figures of the window,
copied: the model treats them as known. Everything else is drawn. Every folder carries
``SIMULATED.txt``, so the store marks all of it SIMULATED.

The cost of electricity is converted at the month's USD/RUB, which the ruble equation itself
moves; the draw is made consistent by a fixed-point iteration on the simulated rate path (the
random numbers are held fixed; the inflow's effect on the rate is small, so it converges in a
few rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm

from nowcast.constants import RUSSIA
from nowcast.datasets import bundled_data_dir, read_manifest
from nowcast.errors import NowcastError
from nowcast.files import write_csv, write_text
from nowcast.fit import FORWARD_COMPILE, quiet_pymc
from nowcast.model.build import build_model
from nowcast.model.data import CBECI_OBSERVER, ModelData, prepare
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import ModelSpec, load_spec
from nowcast.panel import panel_from_observations
from nowcast.sources import get_source
from nowcast.store import SIMULATED_MARKER

DRIVER_FILES = {
    "coinmetrics_btc_daily.csv": "coinmetrics",
    "cbr_key_rate_daily.csv": "cbr_key_rate",
    "brent_monthly_eia.csv": "eia_brent_monthly",
}
SIM_NOTE = "SIMULATED by nowcast simulate"


@dataclass
class Simulation:
    out_dir: Path
    truth: pd.DataFrame
    data: ModelData
    parameters: dict[str, np.ndarray]  # every drawn quantity, by model variable name


def _real_observations(data_dir: Path) -> pd.DataFrame:
    manifest = read_manifest(data_dir)
    return pd.concat(
        [get_source(src).load(data_dir / name) for name, src in manifest.items()],
        ignore_index=True,
    )


def _rich_rows(months: pd.DatetimeIndex, spec: ModelSpec) -> pd.DataFrame:
    """Placeholder rows (values are drawn later) for monthly regional consumption and a
    monthly share series in every month."""
    ends = months + pd.offsets.MonthEnd(0)
    rows = []
    for r in spec.regions:
        rows.append(
            pd.DataFrame(
                {
                    "series": "electricity_consumption_mln_kwh",
                    "region": r,
                    "observer": "SIMULATED monthly regional table",
                    "unit": "million kWh",
                }
                | {"period_start": months, "period_end": ends}
            )
        )
    rows.append(
        pd.DataFrame(
            {
                "series": "hashrate_share",
                "region": RUSSIA,
                "observer": CBECI_OBSERVER,
                "unit": "fraction",
                "period_start": months,
                "period_end": ends,
            }
        )
    )
    out = pd.concat(rows, ignore_index=True)
    return out.assign(value=0.5, published=out["period_end"], note=SIM_NOTE)


def _draw(model: pm.Model, seed: int) -> dict[str, np.ndarray]:
    # the model's random variables and latent quantities; the noiseless predictions of the
    # figures (``predicted_<kind>``) are superseded by the drawn figures themselves, and
    # leaving them out keeps a seed's dataset the same as before the registry added them
    predicted = {k.predicted_name for k in REGISTRY.values()}
    names = [v.name for v in model.basic_RVs] + [
        v.name for v in model.deterministics if v.name not in predicted
    ]
    with quiet_pymc():
        tree = pm.sample_prior_predictive(
            draws=1,
            model=model,
            random_seed=seed,
            var_names=names,
            compile_kwargs=FORWARD_COMPILE,
        )
    out = {}
    for group in ("prior", "prior_predictive"):
        ds = tree[group].to_dataset()
        out.update({k: ds[k].values[0, 0] for k in ds.data_vars})
    return out


def simulate(
    out_dir: str | Path,
    *,
    seed: int,
    months: int = 120,
    start: str | None = None,
    rich: bool = False,
    spec: ModelSpec | None = None,
    data_dir: Path | None = None,
) -> Simulation:
    """Draw one dataset and write it to ``out_dir`` (publisher formats, ``MANIFEST.toml``,
    ``SIMULATED.txt``, ``truth.csv``). Without ``start`` the window ends at the last month of
    the bundled drivers."""
    spec = spec or load_spec()
    data_dir = data_dir or bundled_data_dir()
    real = _real_observations(data_dir)
    last = real.loc[real.series == "btc_hashrate_th_s", "period_end"].max()
    last_month = (last + pd.Timedelta(days=1)).to_period("M") - 1
    if start is None:
        first = last_month - (months - 1)
    else:
        first = pd.Timestamp(start).to_period("M")
    window = pd.period_range(first, periods=months, freq="M").to_timestamp()
    if window[-1].to_period("M") > last_month:
        raise NowcastError(
            f"window {window[0]:%Y-%m}..{window[-1]:%Y-%m} runs past the real drivers"
            f" (last complete month {last_month})"
        )
    spec = spec.model_copy(update={"start": f"{window[0]:%Y-%m-%d}"})
    template = real
    if rich:
        template = pd.concat([real, _rich_rows(window, spec)], ignore_index=True)
        # one figure per series, region and month: the real one where there is one
        monthly = template["series"].isin(["electricity_consumption_mln_kwh", "hashrate_share"])
        dup = template.duplicated(["series", "region", "period_start", "period_end"]) & monthly
        template = template[~dup]
    panel = panel_from_observations(template, start=window[0], end=window[-1], simulated=True)
    data = prepare(panel, spec)

    # Fixed point on the rate path: draw, rebuild the rate from the drawn changes, redraw.
    usd_rub = data.drivers["usd_rub"].copy()
    for _ in range(6):
        data.drivers["usd_rub"] = usd_rub
        draw = _draw(build_model(spec, data), seed)
        dlog = draw[REGISTRY["usd_rub_dlog"].observed_name]
        new = usd_rub[0] * np.exp(np.concatenate([[0.0], np.cumsum(dlog)]))
        converged = np.max(np.abs(new / usd_rub - 1.0)) < 1e-9
        usd_rub = new
        if converged:
            break
    data.drivers["usd_rub"] = usd_rub

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = pd.DataFrame(
        {
            "month": data.months,
            "hidden_inflow_usd": draw["hidden_inflow_usd"],
            "hashrate_share": draw["hashrate_share"],
            "mining_power_gw": draw["mining_power_gw"],
            "usd_rub_mean": usd_rub,
        }
    )
    _write(out, data, draw, real, window, seed, rich)
    write_csv(truth.assign(month=truth.month.dt.strftime("%Y-%m-%d")), out / "truth.csv")
    return Simulation(out, truth, data, draw)


# --------------------------------------------------------------------------- writing


def _write(
    out: Path,
    data: ModelData,
    draw: dict[str, np.ndarray],
    real: pd.DataFrame,
    window: pd.DatetimeIndex,
    seed: int,
    rich: bool,
) -> None:
    lo, hi = window[0], window[-1] + pd.offsets.MonthEnd(0)
    files: dict[str, str] = {}
    src = bundled_data_dir()

    # drivers: the real published figures of the window, in their own files
    for name, source in DRIVER_FILES.items():
        text = (src / name).read_text(encoding="utf-8").splitlines()
        header, rows = text[0], text[1:]
        date_col = 0
        keep = []
        for line in rows:
            day = pd.Timestamp(line.split(",")[date_col][:10])
            if lo <= day <= hi:
                keep.append(line)
        write_text("\n".join([header, *keep]) + "\n", out / name)
        files[name] = source

    # USD/RUB: the simulated monthly path, as the CBR's calendar-daily CSV export
    days = pd.date_range(lo, hi, freq="D")
    idx = days.to_period("M").map({m.to_period("M"): i for i, m in enumerate(window)})
    fx = pd.DataFrame(
        {
            "date": days.strftime("%Y-%m-%d"),
            "usd_rub_cbr": np.round(data.drivers["usd_rub"][idx], 4),
        }
    )
    write_csv(fx, out / "usd_rub_cbr_daily.csv")
    files["usd_rub_cbr_daily.csv"] = "cbr_usd_rub"

    # every kind of evidence the registry declares, drawn by the model, as generic long CSV
    # rows in the panel's own series and units (one file per kind)
    for kind in REGISTRY.values():
        blk = data.blocks.get(kind.name)
        if not kind.series or blk is None or not blk.n or kind.observed_name not in draw:
            continue
        values = kind.observation.from_scale(draw[kind.observed_name], np)
        values = kind.to_panel(values) if kind.to_panel else values / kind.value_scale
        lab = blk.labels
        df = pd.DataFrame(
            {
                "series": kind.series,
                "period_start": lab.period_start.dt.strftime("%Y-%m-%d"),
                "period_end": lab.period_end.dt.strftime("%Y-%m-%d"),
                "value": [float(f"{v:.6g}") for v in values],
                "unit": kind.series_unit or kind.unit,
                "region": lab.region,
                "published": lab.published.dt.strftime("%Y-%m-%d"),
                "observer": lab.observer,
                "note": SIM_NOTE,
            }
        )
        name = f"evidence_{kind.name}.csv"
        write_csv(df, out / name)
        files[name] = "generic"

    manifest = "# SIMULATED dataset written by `nowcast simulate`\n[files]\n" + "".join(
        f'"{k}" = "{v}"\n' for k, v in files.items()
    )
    write_text(manifest, out / "MANIFEST.toml")
    write_text(
        f"SIMULATED data, drawn by nowcast simulate (seed {seed}, {len(window)} months"
        f" {window[0]:%Y-%m}..{window[-1]:%Y-%m}, {'rich' if rich else 'real'} availability).\n"
        "Drawn: USD/RUB, electricity, hashrate share, published estimates, errors and"
        " omissions. Copied as real published figures: Coin Metrics on-chain data, Brent, the"
        " key rate (the model treats them as known drivers).\n"
        "Every figure ingested from this folder is marked SIMULATED in the store.\n",
        out / SIMULATED_MARKER,
    )
