"""Names used across stages: dims, coords and region codes live here and nowhere else."""

from __future__ import annotations

# xarray / PyMC dims
MONTH = "month"
REGION = "region"
PERIOD_OBS = "period_obs"
SERIES = "series"
CHAIN = "chain"
DRAW = "draw"

# Region codes: ISO 3166-2:RU for federal subjects, plus aggregates.
WORLD = "WORLD"
RUSSIA = "RU"
RUSSIA_UES = "RU-UES"  # Unified Energy System of Russia (excludes isolated systems)
REST_OF_RUSSIA = "RU-REST"

# Where the vintage store and fitted runs go unless the user says otherwise.
DEFAULT_STORE_DIR = "store"
STORE_DB_NAME = "nowcast.duckdb"
