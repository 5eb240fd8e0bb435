"""The baseline ``no_ruble_inflow``: the same model with the hidden inflow switched off in the
ruble equation, for backtests to score against."""

from __future__ import annotations

import pandas as pd
import pytest
from pytensor.graph.traversal import ancestors

from nowcast.backtest import origin_data
from nowcast.datasets import ingest_dir
from nowcast.model.build import build_model
from nowcast.model.spec import NO_RUBLE_INFLOW, load_spec
from nowcast.store import Store


@pytest.fixture(scope="module")
def panel(tmp_path_factory, data_dir):
    with Store(tmp_path_factory.mktemp("no_inflow") / "store") as st:
        ingest_dir(st, data_dir)
        return origin_data(st, load_spec(), pd.Timestamp("2025-01-01"), simulated=False)[1]


def test_the_baseline_is_the_default_spec_without_the_inflow_in_the_ruble_equation():
    base, default = load_spec(NO_RUBLE_INFLOW), load_spec()
    assert base.name == NO_RUBLE_INFLOW and not base.ruble_inflow and default.ruble_inflow
    assert base.priors == default.priors and base.evidence == default.evidence
    assert base.spec_hash() != default.spec_hash()


def test_its_ruble_moves_do_not_depend_on_the_inflow(panel):
    from nowcast.model.data import prepare

    def inflow_reaches_ruble(spec):
        model = build_model(spec, prepare(panel, spec))
        predicted = model["predicted_usd_rub_dlog"]
        return model["hidden_inflow_usd_bn"] in set(ancestors([predicted])), model

    on, with_inflow = inflow_reaches_ruble(load_spec())
    off, without = inflow_reaches_ruble(load_spec(NO_RUBLE_INFLOW))
    assert on and "ruble_gamma" in with_inflow.named_vars
    assert not off and "ruble_gamma" not in without.named_vars
    # the inflow is still inferred: the other evidence reads it
    assert "obs_errors_omissions" in without.named_vars
