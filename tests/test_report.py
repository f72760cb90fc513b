"""`norep pairs` through the command line on the synthetic store."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from norep.book.views import COLUMNS, fit_temperatures, pairs_table
from norep.cli import main
from norep.store import Store


def test_pairs_with_base_prints_a_table_of_base_pairs(synthetic_store, capsys):
    assert main(["pairs", str(synthetic_store.path), "--base", "base"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == list(COLUMNS)
    rows = [line.split() for line in lines[1:]]
    assert [r[1] for r in rows] == ["reinit", "hyper", "arch", "framework", "dataset"]
    assert [r[2] for r in rows] == ["Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"]


def naive_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / T) row by row, in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_pairs_csv_holds_every_pair_with_its_numbers(synthetic_store, capsys):
    assert main(["pairs", str(synthetic_store.path), "--csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table.columns.tolist() == list(COLUMNS)
    assert len(table) == 15
    ids = synthetic_store.model_ids
    test = synthetic_store.examples["split"].to_numpy() == "test"
    labels = synthetic_store.examples["label"].to_numpy()[test]
    logits = {m: np.asarray(synthetic_store.logits(m))[test] for m in ids}
    predictions = {m: logits[m].argmax(axis=1) for m in ids}
    correct = {m: predictions[m] == labels for m in ids}
    temperatures = fit_temperatures(synthetic_store, ids, "calibration")
    for row in table.itertuples():
        a, b = row.model_a, row.model_b
        assert ids.index(a) < ids.index(b)
        assert row.acc_a == pytest.approx(correct[a].mean(), rel=1e-5)
        assert row.acc_b == pytest.approx(correct[b].mean(), rel=1e-5)
        assert row.error_inconsistency == pytest.approx(np.mean(correct[a] != correct[b]), rel=1e-5)
        assert row.disagreement == pytest.approx(np.mean(predictions[a] != predictions[b]), rel=1e-5)
        assert row.kappa == pytest.approx(cohen_kappa_score(correct[a], correct[b]), rel=1e-5)
        # Ensemble: mean of the temperature-scaled probabilities, ties to the lowest class;
        # float32 in the package, float64 here: at most one of 600 examples may differ.
        mean = (naive_softmax(logits[a], temperatures[a]) + naive_softmax(logits[b], temperatures[b])) / 2
        assert abs(row.ensemble_acc - np.mean(mean.argmax(axis=1) == labels)) <= 1 / len(labels) + 1e-9


def test_base_rows_count_by_hand(tmp_path):
    """A hand-worked store: 4 test examples, two models with known outcomes."""
    examples = pd.DataFrame({"example_id": list("abcd"), "label": [0, 1, 2, 0], "split": ["test"] * 4})
    store = Store.create(tmp_path / "hand", dataset="hand", classes=["x", "y", "z"],
                         examples=examples, fingerprint="hand")
    one_hot = np.eye(3, dtype=np.float32) * 5
    # a: right, right, wrong (says 0), right; b: right, wrong (2), wrong (0), wrong (1).
    store.add_model("a", {"architecture": "cnn"}, {"logits": one_hot[[0, 1, 0, 0]]})
    store.add_model("b", {"architecture": "mlp"}, {"logits": one_hot[[0, 2, 0, 1]]})
    [row] = pairs_table(store, base="a").to_dict("records")
    assert (row["acc_a"], row["acc_b"]) == (0.75, 0.25)
    assert row["error_inconsistency"] == 0.5  # examples b and d
    assert row["disagreement"] == 0.5  # b and d; on c both say 0
    # c_obs = 2/4 (a and c agree), c_exp = .75 * .25 + .25 * .75 = .375: kappa = .125 / .625
    assert row["kappa"] == pytest.approx(0.2)
    # Ensemble (T = 1: no calibration split): on b the two equally confident votes tie
    # and the lowest class (1, right) wins; on d likewise class 0 (right); on c both
    # say 0 (wrong); on a both are right.
    assert row["ensemble_acc"] == 0.75


def test_output_into_a_closed_pipe_ends_quietly(synthetic_store):
    """`norep pairs STORE --csv | head` must not end in a BrokenPipeError traceback."""
    command = [sys.executable, "-m", "norep.cli", "pairs", str(synthetic_store.path), "--csv"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the table is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert stderr == ""


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
