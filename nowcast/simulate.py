"""The simulator: datasets drawn from the model's own generative story, with known truth.

One joint draw from the prior of the default spec (parameters, latent share, power, regional
electricity, hidden inflow) and of every observation, written in the publishers' own formats so
``nowcast ingest-dir`` reads it like real data, plus ``truth.csv``.

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

from nowcast.constants import RUSSIA, WORLD
from nowcast.datasets import bundled_data_dir, read_manifest
from nowcast.errors import NowcastError
from nowcast.files import write_csv, write_text
from nowcast.fit import FORWARD_COMPILE, quiet_pymc
from nowcast.model.build import build_model
from nowcast.model.data import CBECI_OBSERVER, ModelData, prepare
from nowcast.model.spec import ModelSpec, load_spec
from nowcast.panel import panel_from_observations
from nowcast.regions import region
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
    with quiet_pymc():
        tree = pm.sample_prior_predictive(
            draws=1, model=model, random_seed=seed, compile_kwargs=FORWARD_COMPILE
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
        new = usd_rub[0] * np.exp(np.concatenate([[0.0], np.cumsum(draw["obs_usd_rub_dlog"])]))
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


def _period_type(start: pd.Timestamp, end: pd.Timestamp) -> str:
    if start.month == 1 and start.day == 1 and end.month == 12 and end.day == 31:
        return "year"
    if start.to_period("M") == end.to_period("M"):
        return "month"
    return "ytd"


def _write(
    out: Path,
    data: ModelData,
    draw: dict[str, np.ndarray],
    real: pd.DataFrame,
    window: pd.DatetimeIndex,
    seed: int,
    rich: bool,
) -> None:
    B = data.blocks
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

    # CBECI map: Russia and the rest of the world, shares summing to 100%
    b = B["cbeci_share"]
    if b.n:
        share = 1.0 / (1.0 + np.exp(-draw["obs_cbeci_share_logit"]))
        hr = data.drivers["hashrate_eh_s"]
        rows = []
        for (_, lab), s in zip(b.labels.iterrows(), share, strict=True):
            t = data.months.get_loc(lab.period_start)
            for country, v in (("Russian Federation", s), ("Other", 1.0 - s)):
                rows.append(
                    {
                        "date": f"{lab.period_start:%Y-%m-%d}",
                        "country": country,
                        "monthly_hashrate_%": f"{100 * v:.2f}%",
                        "monthly_absolute_hashrate_EH/S": round(v * hr[t], 2),
                    }
                )
        # rounding to 2 decimals must still sum to 100: give the residual to Other
        df = pd.DataFrame(rows)
        write_csv(df, out / "cbeci_mining_countries.csv")
        files["cbeci_mining_countries.csv"] = "cbeci_mining_map"

    # electricity: regional figures as the System Operator's points
    rows = []
    reg = B["electricity_regional"]
    for (_, lab), v in zip(
        reg.labels.iterrows(), draw.get("obs_electricity_regional_twh", []), strict=False
    ):
        rows.append(
            {
                "area": region(lab.region).name,
                "period_start": f"{lab.period_start:%Y-%m-%d}",
                "period_end": f"{lab.period_end:%Y-%m-%d}",
                "period_type": _period_type(lab.period_start, lab.period_end),
                "consumption_mln_kwh": round(float(v) * 1e3, 1),
                "attributed_to": lab.observer,
                "relayed_by_url": "",
                "note": SIM_NOTE,
            }
        )
    if rows:
        write_csv(pd.DataFrame(rows), out / "electricity_published_points.csv")
        files["electricity_published_points.csv"] = "so_ups_points"

    nat = B["electricity_national"]
    if nat.n:
        demand = np.round(draw["obs_electricity_national_twh"], 3)
        years = nat.labels.period_start.dt.year.to_numpy()
        df = pd.DataFrame(
            {
                "country": "Russia",
                "year": years,
                "iso_code": "RUS",
                "electricity_demand": demand,
                "electricity_generation": np.round(demand + 15.0, 3),
                "net_elec_imports": -15.0,
                "electricity_demand_per_capita": "",
                "population": "",
            }
        )
        write_csv(df, out / "electricity_russia_yearly_ember.csv")
        files["electricity_russia_yearly_ember.csv"] = "ember_yearly"

    # published estimates, with the units of data/published_estimates.csv
    est = []
    spec_rows = [
        ("share_estimates", "hashrate_share", "fraction", lambda x: 1 / (1 + np.exp(-x))),
        ("power_gw", "mining_power_gw", "GW", np.exp),
        ("load_mw", "mining_load_mw", "MW", np.exp),
        ("mining_twh", "mining_electricity_twh", "TWh", np.exp),
        ("btc_mined", "btc_mined_btc", "BTC", np.exp),
        ("mining_revenue", "mining_revenue_usd_bn", "USD bn", np.exp),
    ]
    for block, series, unit, inv in spec_rows:
        blk = B[block]
        if not blk.n:
            continue
        vals = inv(draw[f"obs_{block}"])
        for (_, lab), v in zip(blk.labels.iterrows(), vals, strict=True):
            est.append(
                {
                    "series": series,
                    "region": lab.region,
                    "period_start": f"{lab.period_start:%Y-%m-%d}",
                    "period_end": f"{lab.period_end:%Y-%m-%d}",
                    "value": float(f"{v:.6g}"),
                    "unit": unit,
                    "publisher": lab.observer,
                    "published": f"{lab.published:%Y-%m-%d}",
                    "url": "",
                    "note": SIM_NOTE,
                }
            )
    if est:
        write_csv(pd.DataFrame(est), out / "published_estimates.csv")
        files["published_estimates.csv"] = "published_estimates"

    # errors and omissions, as a generic long CSV with release dates
    eo = B["errors_omissions"]
    if eo.n:
        df = pd.DataFrame(
            {
                "series": "bop_net_errors_omissions_usd_bn",
                "period_start": eo.labels.period_start.dt.strftime("%Y-%m-%d"),
                "period_end": eo.labels.period_end.dt.strftime("%Y-%m-%d"),
                "value": np.round(draw["obs_errors_omissions_usd_bn"], 3),
                "unit": "USD bn",
                "region": RUSSIA,
                "published": eo.labels.published.dt.strftime("%Y-%m-%d"),
                "observer": "Bank of Russia",
                "note": SIM_NOTE,
            }
        )
        write_csv(df, out / "errors_omissions.csv")
        files["errors_omissions.csv"] = "generic"

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
    _ = WORLD  # region of copied drivers
