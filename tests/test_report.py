"""`norep pairs` through the command line on the synthetic store."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from norep.analysis.pairs import pair_metrics
from norep.book.views import COLUMNS, pairs_table, zoo_ensembles
from norep.cli import main
from norep.store import Store, read_outcomes


def test_pairs_with_base_prints_a_table_of_base_pairs(synthetic_store, capsys):
    assert main(["pairs", str(synthetic_store.path), "--base", "base"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == list(COLUMNS)
    rows = [line.split() for line in lines[1:]]
    assert [r[1] for r in rows] == ["reinit", "hyper", "arch", "framework", "dataset"]
    assert [r[2] for r in rows] == ["Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"]


def test_pairs_csv_holds_every_pair_with_its_numbers(synthetic_store, capsys):
    assert main(["pairs", str(synthetic_store.path), "--csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table.columns.tolist() == list(COLUMNS)
    assert len(table) == 15
    ids = synthetic_store.model_ids
    correct = read_outcomes(synthetic_store, "test").correct
    predictions = read_outcomes(synthetic_store, "test").predictions
    ensembles = zoo_ensembles(synthetic_store).accuracy
    for row in table.itertuples():
        a, b = ids.index(row.model_a), ids.index(row.model_b)
        assert a < b
        assert row.acc_a == pytest.approx(correct[a].mean(), rel=1e-5)
        assert row.acc_b == pytest.approx(correct[b].mean(), rel=1e-5)
        assert row.error_inconsistency == pytest.approx(np.mean(correct[a] != correct[b]), rel=1e-5)
        assert row.disagreement == pytest.approx(np.mean(predictions[a] != predictions[b]), rel=1e-5)
        assert row.ensemble_acc == pytest.approx(ensembles[a, b], rel=1e-5)
    kappa = pair_metrics(correct)["kappa"]
    np.testing.assert_allclose(table["kappa"], [kappa[ids.index(a), ids.index(b)] for a, b in
                                                zip(table.model_a, table.model_b)], rtol=1e-5)


def test_unknown_base_is_one_line_and_exit_2(synthetic_store, capsys):
    assert main(["pairs", str(synthetic_store.path), "--base", "resnet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "base model 'resnet' is not in" in captured.err and "base, reinit" in captured.err


def test_top1_only_models_get_no_ensemble_accuracy(synthetic_store, tmp_path):
    store = Store.create(tmp_path / "mixed", dataset="synthetic", classes=synthetic_store.classes,
                         examples=synthetic_store.examples, fingerprint="mixed")
    for model_id in ("base", "arch"):
        store.add_model(model_id, synthetic_store.meta(model_id), {"logits": np.asarray(synthetic_store.logits(model_id))})
    predictions = np.asarray(synthetic_store.logits("dataset")).argmax(axis=1)
    predictions[:50] = -1
    store.add_model("human", {"architecture": "brain"}, {"predictions": predictions,
                                                         "confidences": np.full(len(predictions), 0.8)})
    table = pairs_table(store).set_index(["model_a", "model_b"])
    assert np.isfinite(table.loc[("base", "arch"), "ensemble_acc"])
    assert np.isnan(table.loc[("base", "human"), "ensemble_acc"])
    assert pd.isna(table.loc[("base", "human"), "category"])  # the human's methodology is unknown
    assert np.isfinite(table.loc[("base", "human"), ["acc_a", "kappa", "disagreement"]].astype(float)).all()
