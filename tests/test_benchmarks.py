"""The benchmark scripts run at a small size and keep their exactness claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, tmp_path: Path, *options: str) -> dict:
    output = tmp_path / f"{script}.json"
    subprocess.run([sys.executable, str(BENCHMARKS / f"{script}.py"), *options, "--json", str(output)],
                   check=True, capture_output=True, text=True, timeout=600)
    return json.loads(output.read_text())


def test_pairs_speed_small(tmp_path):
    results = run("pairs_speed", tmp_path, "--models", "60", "--examples", "4000", "--classes", "100",
                  "--loop-pairs", "200", "--repeat", "1")
    assert results["exact"] and results["max_abs_difference"] <= 1e-12
    assert results["loop_pairs_timed"] == 200 and results["pairs"] == 60 * 59 // 2
    assert results["fast_seconds"] > 0 and results["ratio"] > 0
    assert 0.5 < results["accuracy_range"][0] <= results["accuracy_range"][1] < 0.95


def test_ensemble_speed_small(tmp_path):
    results = run("ensemble_speed", tmp_path, "--models", "8", "--examples", "1500", "--classes", "200",
                  "--repeat", "1")
    assert results["exact"] and results["mismatched_pairs"] == 0
    assert results["pairs"] == 28 and results["fast_seconds"] > 0 and results["dense_seconds"] > 0
    assert 0 <= results["undecided_share"] < 0.1


def test_probe_speed_small(tmp_path):
    results = run("probe_speed", tmp_path, "--examples", "2000", "--features", "32", "--classes", "5")
    # The two fits solve the same problem: their test accuracies agree within 0.5 points.
    assert results["accuracy_gap_points"] <= 0.5
    assert results["accuracy_gap_points"] == 100 * abs(results["probe_accuracy"] - results["sklearn_accuracy"])
    assert (results["examples"], results["features"], results["classes"]) == (2000, 32, 5)
    assert results["torch_threads"] == 1 and results["sklearn_iterations"] > 0 and results["probe_iterations"] > 0
    assert results["ratio"] == results["sklearn_seconds"] / results["probe_seconds"]
    # Timed to scikit-learn's objective: it gets there (or was there already).
    assert results["matched_objective"] <= results["sklearn_objective"] + 1e-6
    assert results["matched_ratio"] == results["sklearn_seconds"] / results["matched_seconds"]


def test_probe_speed_on_zoo_embeddings(ci_store, tmp_path):
    """Correlated features (two CI networks' embeddings): whitened L-BFGS needs fewer iterations."""
    results = run("probe_speed", tmp_path, "--store", str(ci_store.path), "--networks", "cnn-seed0,cnn-B-seed51",
                  "--examples", "2000")
    assert (results["examples"], results["features"], results["classes"]) == (2000, 256, 10)
    assert "cnn-seed0, cnn-B-seed51" in results["source"]
    assert results["accuracy_gap_points"] <= 0.5
    assert results["probe_iterations"] < results["sklearn_iterations"]


def test_scale_small(tmp_path):
    """CI runs the scale benchmark at N = 10 (on fewer examples and classes than ImageNet)."""
    results = run("scale", tmp_path, "--models", "10", "--examples", "3000", "--classes", "100",
                  "--chapters", "zoo", "--n-bootstrap", "20", "--root", str(tmp_path / "stores"))
    (measured,) = results["runs"]
    assert (measured["models"], measured["examples"], measured["classes"]) == (10, 3000, 100)
    assert measured["cached_equals_cold"]  # derived arrays cached in the store change nothing
    assert set(measured["commands"]) == {"pairs (cold)", "pairs (cached)", "zoo"}
    for command in measured["commands"].values():
        assert command["ok"] and command["error"] is None
        assert 0 < command["peak_gb"] <= results["target_peak_gb"] and command["seconds"] > 0
    assert 0.6 < measured["accuracy_range"][0] <= measured["accuracy_range"][1] < 0.95
    assert not list((tmp_path / "stores").iterdir())  # the store is deleted without --keep



@pytest.mark.skipif(not (BENCHMARKS.parent / "runs" / "fashion_mnist_ci" / "manifest.json").is_file(),
                    reason="needs the CI store")
def test_course_times_measures_one_chapter(tmp_path, monkeypatch):
    """One chapter (the zoo) with the course profile on the CI store, and the table the pages show of it."""
    import os
    import time

    import nbformat
    import yaml

    from norep.book.appendix import course_note, course_table

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(tmp_path)  # relative --json and --notebooks are read from here
    course_times = __import__("course_times")
    store = str(BENCHMARKS.parent / "runs" / "fashion_mnist_ci")
    start = time.perf_counter()
    results = course_times.main(["--store", store, "--chapters", "zoo", "--json", "course.json",
                                 "--notebooks", "executed"])
    elapsed = time.perf_counter() - start
    assert json.loads((tmp_path / "course.json").read_text()) == results
    (measured,) = results["chapters"].values()
    assert measured["ok"] and measured["error"] is None
    # papermill's own clock runs inside the measured process: it cannot exceed the wall time.
    notebook = nbformat.read(tmp_path / "executed" / "zoo.ipynb", as_version=4)
    assert 0 < notebook.metadata["papermill"]["duration"] <= measured["seconds"] <= elapsed
    assert 0 < measured["cpu_seconds"] <= measured["seconds"] * os.cpu_count()
    course = yaml.safe_load((BENCHMARKS.parent / "params" / "course.yaml").read_text())
    ran_with = notebook.metadata["papermill"]["parameters"]
    assert ran_with["store"] == store and ran_with["n_bootstrap"] == course["n_bootstrap"]
    assert measured["load_average_1min_before"] >= 0 and measured["load_average_1min_after"] >= 0
    row = course_table(results).loc["zoo"]
    assert row["wall (s)"] == measured["seconds"] and row["CPU (s)"] == measured["cpu_seconds"]
    assert row["under 60 s?"] == ("yes" if measured["seconds"] < 60 else "no")
    assert f"{int(measured['seconds'] < 60)} of 1 chapters" in course_note(results).data
    with pytest.raises(SystemExit):  # a store without a manifest is refused before anything runs
        course_times.main(["--store", str(tmp_path), "--chapters", "zoo"])
    with pytest.raises(SystemExit):
        course_times.main(["--store", store, "--chapters", "no_such_chapter"])
