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
    assert results["torch_threads"] == 1 and results["sklearn_iterations"] > 0
    assert results["ratio"] == results["sklearn_seconds"] / results["probe_seconds"]


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
