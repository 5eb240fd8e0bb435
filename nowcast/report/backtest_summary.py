"""The backtest page's numbers: the model against the random walk by horizon and period, the
coverage of its intervals, published figures before publication, and the verdict in words.

Inputs are ``nowcast.backtest.load_backtest``'s frames. Everything here is computed from the
scores; no sentence is written before its numbers are known.

Interval columns: the backtest stores ``lower_k``/``upper_k``/``covered_k``/``width_k`` for
``nowcast.scores.COVERAGE_PROBS``. Where a level's ``covered_k`` column is absent (at the time
of writing the stored levels are 50/80/95, not the 90% that published figures are judged by),
coverage is read off the PIT: an observation lies inside the central ``k``% interval when its
PIT is within ``[(1 - k) / 2, (1 + k) / 2]``. That is exact for the random walk and agrees
with the draws' quantiles for an ensemble up to one draw's share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nowcast.backtest import MODEL, PERIODS, RANDOM_WALK, USD_RUB
from nowcast.intervals import percent
from nowcast.scores import COVERAGE_PROBS, FIGURE_PROB, block_bootstrap_ratio

NOMINAL_LEVELS: tuple[int, ...] = (50, 80, 90, 95)  # the coverage chart's nominal levels
TABLE_LEVELS: tuple[int, ...] = tuple(percent(p) for p in COVERAGE_PROBS)
FIGURE_LEVEL = percent(FIGURE_PROB)
RATIO_PROB = 0.9  # the ratio's bootstrap interval
PERIOD_ORDER = [name for name, _, _ in PERIODS]

# verdicts on one ratio and its interval
RW_BETTER = "the random walk was better"
MODEL_BETTER = "the model was better"
NO_DIFFERENCE = "no clear difference"
NO_INTERVAL = "interval cannot be computed"

SUMMARY_COLUMNS = [
    "horizon",
    "origins",
    "crps_model",
    "crps_rw",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "logs_model",
    "logs_rw",
    *[f"coverage_{k}_{m}" for k in TABLE_LEVELS for m in ("model", "rw")],
    "width_80_model",
    "width_80_rw",
]
PERIOD_COLUMNS = [
    "period",
    "horizon",
    "origins",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "coverage_80_model",
    "coverage_80_rw",
]
BASELINE_COLUMNS = [
    "baseline",
    "horizon",
    "origins",
    "crps_model",
    "crps_baseline",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "baseline_ratio_rw",
    "coverage_80_model",
    "coverage_80_baseline",
]
# the columns of a scored row (``backtest_scores``), for frames with nothing scored yet
SCORE_COLUMNS = [
    "origin",
    "model",
    "target",
    "quantity",
    "unit",
    "region",
    "observer",
    "period_start",
    "period_end",
    "published",
    "horizon",
    "period",
    "observed",
    "median",
    "pit",
    "crps",
    "log_score",
    *[f"{c}_{k}" for k in TABLE_LEVELS for c in ("lower", "upper", "covered", "width")],
]
FIGURE_SUMMARY_COLUMNS = [
    "target",
    "quantity",
    "n",
    "origins",
    "inside",
    "share_inside",
    "mean_pit",
]


def usd_rub_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The USD/RUB rows (both models), horizon as whole numbers."""
    if scores.empty or "target" not in scores:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    rows = scores[scores["target"] == USD_RUB].copy()
    rows["horizon"] = pd.to_numeric(rows["horizon"]).astype("int64")
    return rows.sort_values(["model", "horizon", "origin"]).reset_index(drop=True)


def figure_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The published-figure rows (the model's; the random walk forecasts USD/RUB only)."""
    if scores.empty or "target" not in scores:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    rows = scores[(scores["target"] != USD_RUB) & (scores["model"] == MODEL)]
    return rows.sort_values(["target", "region", "period_start", "origin"]).reset_index(drop=True)


def covered(rows: pd.DataFrame, level: int) -> pd.Series:
    """Whether each observation lies inside its central ``level``% interval: the stored column
    where there is one, else from the PIT (see the module's docstring)."""
    col = f"covered_{level}"
    if col in rows:
        return rows[col].astype(bool)
    tail = (1 - level / 100) / 2
    return rows["pit"].between(tail - 1e-12, 1 - tail + 1e-12)


def _share(flags: pd.Series) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


def paired_crps(rows: pd.DataFrame, a: str = MODEL, b: str = RANDOM_WALK) -> pd.DataFrame:
    """Forecaster ``a``'s and ``b``'s CRPS side by side, one row per origin where both were
    scored, oldest origin first (the block bootstrap needs origin order)."""
    wide = rows.pivot_table(index="origin", columns="model", values="crps", aggfunc="mean")
    cols = [a, b]
    if not set(cols) <= set(wide.columns):
        return pd.DataFrame(columns=cols)
    return wide[cols].dropna().sort_index()


def crps_ratio(
    rows: pd.DataFrame, horizon: int, a: str = MODEL, b: str = RANDOM_WALK
) -> tuple[int, float, float, float]:
    """Paired origins, mean CRPS ratio ``a`` / ``b`` (the model over the random walk by
    default) and its 90% block-bootstrap interval (blocks of ``max(h, 3)``: errors of
    neighbouring origins overlap when h > 1)."""
    pair = paired_crps(rows, a, b)
    if pair.empty:
        return 0, float("nan"), float("nan"), float("nan")
    ratio, lo, hi = block_bootstrap_ratio(
        pair[a].to_numpy(), pair[b].to_numpy(), block=max(horizon, 3), seed=0
    )
    return len(pair), ratio, lo, hi


def ratio_verdict(ratio: float, lower: float, upper: float) -> str:
    """Which forecast was better, judged by where the ratio's interval lies against 1."""
    if not (np.isfinite(ratio) and np.isfinite(lower) and np.isfinite(upper)):
        return NO_INTERVAL
    if lower > 1:
        return RW_BETTER
    if upper < 1:
        return MODEL_BETTER
    return NO_DIFFERENCE


def _mean(rows: pd.DataFrame, model: str, col: str) -> float:
    v = rows.loc[rows["model"] == model, col]
    return float(v.mean()) if len(v) else float("nan")


def horizon_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per USD/RUB horizon: paired origins, mean CRPS and log score of each model, the
    CRPS ratio with its 90% interval, interval coverage and the mean 80% width."""
    usd = usd_rub_rows(scores)
    out = []
    for h, rows in usd.groupby("horizon", sort=True):
        n, ratio, lo, hi = crps_ratio(rows, int(h))
        row = {"horizon": int(h), "origins": n, "ratio": ratio}
        row.update(ratio_lower=lo, ratio_upper=hi)
        for m, tag in ((MODEL, "model"), (RANDOM_WALK, "rw")):
            mine = rows[rows["model"] == m]
            row[f"crps_{tag}"] = _mean(rows, m, "crps")
            row[f"logs_{tag}"] = _mean(rows, m, "log_score")
            for k in TABLE_LEVELS:
                row[f"coverage_{k}_{tag}"] = _share(covered(mine, k))
            row[f"width_80_{tag}"] = _mean(rows, m, "width_80")
        out.append(row)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def period_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """The CRPS ratio and 80% coverage by period (``nowcast.backtest.PERIODS``) and horizon."""
    usd = usd_rub_rows(scores)
    out = []
    for (per, h), rows in usd.groupby(["period", "horizon"], sort=False):
        n, ratio, lo, hi = crps_ratio(rows, int(h))
        cov = {
            f"coverage_80_{tag}": _share(covered(rows[rows["model"] == m], 80))
            for m, tag in ((MODEL, "model"), (RANDOM_WALK, "rw"))
        }
        out.append(dict(period=per, horizon=int(h), origins=n, ratio=ratio, **cov))
        out[-1].update(ratio_lower=lo, ratio_upper=hi)
    df = pd.DataFrame(out, columns=PERIOD_COLUMNS)
    order = {p: i for i, p in enumerate(PERIOD_ORDER)}
    key = df["period"].map(order).fillna(len(order))
    return df.assign(_k=key).sort_values(["_k", "horizon"]).drop(columns="_k")


def baseline_summary(scores: pd.DataFrame, baselines: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The model against each baseline spec (its backtest's scores, by spec name), USD/RUB by
    horizon on the origins both scored: mean CRPS of each, the ratio model / baseline with its
    90% interval, the baseline's own ratio to the random walk, and the 80% coverage of each."""
    usd = usd_rub_rows(scores)
    out = []
    for name, other in baselines.items():
        every = usd_rub_rows(other)  # the baseline's own forecasts and its random walk's
        theirs = every[every["model"] == MODEL].assign(model=name)
        both = pd.concat([usd[usd["model"] == MODEL], theirs], ignore_index=True)
        for h, rows in both.groupby("horizon", sort=True):
            n, ratio, lo, hi = crps_ratio(rows, int(h), MODEL, name)
            if not n:
                continue  # a horizon only one of them scored
            _, to_rw, _, _ = crps_ratio(every[every["horizon"] == h], int(h))
            paired = rows[rows["origin"].isin(paired_crps(rows, MODEL, name).index)]
            out.append(
                {
                    "baseline": name,
                    "horizon": int(h),
                    "origins": n,
                    "crps_model": _mean(paired, MODEL, "crps"),
                    "crps_baseline": _mean(paired, name, "crps"),
                    "ratio": ratio,
                    "ratio_lower": lo,
                    "ratio_upper": hi,
                    "baseline_ratio_rw": to_rw,
                    "coverage_80_model": _share(covered(paired[paired["model"] == MODEL], 80)),
                    "coverage_80_baseline": _share(covered(paired[paired["model"] == name], 80)),
                }
            )
    return pd.DataFrame(out, columns=BASELINE_COLUMNS)


def baseline_sentences(table: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """Each baseline's verdict in words: where the model beat it, lost to it, or neither;
    ``labels``: what each baseline is, by spec name."""
    out = []
    iv = f"{percent(RATIO_PROB)}% interval"
    for name, rows in table.groupby("baseline", sort=False):
        rows = rows[np.isfinite(rows["ratio_lower"])]
        if rows.empty:
            out.append(
                f"Against {name} ({labels.get(name, name)}): fewer than 2 origins scored by"
                " both, so no comparison yet."
            )
            continue
        parts = []
        for r in rows.itertuples(index=False):
            v = ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper)
            who = {RW_BETTER: f"{name} better", MODEL_BETTER: "the model better"}.get(v, v)
            parts.append(
                f"h = {r.horizon}: {r.ratio:.2f} [{r.ratio_lower:.2f}, {r.ratio_upper:.2f}], {who}"
            )
        out.append(
            f"Against {name} ({labels.get(name, name)}), the ratio of mean CRPS model /"
            f" {name} for USD/RUB with its {iv}: {'; '.join(parts)}."
        )
    return out


def baseline_won(table: pd.DataFrame) -> bool:
    """Whether any baseline forecast USD/RUB better than the model at some horizon."""
    return any(
        ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper) == RW_BETTER
        for r in table.itertuples(index=False)
    )


def figure_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per kind of published figure: how many were scored, over how many origins, the share
    inside the 90% predictive interval and the mean PIT (0.5 when unbiased)."""
    figs = figure_rows(scores)
    out = []
    for (target, quantity), rows in figs.groupby(["target", "quantity"], sort=True):
        inside = covered(rows, FIGURE_LEVEL)
        out.append(
            {
                "target": target,
                "quantity": quantity,
                "n": len(rows),
                "origins": rows["origin"].nunique(),
                "inside": int(inside.sum()),
                "share_inside": _share(inside),
                "mean_pit": float(rows["pit"].mean()),
            }
        )
    return pd.DataFrame(out, columns=FIGURE_SUMMARY_COLUMNS)


def coverage_curve(scores: pd.DataFrame) -> pd.DataFrame:
    """Observed coverage at each nominal level (rows) for the model's and the random walk's
    USD/RUB forecasts and for the published figures (columns; NaN where nothing was scored)."""
    usd = usd_rub_rows(scores)
    figs = figure_rows(scores)
    groups = {
        "USD/RUB, model": usd[usd["model"] == MODEL],
        "USD/RUB, random walk": usd[usd["model"] == RANDOM_WALK],
        "published figures": figs,
    }
    return pd.DataFrame(
        {
            name: [_share(covered(g, k)) if len(g) else np.nan for k in NOMINAL_LEVELS]
            for name, g in groups.items()
        },
        index=pd.Index(NOMINAL_LEVELS, name="nominal"),
    )


def _hs(hs: list[int]) -> str:
    return ", ".join(str(h) for h in hs)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def failed_origins_sentence(origins: pd.DataFrame) -> str | None:
    """How many origins failed their convergence diagnostics (None when none did)."""
    if origins.empty or "diagnostics_ok" not in origins:
        return None
    bad = int((~origins["diagnostics_ok"].astype(bool)).sum())
    if not bad:
        return None
    return (
        f"{bad} of {len(origins)} origins failed their convergence diagnostics; their scores"
        " are kept in every number on this page, so read them with that in mind."
    )


def verdict_sentences(
    summary: pd.DataFrame,
    scores: pd.DataFrame,
    origins: pd.DataFrame | None = None,
    horizons: tuple[int, ...] = (),
) -> list[str]:
    """The headline in plain words: which forecast of USD/RUB was better at each horizon (the
    random walk first when it won), the model's 80% coverage, and how many published figures
    fell inside the 90% predictive interval before they came out. ``horizons``: those the
    backtest asked for, so horizons with nothing scored yet are named."""
    out: list[str] = []
    by: dict[str, list[int]] = {}
    for r in summary.itertuples(index=False):
        by.setdefault(ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper), []).append(r.horizon)
    detail = {
        int(r.horizon): f"h = {r.horizon}: {r.ratio:.2f} [{r.ratio_lower:.2f}, {r.ratio_upper:.2f}]"
        for r in summary.itertuples(index=False)
        if np.isfinite(r.ratio_lower)
    }
    iv = f"{percent(RATIO_PROB)}% interval"
    if RW_BETTER in by:
        hs = by[RW_BETTER]
        out.append(
            f"The random walk forecast USD/RUB better than the model at h = {_hs(hs)} months:"
            f" the model's mean CRPS was higher, and the ratio's {iv} lies above 1"
            f" ({'; '.join(detail[h] for h in hs)})."
        )
    if MODEL_BETTER in by:
        hs = by[MODEL_BETTER]
        out.append(
            f"The model was better than the random walk at h = {_hs(hs)} months: the ratio of"
            f" mean CRPS model / random walk has its {iv} below 1"
            f" ({'; '.join(detail[h] for h in hs)})."
        )
    if NO_DIFFERENCE in by:
        hs = by[NO_DIFFERENCE]
        out.append(
            f"No clear difference between the model and the random walk at h = {_hs(hs)}"
            f" months: the ratio's {iv} contains 1 ({'; '.join(detail[h] for h in hs)})."
        )
    if NO_INTERVAL in by:
        hs = by[NO_INTERVAL]
        out.append(
            f"At h = {_hs(hs)} months fewer than 2 origins have both forecasts scored, so the"
            " ratio's interval cannot be computed and no verdict is given."
        )
    # a period where the random walk won is said up front too, even when it did not win overall
    per = period_summary(scores) if len(summary) else pd.DataFrame()
    rw_periods = [
        f"{r.period} at h = {r.horizon} ({r.ratio:.2f} [{r.ratio_lower:.2f}, {r.ratio_upper:.2f}])"
        for r in per.itertuples(index=False)
        if ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper) == RW_BETTER
    ]
    if rw_periods:
        out.append(
            "By period of the target month, the random walk forecast USD/RUB better in "
            + "; ".join(rw_periods)
            + " (few origins in a period: read these intervals as rough)."
        )
    missing = sorted(set(horizons) - set(int(h) for h in summary["horizon"]))
    if summary.empty:
        out.append(
            "No USD/RUB forecast has been scored yet: no origin's target month has a published"
            " monthly mean, so the model cannot be compared with the random walk."
        )
    elif missing:
        out.append(f"Nothing has been scored yet at h = {_hs(missing)} months.")
    usd = usd_rub_rows(scores)
    model = usd[usd["model"] == MODEL]
    if len(model):
        cov = covered(model, 80)
        out.append(
            f"The model's 80% intervals for USD/RUB held the realised monthly mean in"
            f" {int(cov.sum())} of {len(cov)} forecasts ({_pct(cov.mean())}; nominal 80%)."
        )
    figs = figure_rows(scores)
    if len(figs):
        inside = covered(figs, FIGURE_LEVEL)
        out.append(
            f"{int(inside.sum())} of {len(figs)} published figures fell inside the model's"
            f" {FIGURE_LEVEL}% predictive interval made before they were published"
            f" ({_pct(inside.mean())}; nominal {FIGURE_LEVEL}%)."
        )
    else:
        out.append(
            "No published figure has been scored yet: none came out after an origin about"
            " months inside its fitted window."
        )
    failed = failed_origins_sentence(origins) if origins is not None else None
    if failed:
        out.append(failed)
    return out
