"""The generative story's equations, written once for both NumPy arrays (simulator,
forecasts) and PyTensor tensors (the PyMC model). Pass ``xp=numpy`` or ``xp=pytensor.tensor``.

Units: hashrate EH/s, efficiency J/TH, power GW, hours h, electricity TWh, money USD bn,
exchange rate RUB per USD, electricity price RUB/kWh.
"""

from __future__ import annotations

from typing import Any

Array = Any  # numpy.ndarray or pytensor TensorVariable


def logistic(x: Array, xp: Any) -> Array:
    """Inverse logit."""
    return 1.0 / (1.0 + xp.exp(-x))


def fleet_efficiency_j_per_th(
    log_eff_2019: Array, decline_per_year: Array, years_since_2019: Array, xp: Any
) -> Array:
    """Fleet efficiency (J/TH): log-linear decline from its 2019 level."""
    return xp.exp(log_eff_2019 - decline_per_year * years_since_2019)


def mining_power_gw(
    share: Array, hashrate_eh_s: Array, efficiency_j_per_th: Array, pue: Array
) -> Array:
    """Russia's mining power (GW) = share x network hashrate x J/TH x overhead.

    EH/s x J/TH = 1e6 TH/s x J/TH = MW, so x 1e-3 gives GW.
    """
    return share * hashrate_eh_s * efficiency_j_per_th * pue * 1e-3


def mining_revenue_usd_bn(share: Array, network_revenue_usd: Array) -> Array:
    """Revenue earned in Russia (USD bn per month): share x the network's miner revenue."""
    return share * network_revenue_usd * 1e-9


def electricity_cost_usd_bn(
    power_gw: Array, hours: Array, price_rub_per_kwh: Array, usd_rub: Array
) -> Array:
    """The electricity bill converted to USD bn: GW x h = 1e6 kWh; RUB / (RUB/USD) = USD."""
    return power_gw * hours * price_rub_per_kwh / usd_rub * 1e-3


def hidden_inflow_usd_bn(cost: Array, revenue: Array, psi: Array) -> Array:
    """F = C + psi x (M - C): the bill is converted; a fraction psi of the margin too."""
    return cost + psi * (revenue - cost)


def mining_electricity_twh(power_gw: Array, hours: Array) -> Array:
    """Energy drawn by mining in a month (TWh): GW x h / 1000."""
    return power_gw * hours * 1e-3


def baseline_twh(
    log_level: Array,
    growth_per_year: Array,
    years_since_start: Array,
    seasonal_amplitude: Array,
    month_of_year: Array,
    xp: Any,
) -> Array:
    """Electricity a region would use without mining (TWh per month): a level, a log-linear
    trend and a cosine seasonal shape peaking in January (``month_of_year`` 0 = January)."""
    import numpy as np

    season = 1.0 + seasonal_amplitude * xp.cos(2.0 * np.pi * month_of_year / 12.0)
    return xp.exp(log_level + growth_per_year * years_since_start) * season


# --------------------------------------------------------------------------- transitions


def ar1_deviation_path(
    start_deviation: Array, rho: Array, scales: Array, innovations: Array, n: int, xp: Any
) -> Array:
    """Deviations d_1..d_n of an AR(1) around its mean, d_t = rho d_{t-1} + scale_t e_t, from
    d_0 = ``start_deviation`` (the month before the path), unrolled in closed form:
    d_t = rho^t d_0 + sum_{j<=t} rho^(t-j) scale_j e_j
        = rho^t (d_0 + sum_{j<=t} rho^-j scale_j e_j).

    The last axis is time; ``rho``, ``start_deviation`` and the leading axes of ``scales`` and
    ``innovations`` broadcast (one value per draw in forecasts, scalars in the model).

    The second form is a cumulative sum, O(n): the first, a lower-triangular n x n matrix of
    powers rho^(t-j), was a fifth of the model's gradient time (measured: 90 -> 69 us a
    gradient). It is exact while rho^-n stays finite, rho above 1e-6 for 47 months (the
    longest stretch of the default window) and above 0.003 for 120; the share's Beta prior
    keeps rho above 0.5. Rounding: each term is added at its own magnitude, so d_t carries
    the relative error of a sum of t terms, as the matrix form did (a test checks it against
    the month-by-month recursion)."""
    import numpy as np

    steps = np.arange(1, n + 1)
    rho_t = xp.expand_dims(rho, -1) ** steps  # rho^t, t = 1..n
    scaled = scales * innovations / rho_t  # rho^-j scale_j e_j
    return rho_t * (xp.expand_dims(start_deviation, -1) + xp.cumsum(scaled, axis=-1))


def share_logit_step(previous: Array, mean: Array, rho: Array, step_sd: Array) -> tuple:
    """One month of the hashrate share's logit AR(1): the conditional mean and sd of the next
    month given this one (the model's transition, used by the forecasts)."""
    return mean + rho * (previous - mean), step_sd


def converted_fraction(after_legalisation: Array, psi_before: Array, psi_after: Array, xp: Any):
    """psi by month: the converted share of the margin, ``psi_after`` from the month the mining
    law took effect (``after_legalisation`` true), ``psi_before`` until then."""
    return xp.where(after_legalisation, psi_after, psi_before)


def region_share(logits: Array, xp: Any) -> Array:
    """Shares of mining power (axis 0) from the mining regions' logits, then the reference
    with logit 0: mining elsewhere (``unit_mining_share`` spreads it over the rests).

    A softmax against a fixed zero logit, e / (1 + sum e), without the usual subtraction of
    the largest logit: that guard's max and its gradient cost more than the rest of the
    allocation (measured), and logits are a few units wide (an overflow needs one above 700)."""
    e = xp.exp(logits)
    elsewhere = 1.0 / (1.0 + e.sum(axis=0, keepdims=True))
    return xp.concatenate([e * elsewhere, elsewhere], axis=0)


def unit_mining_share(shares: Array, placement: Array, xp: Any) -> Array:
    """Shares of mining power by modelled unit (axis -2): each mining region keeps its share,
    mining elsewhere (the last share) is spread over the energy systems' rests by ``placement``
    (mining region + 1, unit), and units without mining get none.

    The units are ordered mining regions, other regions, rests (``model.data.model_units``), so
    this is a join of three blocks rather than a product with ``placement`` or a gather, whose
    gradients cost more than the rest of the allocation."""
    import numpy as np

    k = placement.shape[0] - 1
    rest = placement[-1] > 0
    others = placement.shape[1] - k - int(rest.sum())
    if not (
        np.array_equal(placement[:k, :k], np.eye(k))
        and not placement[:k, k:].any()
        and not placement[-1, : k + others].any()
        and rest[k + others :].all()
    ):
        raise ValueError("units must be ordered mining regions, other regions, rests")
    elsewhere = xp.expand_dims(shares[..., k, :], -2)  # (..., 1, month): broadcasts
    parts = [shares[..., :k, :]]
    if others:
        # a constant block: zeros by multiplication would carry a gradient of zeros
        parts.append(xp.zeros((*shares.shape[:-2], others, shares.shape[-1])))
    parts.append(elsewhere * placement[-1, rest][:, None])
    return xp.concatenate(parts, axis=-2)


def regional_electricity_twh(baseline: Array, shares: Array, mining_twh: Array) -> Array:
    """Consumption by region (TWh per month): its own baseline plus its share of mining."""
    return baseline + shares * mining_twh[..., None, :]


def ruble_dlog_mean(
    intercept: Array,
    oil_beta: Array,
    dlog_oil: Array,
    rate_beta: Array,
    d_key_rate_pct: Array,
    gamma: Array,
    inflow_usd_bn: Array,
) -> Array:
    """Expected monthly log change of USD/RUB (monthly means): oil and the key rate move it,
    the hidden inflow (USD bn that month) strengthens the ruble (gamma > 0)."""
    return intercept + oil_beta * dlog_oil + rate_beta * d_key_rate_pct - gamma * inflow_usd_bn


def errors_omissions_usd_bn(
    intercept_per_quarter: Array,
    shift_per_quarter: Array,
    after_shift: Array,
    k: Array,
    inflow_usd_bn: Array,
) -> Array:
    """Net errors and omissions per month (USD bn): a quarterly intercept (shifted from the
    sanctions date) spread over its three months, plus a share k of the hidden inflow."""
    return (intercept_per_quarter + shift_per_quarter * after_shift) / 3.0 + k * inflow_usd_bn
