"""nowcast: Bayesian nowcasting of Russia's hidden crypto-mining export inflow.

Data flows one way: ``sources`` (publisher files -> validated tidy tables) -> ``store``
(vintage store, DuckDB) -> ``panel`` (what was known on a date, as a monthly xarray Dataset)
-> model -> posterior -> forecasts -> reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nowcast")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
