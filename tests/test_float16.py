"""float16 stores: logits kept as rows minus their maximum with each row's top classes exact, consumers
unchanged by that shift, the measured effect."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from norep.analysis.ensembles import greedy_selection, pair_ensemble_correctness, pairwise_ensembles
from norep.book import appendix
from norep.book.views import calibration_table, fit_temperatures, pairs_table, zoo_ensembles
from norep.cli import main
from norep.errors import NorepError
from norep.store import Store, read_scores, top1
from norep.store.store import (EXACT_TOP, TOP_LOGITS, exact_top_logits, float16_store_logits, half_precision_logits,
                               with_exact_top)

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "float16_effect.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("float16_effect", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_store(path, logits: dict[str, np.ndarray], labels: np.ndarray, logits_dtype: str | None = None) -> Store:
    """A store whose first third of examples is the calibration split, the rest test."""
    split = np.where(np.arange(len(labels)) < len(labels) // 3, "calibration", "test")
    examples = pd.DataFrame({"example_id": [f"e{i}" for i in range(len(labels))], "label": labels, "split": split})
    n_classes = next(iter(logits.values())).shape[1]
    store = Store.create(path, dataset="toy", classes=[f"c{c}" for c in range(n_classes)], examples=examples,
                         fingerprint="toy", logits_dtype=logits_dtype)
    for index, (model_id, values) in enumerate(logits.items()):
        meta = {"architecture": "cnn", "objective": "cross-entropy", "training_data": "toy", "seed": index}
        store.add_model(model_id, meta, {"logits": values})
    return store


def grid_logits(seed: int, n_models: int = 4, n_examples: int = 600, n_classes: int = 7):
    """Logits on a grid of 1/256 (so adding an integer to a row is exact in float32) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples)
    shared = rng.normal(size=(n_examples, n_classes))
    logits = {}
    for model in range(n_models):
        values = 2 * (shared + rng.normal(size=shared.shape))
        values[np.arange(n_examples), labels] += 2.5
        logits[f"m{model}"] = (np.round(values * 256) / 256).astype(np.float32)
    return logits, labels


def test_half_precision_logits_are_each_row_minus_its_maximum_rounded_once():
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(50, 9)) * 5 + rng.uniform(-300, 300, size=(50, 1))).astype(np.float32)
    half = half_precision_logits(logits)
    assert half.dtype == np.float16 and half.shape == logits.shape
    for row, got in zip(logits, half):
        top = max(float(v) for v in row)
        expected = [np.float16(float(v) - top) for v in row]  # Python floats: exact differences, one rounding
        assert got.tolist() == [float(e) for e in expected]
        assert got.max() == 0 and np.argmax(got) == np.argmax(row)
        spacing = np.spacing(np.abs(got)).astype(np.float64)  # float16's step at each value
        assert np.all(np.abs(got.astype(np.float64) - (row.astype(np.float64) - top)) <= spacing / 2)


@pytest.mark.parametrize("n_classes", [2, 7, 40000])
def test_exact_top_logits_and_their_overlay_equal_a_naive_reconstruction(n_classes):
    rng = np.random.default_rng(n_classes)
    n_rows = 3 if n_classes > 1000 else 40
    logits = (np.round(rng.normal(size=(n_rows, n_classes)) * 4) / 4 + 20).astype(np.float32)  # many ties
    top, half = exact_top_logits(logits), half_precision_logits(logits)
    k = min(EXACT_TOP, n_classes)
    assert top.shape == (n_rows,) and top["classes"].shape == (n_rows, k) and top["logits"].dtype == np.float32
    assert top["classes"].dtype == (np.int16 if n_classes <= 32768 else np.int32)
    overlaid = with_exact_top(half, top)
    for row, classes, values, stored, got in zip(logits, top["classes"], top["logits"], half, overlaid):
        largest = max(row.tolist())
        shifted = [v - largest for v in row.tolist()]  # Python floats: exact differences
        assert values.tolist() == sorted(shifted, reverse=True)[:k]  # the k largest, largest first
        assert [shifted[c] for c in classes] == values.tolist() and len(set(classes.tolist())) == k
        naive = [float(v) for v in stored]  # the float16 row, then each top class's exact value
        for c, value in zip(classes.tolist(), values.tolist()):
            naive[c] = value
        assert got.tolist() == naive
    assert overlaid.dtype == np.float32 and np.array_equal(overlaid, float16_store_logits(logits))
    assert np.array_equal(with_exact_top(half[1], top[1]), overlaid[1])  # one row
    assert half.dtype == np.float16 and np.array_equal(half, half_precision_logits(logits))  # the input unchanged


def test_a_float16_store_keeps_shifted_logits_and_reads_them_back(tmp_path):
    logits, labels = grid_logits(1, 2)
    logits["m1"] += 1000.0  # beyond float16's steps of 1/2 at 1000, within them once shifted
    store = make_store(tmp_path / "s", logits, labels, "float16")
    for model_id, values in logits.items():
        folder = store.path / "models" / model_id
        assert np.array_equal(np.load(folder / "logits.npy"), half_precision_logits(values))  # what is kept
        assert np.array_equal(np.load(folder / f"{TOP_LOGITS}.npy"), exact_top_logits(values))
        stored = Store(store.path).logits(model_id)
        read = np.asarray(stored)
        assert stored.dtype == read.dtype == np.float32 and read.shape == values.shape
        shifted = values.astype(np.float64) - values.max(axis=1, keepdims=True)  # exact on the grid
        top = np.argsort(-values, axis=1, kind="stable")[:, :EXACT_TOP]
        rest = np.ones(values.shape, bool)
        np.put_along_axis(rest, top, False, axis=1)
        assert np.array_equal(np.take_along_axis(read, top, axis=1), np.take_along_axis(shifted, top, axis=1))
        spacing = np.spacing(np.abs(shifted).astype(np.float16)).astype(np.float64)  # float16's step there
        assert np.all(np.abs(read - shifted)[rest] <= spacing[rest] / 2) and np.any(read[rest] != shifted[rest])
        assert np.array_equal(read.argmax(axis=1), values.argmax(axis=1))  # top-1 answers are exact
    wide = np.zeros_like(logits["m0"])
    wide[:, 0] = 7e4  # a row spanning more than 65504
    with pytest.raises(NorepError, match="span more than float16.s range"):
        store.add_model("wide", {}, {"logits": wide})
    as_given = make_store(tmp_path / "t", logits, labels).logits("m1")  # float32: exactly as given
    assert as_given.dtype == np.float32 and np.array_equal(as_given, logits["m1"])


def test_the_exact_top_logits_are_checksummed_verified_and_removed_with_the_model(tmp_path, capsys):
    logits, labels = grid_logits(5, 2)
    store = make_store(tmp_path / "s", logits, labels, "float16")
    relpath = f"models/m0/{TOP_LOGITS}.npy"
    assert relpath in store.manifest["files"] and store.has_array("m0", TOP_LOGITS)
    assert main(["verify", str(store.path)]) == 0
    path = store.path / relpath
    np.asarray(Store(store.path).logits("m0"))  # verified and recorded
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # the last row's smallest kept logit, rewritten in place with its old times
    with open(path, "r+b") as handle:
        handle.write(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    capsys.readouterr()
    assert main(["verify", str(store.path)]) == 2
    assert f"{TOP_LOGITS}.npy is corrupt" in capsys.readouterr().err
    store.add_model("m0", {}, {"predictions": labels})  # replaced by a top-1-only model: its top logits go
    assert not path.exists() and relpath not in Store(store.path).manifest["files"]
    assert main(["verify", str(store.path)]) == 0


def test_derived_arrays_of_a_float16_store_follow_its_exact_top_logits(tmp_path):
    logits, labels = grid_logits(6, 1)
    store = make_store(tmp_path / "s", logits, labels, "float16")
    calls = []

    def compute():
        calls.append(1)
        return {"top": np.asarray(store.array("m0", TOP_LOGITS)["logits"])}

    store.derived("m0", "top", {}, compute)
    store.derived("m0", "top", {}, compute)
    assert len(calls) == 1
    store.manifest["files"][f"models/m0/{TOP_LOGITS}.npy"] = "0" * 64  # another companion, same float16 logits
    store.derived("m0", "top", {}, compute)
    assert len(calls) == 2


def test_every_consumer_of_logits_is_unchanged_by_a_constant_added_to_a_row(tmp_path):
    """Why a float16 store may shift its rows: top-1, confidences, temperature fits, the
    calibration table, ensembles of probabilities or logits, greedy growth and the pairs
    table give the same numbers for z and z + c (c: one integer per row, exact on the grid)."""
    logits, labels = grid_logits(2)
    rng = np.random.default_rng(3)
    shifted = {m: v + rng.integers(-60, 60, size=(len(v), 1)).astype(np.float32) for m, v in logits.items()}
    plain, moved = make_store(tmp_path / "plain", logits, labels), make_store(tmp_path / "moved", shifted, labels)
    ids, test_labels = plain.model_ids, plain.labels("test")
    for model_id in ids:
        for temperature in (None, 0.5, 2.0):  # powers of 2: the scaled rows are exact too
            for got, want in zip(top1(moved, model_id, "test", temperature), top1(plain, model_id, "test", temperature)):
                np.testing.assert_array_equal(got, want)
    fitted_plain, fitted_moved = fit_temperatures(plain), fit_temperatures(moved)
    assert fitted_moved == pytest.approx(fitted_plain, rel=1e-5)
    pd.testing.assert_frame_equal(calibration_table(moved), calibration_table(plain), rtol=1e-5)
    fixed = {"m0": 0.5, "m1": 2.0, "m2": 1.0, "m3": 0.25}
    for rule in ("probabilities", "logits"):
        scores = {name: read_scores(store, ids, "test", fixed, rule) for name, store in (("p", plain), ("m", moved))}
        got, want = (pairwise_ensembles(scores[name], test_labels) for name in ("m", "p"))
        np.testing.assert_array_equal(got.accuracy, want.accuracy)
        np.testing.assert_array_equal(got.conversion_rate, want.conversion_rate)
        greedy = [greedy_selection(np.asarray(scores[name]), test_labels, 0, [1, 2, 3], 4) for name in ("m", "p")]
        assert greedy[0] == greedy[1]
    np.testing.assert_array_equal(zoo_ensembles(moved, split="test", calibration_split=None).accuracy,
                                  zoo_ensembles(plain, split="test", calibration_split=None).accuracy)
    table, expected = pairs_table(moved), pairs_table(plain)
    pd.testing.assert_frame_equal(table.drop(columns="ensemble_acc"), expected.drop(columns="ensemble_acc"))
    np.testing.assert_allclose(table["ensemble_acc"], expected["ensemble_acc"], atol=2 / len(test_labels))


def constructed_store(path):
    """Two models near logit 20 (plain float16 steps of 1/64). On test example 0 model a
    prefers the label by 0.005, which a plain cast rounds to a tie (lost to class 0), and
    model b is indifferent, so the ensemble's decision is a's. On test example 1 model a
    is indifferent between classes 0 and 1 and model b, sure of classes 2 and 3, prefers
    the label 1 by 0.0005 at 3 below its maximum, which float16 rounds to a tie even
    after the shift (steps of 1/512 there): only the exact top classes keep it."""
    rng = np.random.default_rng(4)
    n_examples, n_classes = 90, 4
    labels = rng.integers(0, n_classes, n_examples)
    logits = {}
    for model in ("a", "b"):
        values = 20 + rng.normal(size=(n_examples, n_classes))
        values[np.arange(n_examples), labels] += 1.5
        logits[model] = values.astype(np.float32)
    row = n_examples // 3  # the first test example
    labels[row:row + 2] = 1
    logits["a"][row] = [20.0, 20.005, 0.0, 0.0]
    logits["b"][row] = [20.0, 20.0, 20.0, 0.0]
    logits["a"][row + 1] = [20.0, 20.0, -10.0, -10.0]
    logits["b"][row + 1] = [17.0, 17.0005, 20.0, 20.0]
    return make_store(path, logits, labels)


def test_the_float16_store_keeps_ensemble_decisions_that_casting_and_shifting_flip(tmp_path):
    benchmark = load_benchmark()
    store = constructed_store(tmp_path / "source")
    reference = benchmark.rounded_copy(store, tmp_path / "float32", "float32")
    assert reference.logits_dtype == "float32" and np.array_equal(reference.logits("a"), store.logits("a"))
    copies = {rounding: benchmark.rounded_copy(store, tmp_path / rounding, rounding)
              for rounding in benchmark.ROUNDINGS}
    assert copies["float16"].logits_dtype == "float16"
    results = {rounding: benchmark.compare(reference, copy) for rounding, copy in copies.items()}
    kept, shifted, plain = (results[r] for r in ("float16", "shift only", "plain cast"))
    one_example = 100 / len(store.labels("test"))  # points
    flipped = {r: pair_ensemble_correctness(read_scores(copy, ["a", "b"], "test", fit_temperatures(copy)),
                                            copy.labels("test"), [0], [1])[0, :2].tolist()
               for r, copy in {"float32": reference, **copies}.items()}
    # Both constructed examples are right in float32; the plain cast loses both, the shift the second.
    assert flipped == {"float32": [True, True], "float16": [True, True], "shift only": [True, False],
                       "plain cast": [False, False]}
    assert plain["changed"]["ensemble decisions, calibrated"][0] >= 2
    assert shifted["changed"]["ensemble decisions, calibrated"][0] >= 1
    assert plain["ensemble_accuracy_points"] >= 2 * one_example * (1 - 1e-9)
    assert shifted["ensemble_accuracy_points"] >= one_example * (1 - 1e-9)
    assert kept["changed"]["ensemble decisions, calibrated"][0] == 0 and kept["within_limit"]
    assert kept["ensemble_accuracy_points"] == 0 and not plain["within_limit"] and not shifted["within_limit"]
    for name, difference in kept["largest_difference"].items():
        assert 0 <= difference < np.inf, name
    assert kept["largest_difference"]["temperature"] > 0  # the fourth class is rounded: measured, not hidden


def test_the_benchmark_writes_every_store_to_its_json(tmp_path, capsys):
    benchmark = load_benchmark()
    store = constructed_store(tmp_path / "source")
    before = sorted(p.relative_to(store.path) for p in store.path.rglob("*"))
    results = benchmark.main([str(store.path), "--json", str(tmp_path / "out.json")])
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(json.dumps(results))
    (measured,) = results["stores"]
    assert (measured["models"], measured["pairs"], measured["test_examples"]) == (2, 1, 60)
    assert set(measured["roundings"]) == {"float16", "shift only", "plain cast"} and results["limit_points"] == 0.01
    assert results["exact_top"] == EXACT_TOP
    assert "ensemble accuracies move by at most" in capsys.readouterr().out
    assert sorted(p.relative_to(store.path) for p in store.path.rglob("*")) == before  # the source is only read


def test_the_performance_page_reads_each_number_from_the_results():
    def compared(points: float, flips: int, within: bool) -> dict:
        return {"largest_difference": {"temperature": 1.234e-05, "ensemble accuracy, calibrated (points)": points},
                "changed": {"ensemble decisions, calibrated": [flips, 9030000]},
                "ensemble_accuracy_points": points, "within_limit": within}

    results = {"limit_points": 0.01, "exact_top": 3, "command": "python benchmarks/float16_effect.py runs/x",
               "stores": [{"store": "runs/x", "models": 43, "pairs": 903, "test_examples": 10000,
                           "roundings": {"float16": compared(0.02, 46, False), "shift only": compared(0.05, 60, False),
                                         "plain cast": compared(0.03, 458, False)}}]}
    table = appendix.float16_table(results)
    assert table.loc["temperature", ("runs/x", "float16")] == "1.23e-05"
    assert table.loc["ensemble decisions, calibrated changed", ("runs/x", "plain cast")] == "458 of 9,030,000"
    note = appendix.float16_note(results, "out.json").data
    assert "`python benchmarks/float16_effect.py runs/x --json out.json`" in note
    assert "(each row's top 3 classes exact) moves an ensemble accuracy by at most 0.02 points" in note
    assert "at most 0.02 points (46 of 9,030,000 ensemble decisions change): beyond the limit of 0.01" in note
    assert "without the exact top classes moves it by 0.05 points (60 decisions)" in note
    assert "plain cast moves it by 0.03 points (458 decisions)" in note
    assert table.loc["ensemble decisions, calibrated changed", ("runs/x", "shift only")] == "60 of 9,030,000"
    results["stores"][0]["roundings"]["float16"] = compared(0.01, 4, True)
    assert "within the limit" in appendix.float16_note(results, "out.json").data
    assert "not measured yet" in appendix.float16_note(None, "out.json").data
    assert "No measured" in appendix.float16_table(None).data
