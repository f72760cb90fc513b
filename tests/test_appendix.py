"""The appendix pages' tables (norep.book.appendix) and the two appendix notebooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_checks import assert_no_error_or_stderr, output_text

from norep.book import appendix
from norep.book import build as book
from norep.errors import NorepError

ROOT = Path(__file__).resolve().parents[1]
FAKE_BENCHMARK = """import json, sys
arguments = dict(a[2:].split("=", 1) for a in sys.argv[1:-2])
if "fail" in arguments:
    sys.exit("out of memory at N=5")
print("measured")
json.dump(arguments, open(sys.argv[-1], "w"))
"""


@pytest.fixture
def book_folder(tmp_path, monkeypatch):
    """A book folder (the working directory) with one fake benchmark script."""
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "fake.py").write_text(FAKE_BENCHMARK)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_package_versions_lists_python_and_each_package():
    table = appendix.package_versions(("pandas", "no-such-package-here"))
    assert table.index.tolist() == ["python", "pandas", "no-such-package-here"]
    assert table.loc["pandas", "version"] == pd.__version__
    assert table.loc["no-such-package-here", "version"] == "not installed"


def test_device_table_on_the_cpu():
    table = appendix.device_table("cpu")["value"]
    assert (table["requested"], table["used"], table["GPU"]) == ("cpu", "cpu", "none")
    assert table["CPU cores"] == os.cpu_count()


def test_store_table_counts_what_is_on_disk(synthetic_store):
    table = appendix.store_table(str(synthetic_store.path))["value"]
    # The examples table and, per model, logits, embeddings and meta.json.
    files = [synthetic_store.path / "examples.parquet"]
    files += [path for path in (synthetic_store.path / "models").rglob("*") if path.is_file()]
    assert len(files) == 1 + 6 * 3
    assert table["files verified against their sha256"] == len(files)
    assert table["size (MB)"] == round(sum(path.stat().st_size for path in files) / 1e6, 1)
    assert table["examples"] == "calibration 300, test 600"
    assert (table["models"], table["classes"], table["dataset"]) == (6, 5, "synthetic")


def test_store_table_names_a_corrupt_file(synthetic_store):
    path = synthetic_store.path / "models" / "base" / "logits.npy"
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(NorepError, match="logits.npy is corrupt"):
        appendix.store_table(str(synthetic_store.path))


def test_run_benchmark_passes_options_and_reads_the_results(book_folder, capsys):
    assert appendix.run_benchmark("fake.py", loop_pairs=5, seed=0) == {"loop-pairs": "5", "seed": "0"}
    assert capsys.readouterr().out == "measured\n"
    with pytest.raises(NorepError, match="benchmark fake.py failed: out of memory at N=5"):
        appendix.run_benchmark("fake.py", fail=1)


RESULTS = {"models": 3, "examples": 10, "classes": 4, "pairs": 3, "fast_seconds": 0.0123,
           "ratio": 12.34567, "target_ratio": 50, "exact": True}


def test_benchmark_tables_take_each_number_from_its_result():
    pairs = {**RESULTS, "loop_seconds_extrapolated": 0.15184, "ratio_median": 11.1111,
             "accuracy_range": [0.5, 0.75], "ratio_cpu": 3.14159, "cpu_count": 2,
             "load_average_1min_before": 1.5}
    ensembles = {**RESULTS, "pairs": 45, "dense_seconds": 2.0, "undecided_share": 0.01,
                 "accuracy_range": [0.6, 0.8], "load_average_1min": 2.5}
    table = appendix.benchmark_table(pairs, ensembles)
    first, second = table.iloc[0], table.iloc[1]
    assert first["size (N x M x C)"] == "3 x 10 x 4" and first["baseline (s)"] == 0.152
    assert (first["ratio"], first["ratio (medians)"], first["fast (s)"]) == (12.346, 11.111, 0.012)
    assert second["pairs"] == 45 and second["baseline (s)"] == 2.0 and pd.isna(second["ratio (medians)"])
    notes = appendix.benchmark_notes(pairs, ensembles)["value"]
    assert notes["pairs: accuracies of the synthetic models"] == "0.50-0.75"
    assert notes["pairs: ratio of process CPU times (all threads)"] == 3.1
    assert notes["load average (1 min) after the runs"] == 2.5


def test_probe_table_takes_each_number_from_its_result():
    probe = {"source": "synthetic", "examples": 300, "features": 8, "classes": 3, "probe_seconds": 0.12345,
             "sklearn_seconds": 0.5, "ratio": 4.0502, "target_ratio": 3.0, "probe_accuracy": 0.91234,
             "sklearn_accuracy": 0.9, "accuracy_gap_points": 1.234, "probe_iterations": 9, "sklearn_iterations": 12,
             "probe_objective": 0.4321234, "sklearn_objective": 0.4321, "matched_ratio": 2.5,
             "matched_seconds": 0.2, "matched_objective": 0.43201, "torch_threads": 1, "cpu_count": 2,
             "load_average_1min_before": 0.5, "load_average_1min": 1.25}
    table = appendix.probe_table({"this page": probe, "saved": None, "other": {**probe, "ratio": 9.0}})
    assert table.columns.tolist() == ["this page", "other"]
    column = table["this page"]
    assert column["size (M x D x K)"] == "300 x 8 x 3" and column["probe (s)"] == 0.123
    assert (column["ratio"], column["probe test accuracy (%)"]) == (4.05, 91.23)
    assert column["L-BFGS iterations: probe / scikit-learn"] == "9 / 12"
    assert column["objective: probe / scikit-learn"] == "0.432123 / 0.432100"
    assert column["probe to scikit-learn's objective: seconds / objective"] == "0.200 / 0.432010"
    assert column["ratio at scikit-learn's objective"] == 2.5
    assert column["load average (1 min) before / after"] == "0.50 / 1.25"
    assert table["other"]["ratio"] == 9.0


@pytest.mark.notebooks
def test_reproducibility_page_runs_on_a_store(synthetic_store, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    output = book.run_chapter("book/appendix/reproducibility.py", tmp_path / "r.ipynb",
                              parameters=[["store", str(synthetic_store.path)], ["device", "cpu"]])
    notebook = nbformat.read(output, as_version=4)
    assert_no_error_or_stderr(notebook)
    text = output_text(notebook)
    assert "calibration 300, test 600" in text and "synthetic" in text


@pytest.mark.notebooks
def test_performance_page_runs_the_benchmarks(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    small = [["pairs_models", "6"], ["pairs_examples", "200"], ["pairs_classes", "10"],
             ["loop_pairs", "5"], ["ensemble_models", "4"], ["ensemble_examples", "100"],
             ["ensemble_classes", "10"], ["repeat", "1"], ["probe_examples", "300"],
             ["probe_features", "8"], ["probe_classes", "3"]]
    output = book.run_chapter("book/appendix/performance.py", tmp_path / "p.ipynb", parameters=small)
    notebook = nbformat.read(output, as_version=4)
    assert_no_error_or_stderr(notebook)
    text = output_text(notebook)
    assert "6 x 200 x 10" in text and "4 x 100 x 10" in text and "300 x 8 x 3" in text
    assert json.dumps(notebook.metadata["papermill"]["parameters"]["repeat"]) == "1"
