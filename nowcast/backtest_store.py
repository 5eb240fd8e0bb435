"""A backtest's results in the store: the tables it keeps beside the figures
(``backtests``, ``backtest_origins``, ``backtest_scores``), written and read back.
"""

from __future__ import annotations

import json

import pandas as pd

from nowcast.backtest_plan import BacktestPlan, OriginResult
from nowcast.intervals import percent
from nowcast.scores import COVERAGE_PROBS
from nowcast.store import Store

BACKTEST_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS backtests (
    backtest_id   VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    spec_name     VARCHAR NOT NULL,
    spec_hash     VARCHAR NOT NULL,
    sampler       VARCHAR NOT NULL,
    horizons      VARCHAR NOT NULL,
    data_kind     VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS backtest_origins (
    backtest_id    VARCHAR NOT NULL,
    origin         DATE NOT NULL,
    as_of          DATE NOT NULL,
    fitted_through DATE NOT NULL,
    fingerprint    VARCHAR NOT NULL,
    scored_through_ingest INTEGER NOT NULL,
    seed           BIGINT NOT NULL,
    seconds        DOUBLE NOT NULL,
    compile_s      DOUBLE,
    sampling_s     DOUBLE,
    divergences    INTEGER NOT NULL,
    max_rhat       DOUBLE,
    min_ess_bulk   DOUBLE,
    diagnostics_ok BOOLEAN NOT NULL,
    problems       VARCHAR NOT NULL,
    peak_rss_mb    DOUBLE,
    compile_reused BOOLEAN,
    worker         VARCHAR NOT NULL,
    finished_at    TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS backtest_scores (
    backtest_id   VARCHAR NOT NULL,
    origin        DATE NOT NULL,
    model         VARCHAR NOT NULL,
    target        VARCHAR NOT NULL,
    quantity      VARCHAR NOT NULL,
    unit          VARCHAR NOT NULL,
    region        VARCHAR NOT NULL,
    observer      VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    published     DATE,
    horizon       INTEGER,
    period        VARCHAR NOT NULL,
    observed      DOUBLE NOT NULL,
    median        DOUBLE NOT NULL,
    draws         INTEGER,
    pit           DOUBLE NOT NULL,
    crps          DOUBLE NOT NULL,
    log_score     DOUBLE NOT NULL,
    {
    ", ".join(
        f"lower_{percent(p)} DOUBLE NOT NULL, upper_{percent(p)} DOUBLE NOT NULL,"
        f" covered_{percent(p)} BOOLEAN NOT NULL, width_{percent(p)} DOUBLE NOT NULL"
        for p in COVERAGE_PROBS
    )
}
);
-- columns added after the first backtests were stored
ALTER TABLE backtest_origins ADD COLUMN IF NOT EXISTS peak_rss_mb DOUBLE;
ALTER TABLE backtest_origins ADD COLUMN IF NOT EXISTS compile_reused BOOLEAN;
ALTER TABLE backtest_scores ADD COLUMN IF NOT EXISTS draws INTEGER;
"""
ORIGIN_TABLES = {"backtests", "backtest_origins", "backtest_scores"}


def record_origin(store: Store, backtest_id: str, result: OriginResult) -> None:
    """Keep one origin's record and scores (replacing an earlier run of the same origin), in
    one all-or-nothing write."""
    origin = pd.Timestamp(result.origin["origin"]).date()
    row = pd.DataFrame([{**result.origin, "backtest_id": backtest_id}])
    row["finished_at"] = pd.Timestamp.now("UTC").tz_localize(None)
    scores = result.scores.assign(backtest_id=backtest_id, origin=pd.Timestamp(origin))
    if not scores.empty:
        scores["horizon"] = pd.array(scores["horizon"], dtype="Int64")
        for col in ("published", "period_start", "period_end"):
            scores[col] = pd.to_datetime(scores[col])
    store.write_tables(
        BACKTEST_SCHEMA,
        {"backtest_origins": row, "backtest_scores": scores},
        deletes=[
            (f"DELETE FROM {t} WHERE backtest_id = ? AND origin = ?", [backtest_id, origin])
            for t in ("backtest_origins", "backtest_scores")
        ],
    )


def record_backtest(store: Store, backtest_id: str, plan: BacktestPlan, data_kind: str) -> None:
    """Keep what a backtest is (once per id)."""
    known = store.query(
        "SELECT count(*) AS n FROM backtests WHERE backtest_id = ?",
        [backtest_id],
        needs={"backtests"},
    )
    if known is not None and int(known["n"].iloc[0]):
        return
    spec = plan.spec
    row = pd.DataFrame(
        [
            {
                "backtest_id": backtest_id,
                "created_at": pd.Timestamp.now("UTC").tz_localize(None),
                "spec_name": spec.name,
                "spec_hash": spec.spec_hash(),
                "sampler": json.dumps(plan.sampler_settings.model_dump(mode="json")),
                "horizons": ",".join(map(str, plan.horizons)),
                "data_kind": data_kind,
            }
        ]
    )
    store.write_tables(BACKTEST_SCHEMA, {"backtests": row})


def finished_origins(store: Store, backtest_id: str) -> pd.DataFrame:
    """The origins a backtest has recorded (origin, fingerprint, ...); empty when none."""
    df = store.query(
        "SELECT * FROM backtest_origins WHERE backtest_id = ? ORDER BY origin",
        [backtest_id],
        needs=ORIGIN_TABLES,
    )
    if df is None:
        return pd.DataFrame(columns=["origin", "fingerprint"])
    df["origin"] = pd.to_datetime(df["origin"])
    return df


def backtest_scores(store: Store, backtest_id: str, origins: list[pd.Timestamp]) -> pd.DataFrame:
    """The recorded scores of ``origins``."""
    df = store.query(
        "SELECT * FROM backtest_scores WHERE backtest_id = ? AND list_contains(?, origin)"
        " ORDER BY origin, model, target, period_start",
        [backtest_id, [o.date() for o in origins]],
        needs=ORIGIN_TABLES,
    )
    if df is None:
        return pd.DataFrame()
    for col in ("origin", "period_start", "period_end", "published"):
        df[col] = pd.to_datetime(df[col])
    return df


def list_backtests(store: Store) -> pd.DataFrame:
    """Every backtest the store holds, with how many origins each has finished."""
    df = store.query(
        "SELECT b.*, count(o.origin) AS origins, min(o.origin) AS first_origin,"
        " max(o.origin) AS last_origin FROM backtests b LEFT JOIN backtest_origins o"
        " USING (backtest_id) GROUP BY ALL ORDER BY b.created_at",
        needs=ORIGIN_TABLES,
    )
    return df if df is not None else pd.DataFrame()
