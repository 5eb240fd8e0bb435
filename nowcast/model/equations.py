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
