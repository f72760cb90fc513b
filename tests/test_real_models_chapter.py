"""Execute the chapter "Real models, real errors" on the shared copies of ImageNet-X and model-vs-human.

The chapter runs once per module with papermill (through ``norep.book.run_chapter`` and
the CI profile) into temporary stores, which it fills itself from ``../shared/data``;
the tests then read the executed notebook.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_checks import assert_no_error_or_stderr, output_text, outputs

from norep.book import build as book
from norep.producers.importers.model_vs_human import DATASETS

pytestmark = pytest.mark.notebooks
ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "chapters" / "real_models.py"
SHARED = ROOT.parent / "shared" / "data"
IMAGENET_X = SHARED / "imagenet-x"
MODEL_VS_HUMAN = SHARED / "model-vs-human"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The executed chapter and the folder holding the stores it filled."""
    if not (IMAGENET_X / "labels.csv").is_file() or not MODEL_VS_HUMAN.is_dir():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"the shared copies are missing under {SHARED}")
        pytest.skip(f"no shared copies of ImageNet-X and model-vs-human under {SHARED}")
    folder = tmp_path_factory.mktemp("real_models")
    with contextlib.chdir(ROOT):
        path = book.run_chapter("real_models", folder / "real_models.ipynb", profile="ci", parameters=[
            ["imagenet_x_store", str(folder / "imagenet-x")],
            ["imagenet_x_source", str(IMAGENET_X)],
            ["model_vs_human_store", str(folder / "model-vs-human")],
            ["model_vs_human_source", str(MODEL_VS_HUMAN)],
        ])
    return nbformat.read(path, as_version=4), folder


def test_parameters_cell_names_the_stores_and_sources():
    parameters = book.notebook_parameters(CHAPTER)
    assert {"imagenet_x_store", "imagenet_x_source", "model_vs_human_store", "model_vs_human_source",
            "n_bootstrap", "seed"} <= set(parameters)
    # Profile keys that point at the mini zoo must not leak into this chapter.
    assert not {"store", "base"} & set(parameters)


def test_chapter_runs_without_errors_or_stderr(executed):
    notebook, _ = executed
    assert_no_error_or_stderr(notebook)


def test_chapter_has_its_figures(executed):
    notebook, _ = executed
    figures = [output for output in outputs(notebook) if "image/png" in output.get("data", {})]
    # matrix, pair ranking, per-range specialization, factor and metaclass specialization,
    # theta histograms, model-vs-human dot plot
    assert len(figures) >= 6


def test_chapter_filled_the_stores(executed):
    _, folder = executed
    assert (folder / "imagenet-x" / "manifest.json").is_file()
    filled = sorted(d.name for d in (folder / "model-vs-human").iterdir() if (d / "manifest.json").is_file())
    assert filled == sorted(DATASETS)


def test_numbers_are_computed_from_the_predictions(executed):
    """The chapter's ResNet-50 accuracy equals the one recomputed here from the raw CSV files."""
    notebook, _ = executed
    labels = pd.read_csv(IMAGENET_X / "labels.csv").set_index("file_name")["label"]
    predictions = pd.read_csv(IMAGENET_X / "ResNet50.csv").set_index("file_name")["predicted_class"]
    accuracy = (predictions.reindex(labels.index) == labels).mean()
    text = output_text(notebook)
    assert f"{100 * accuracy:.1f} [" in text
    assert "reproduces?" in text and "Paper vs this book" in "".join(cell.source for cell in notebook.cells)
    for dataset in DATASETS:
        assert dataset in text
