"""The Bank of Russia balance of payments' items (``nowcast.sources.cbr_bop``): the items of
each file, their series names, the names the releases table gives some of them, the bounds
their figures must respect and the accounting identities between them.
"""

from __future__ import annotations

OBSERVER = "Bank of Russia"
UNIT = "USD bn"

# Items of the monthly file; the quarterly file has these plus the goods-export breakdown and
# the memo item on dubious transactions.
MONTHLY_ITEMS = [
    "current_account",
    "trade_balance_goods",
    "goods_exports",
    "goods_imports",
    "services_balance",
    "services_exports",
    "services_imports",
    "compensation_of_employees_balance",
    "investment_income_balance",
    "rent_balance",
    "secondary_income_balance",
    "capital_account",
    "financial_account_excl_reserves_net_lending",
    "net_incurrence_of_liabilities",
    "net_acquisition_fin_assets_excl_reserves",
    "net_errors_omissions",
    "reserve_assets_change",
]
GOODS_EXPORT_PARTS = [
    "goods_exports_crude_oil",
    "goods_exports_oil_products",
    "goods_exports_natural_gas",
    "goods_exports_lng",
    "goods_exports_other",
]
QUARTERLY_ITEMS = [
    *MONTHLY_ITEMS[:3],
    *GOODS_EXPORT_PARTS,
    *MONTHLY_ITEMS[3:],
    "memo_dubious_transactions",
]
OPTIONAL_ITEMS = {"goods_exports_lng"}  # LNG exports are only shown from 2009; empty before

# Releases-table item -> the same concept's item in the quarterly and monthly files.
ALIASES = {
    "reserve_assets": "reserve_assets_change",
    "financial_account_excl_reserves": "financial_account_excl_reserves_net_lending",
}

# Gross flows and sizes that cannot be negative.
NON_NEGATIVE = {
    "goods_exports",
    *GOODS_EXPORT_PARTS,
    "goods_imports",
    "services_exports",
    "services_imports",
    "memo_dubious_transactions",
    "net_errors_omissions_magnitude",
}

# Any single figure above USD 1 trillion is a unit mistake (USD mn read as USD bn).
MAX_ABS_USD_BN = 1000.0

# Accounting identities: item = sum(sign * part); checked to the files' rounding.
IDENTITIES: list[tuple[str, dict[str, int]]] = [
    (
        "current_account",
        {
            "trade_balance_goods": 1,
            "services_balance": 1,
            "compensation_of_employees_balance": 1,
            "investment_income_balance": 1,
            "rent_balance": 1,
            "secondary_income_balance": 1,
        },
    ),
    ("trade_balance_goods", {"goods_exports": 1, "goods_imports": -1}),
    ("services_balance", {"services_exports": 1, "services_imports": -1}),
    (
        "financial_account_excl_reserves_net_lending",
        {"net_acquisition_fin_assets_excl_reserves": 1, "net_incurrence_of_liabilities": -1},
    ),
    (
        "net_errors_omissions",
        {
            "financial_account_excl_reserves_net_lending": 1,
            "reserve_assets_change": 1,
            "current_account": -1,
            "capital_account": -1,
        },
    ),
]
QUARTERLY_IDENTITIES = [*IDENTITIES, ("goods_exports", dict.fromkeys(GOODS_EXPORT_PARTS, 1))]


def series_name(item: str) -> str:
    """Series name of a file's item: ``bop_<item>_usd_bn`` (releases names mapped by ALIASES)."""
    return f"bop_{ALIASES.get(item, item)}_usd_bn"
