"""Every chapter on an ImageNet-shaped store filled by ``norep predict`` with random-initialized models.

The images are generated, the models random: every accuracy is near chance (1/1000),
so the chapters must execute on a degenerate but ImageNet-shaped store with the
ImageNet profile (params/imagenet.yaml) and report numbers consistent with chance.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inference_checks import (
    class_folder_layout,
    imagenet_labels,
    timm_checkpoint,
    tiny_clip_checkpoint,
    write_catalog,
)
from notebook_checks import assert_no_error_or_stderr, output_text
from scipy.stats import binom

from norep.store import Store
from norep.zoo.roster import make_roster

pytestmark = pytest.mark.slow

N_IMAGES = 40
N_CLASSES = 1000
LABELS = imagenet_labels(N_IMAGES, seed=3)
BASE = "timm/test_convnext.r160_in1k"
CLIP = "open_clip/tiny-clip"
# (id, architecture, hyper-parameter recipe, objective, training data): the base's
# methodology with one field changed gives each model its divergence category.
MODELS = [
    (BASE, "test_convnext", "a", "cross-entropy", "ImageNet-1k"),
    ("timm/test_convnext2.r160_in1k", "test_convnext", "b", "cross-entropy", "ImageNet-1k"),  # Hyper-parameters
    ("timm/test_convnext3.r160_in1k", "test_convnext", "c", "cross-entropy", "ImageNet-1k"),  # Hyper-parameters
    ("timm/test_resnet.r160_in1k", "test_resnet", "a", "cross-entropy", "ImageNet-1k"),  # Architecture
    ("timm/test_vit.r160_in1k", "test_vit", "a", "cross-entropy", "ImageNet-1k"),  # Architecture
    ("timm/test_efficientnet.r160_in1k", "test_efficientnet", "a", "dino", "ImageNet-1k"),  # Framework
    ("timm/test_vit2.r160_in1k", "test_vit2", "a", "cross-entropy", "ImageNet-21k"),  # Dataset
    (CLIP, "tiny-clip", "a", "contrastive-image-text", "random-pairs"),  # Dataset (zero-shot)
]
CATEGORIES = {"Hyper-parameters", "Architecture", "Framework", "Dataset"}
REGISTER_AND_RUN = """
import sys
import open_clip
from norep.cli import main
open_clip.add_model_config(sys.argv[1])
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store filled by ``norep predict`` over class-folder ImageNet images."""
    root = tmp_path_factory.mktemp("imagenet")
    data = class_folder_layout(root / "val", LABELS)
    _, clip_checkpoint = tiny_clip_checkpoint(root)
    entries = []
    for model_id, architecture, recipe, objective, data_name in MODELS:
        checkpoint = clip_checkpoint if model_id == CLIP else timm_checkpoint(root, model_id.removeprefix("timm/"))
        entries.append({"id": model_id, "architecture": architecture, "hyperparameters": {"recipe": recipe},
                        "objective": objective, "training_data": data_name, "checkpoint": checkpoint.name})
    catalog = write_catalog(root / "catalog.yaml", entries, base=BASE)
    # The tiny open_clip configuration exists only once registered: a user's own config
    # is registered the same way before calling the command's entry point.
    command = [sys.executable, "-c", REGISTER_AND_RUN, str(root / "tiny-clip.json"), "predict", str(catalog),
               "--data", str(data), "--store", str(root / "store"), "--device", "cpu", "--batch-size", "8",
               "--workers", "0", "--precision", "fp32"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NOREP_CACHE": str(root / "cache")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "store"


def execute_imagenet_chapter(chapter: str, output: Path, store: Path, **parameters):
    """Execute a chapter with the ImageNet profile, its store and base replaced by the test's."""
    import nbformat

    from norep.book.build import CHAPTER_DIR, notebook_parameters, run_chapter

    root = Path(__file__).resolve().parents[1]
    declared = notebook_parameters(root / CHAPTER_DIR / f"{chapter}.py")
    overrides = {"store": store, "base": BASE, "n_bootstrap": 50, "device": "cpu", **parameters}
    with contextlib.chdir(root):
        path = run_chapter(chapter, output, profile="imagenet", parameters=[
            [name, str(value)] for name, value in overrides.items() if name in declared])
    return nbformat.read(path, as_version=4)


def chance_bound(n: int, level: float = 1e-4) -> float:
    """The highest accuracy over ``n`` images that is not rejected as chance (1/1000) at ``level``."""
    return binom.isf(level, n, 1 / N_CLASSES) / n


def test_predict_fills_an_imagenet_shaped_store_with_near_chance_models(store):
    opened = Store(store)
    assert opened.model_ids[0] == BASE and set(opened.model_ids) == {m[0] for m in MODELS}
    assert len(opened.classes) == N_CLASSES
    roster = make_roster(opened, BASE, 0.02)
    assert set(roster.table["category"].dropna()) == CATEGORIES
    np.testing.assert_array_equal(opened.examples["label"], LABELS)
    for model_id in opened.model_ids:
        logits = opened.logits(model_id)
        assert logits.shape == (N_IMAGES, N_CLASSES)
        assert np.mean(logits.argmax(1) == LABELS) <= chance_bound(N_IMAGES)
        assert opened.array(model_id, "embeddings").shape[0] == N_IMAGES


def base_accuracy_in_intro(text: str) -> float:
    """The base's calibration accuracy (a fraction) that a chapter's introduction states."""
    return float(re.search(r"base's (\d+\.\d)%", text).group(1)) / 100


def calibration_accuracy(store: Path, model_id: str) -> float:
    opened = Store(store)
    calibration = (opened.examples["split"] == "calibration").to_numpy()
    return float(np.mean(opened.logits(model_id).argmax(1)[calibration] == LABELS[calibration]))


def check_chapter(chapter: str, store: Path, output: Path) -> str:
    """Execute a chapter; check that it stated the base's near-chance accuracy; return its text."""
    notebook = execute_imagenet_chapter(chapter, output / f"{chapter}.ipynb", store)
    assert_no_error_or_stderr(notebook)
    text = output_text(notebook)
    n_calibration = int((Store(store).examples["split"] == "calibration").sum())
    stated = base_accuracy_in_intro(text)
    assert stated == pytest.approx(calibration_accuracy(store, BASE), abs=0.0005)
    assert stated <= chance_bound(n_calibration)
    return text


def test_zoo_chapter_reports_near_chance_accuracies(store, tmp_path):
    text = check_chapter("zoo", store, tmp_path)
    assert f"{len(MODELS)} models" in text
    assert all(category in text for category in CATEGORIES)


def test_error_inconsistency_chapter(store, tmp_path):
    text = check_chapter("error_inconsistency", store, tmp_path)
    assert "error inconsistency" in text


def test_ensembles_chapter(store, tmp_path):
    text = check_chapter("ensembles", store, tmp_path)
    assert "ensemble accuracy" in text


def test_specialization_chapter_says_the_angles_have_nothing_to_show(store, tmp_path):
    text = check_chapter("specialization", store, tmp_path)
    # Every model at chance: no test image has exactly one model of a pair right.
    assert "0 pairs have confidences on both sides" in text
    opened = Store(store)
    test = (opened.examples["split"] == "test").to_numpy()
    accuracies = [100 * np.mean(opened.logits(m).argmax(1)[test] == LABELS[test]) for m in opened.model_ids]
    assert f"Nothing to show: no pair of {BASE}" in text and "class spread" in text
    assert f"test accuracies {min(accuracies):.1f}% to {max(accuracies):.1f}%" in text


def test_low_accuracy_chapter_says_there_is_no_greedy_run(store, tmp_path):
    text = check_chapter("low_accuracy", store, tmp_path)
    # Every model at the same (zero) accuracy: no anchor has a weaker candidate.
    cap = 100 * (calibration_accuracy(store, BASE) + 0.02)  # the ImageNet profile's band
    assert f"Nothing to show: none of the 3 anchors has a member under the cap ({cap:.1f}%)" in text
    assert "No greedy run added a member" in text


def test_feature_overlap_chapter_trains_probes_on_the_calibration_split(store, tmp_path):
    text = check_chapter("feature_overlap", store, tmp_path)
    opened = Store(store)
    n_calibration, n_test = (int((opened.examples["split"] == s).sum()) for s in ("calibration", "test"))
    held = int(0.2 * n_calibration)
    assert (f"Probe rows (the store has no probe split: its calibration split): {n_calibration - held} for "
            f"training, {held} held out for the L2 choice; scored on {n_test} test examples (1000 classes") in text


def test_downstream_chapter_without_a_folder_asks_for_one(store, tmp_path):
    notebook = execute_imagenet_chapter("downstream", tmp_path / "downstream.ipynb", store)
    assert_no_error_or_stderr(notebook)
    text = output_text(notebook)
    assert "Nothing to evaluate" in text and "imagenet-1k" in text and "pass a downstream image folder" in text
