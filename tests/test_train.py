"""Training the mini zoo: every recipe, determinism, resume after SIGKILL, CLI errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from norep.errors import NorepError
from norep.producers.learners import _augment, _matching_accuracy, _nt_xent
from norep.producers.train import train_zoo
from norep.runtime import resolve_jobs
from norep.store import Store

pytestmark = pytest.mark.slow

TINY_SPLITS = "{seed: 0, calibration: 300, probe: 100, subsets: [train-A, train-B], subset_size: 600, test: 400}"


def tiny_spec(tmp_path, models: str, name="zoo.yaml"):
    path = tmp_path / name
    path.write_text(f"""
name: tiny
dataset: fashion-mnist
base: base
target_accuracy: 0.7
splits: {TINY_SPLITS}
defaults: {{architecture: cnn, objective: cross-entropy, training_data: train-A}}
models:
  - {{id: base, seed: 0, hyperparameters: {{epochs: 1, batch_size: 64}}}}
{models}
""")
    return path


EVERY_RECIPE = """
  - {id: seed1, seed: 1, hyperparameters: {epochs: 1, batch_size: 64, augmentation: shift-flip}}
  - {id: mlp, seed: 2, architecture: mlp, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: mlp-deep, seed: 3, architecture: mlp-deep, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: lenet, seed: 4, architecture: lenet, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: resnet, seed: 5, architecture: timm-resnet, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: vit, seed: 6, architecture: timm-vit, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: convnext, seed: 7, architecture: timm-convnext, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: distilled, seed: 8, objective: distillation, architecture: mlp,
     hyperparameters: {epochs: 1, batch_size: 64, teacher: lenet}}
  - {id: hinge, seed: 9, objective: hinge, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: simclr, seed: 10, objective: nt-xent, hyperparameters: {pretrain_epochs: 1, pretrain_batch_size: 128, epochs: 2}}
  - {id: logreg, seed: 11, architecture: logistic-regression, hyperparameters: {max_iter: 50}}
  - {id: forest, seed: 12, architecture: random-forest, objective: gini-impurity, hyperparameters: {n_estimators: 20}}
  - {id: knn, seed: 13, architecture: k-nearest-neighbours, objective: nearest-neighbours}
  - {id: svm, seed: 14, architecture: rbf-svm, objective: hinge, hyperparameters: {n_components: 200}}
  - {id: other-half, seed: 15, training_data: train-B, role: data-only, hyperparameters: {epochs: 1, batch_size: 64}}
  - {id: same-seed, seed: 0, role: same-seed, hyperparameters: {epochs: 1, batch_size: 64, dropout: 0.2}}
  - {id: control, seed: 16, role: accuracy-control,
     hyperparameters: {epochs: 2, batch_size: 64, train_fraction: 0.25, checkpoint: final}}
"""


def test_every_recipe_trains_into_the_store(tmp_path, fashion_mnist):
    store = train_zoo(tiny_spec(tmp_path, EVERY_RECIPE), tmp_path / "store")
    store.verify()
    assert len(store.model_ids) == 18
    models = store.models.set_index("model_id")
    labels = store.labels("test")
    for model_id in store.model_ids:
        logits = store.logits(model_id)
        assert logits.shape == (300 + 100 + 400, 10) and np.isfinite(logits).all()
        recomputed = float((logits[store.rows("test")].argmax(1) == labels).mean())
        assert models.loc[model_id, "test_accuracy"] == pytest.approx(recomputed)
    # 600 training images and one epoch: the recipes must learn, not be good.
    assert models["test_accuracy"].mean() > 0.3
    neural = ["base", "seed1", "mlp", "mlp-deep", "lenet", "resnet", "vit", "convnext", "distilled", "hinge",
              "simclr", "other-half", "same-seed", "control"]
    assert all(store.has_array(m, "embeddings") for m in neural)
    assert not store.has_array("forest", "embeddings")
    assert models.loc["other-half", "category"] == "Dataset"
    assert models.loc["simclr", "category"] == "Framework"
    assert models.loc["logreg", "category"] == "Architecture"
    assert models.loc["hinge", "category"] == "Framework"
    assert models.loc[["other-half", "same-seed", "control"], "role"].tolist() == ["data-only", "same-seed",
                                                                                 "accuracy-control"]
    # The control trains to the end of its schedule on a quarter of the 600 images:
    # two epochs of 3 batches of 64 (150 images), its last weights kept.
    assert models.loc["control", "selected_step"] == models.loc["control", "total_steps"] == 6
    assert pd.isna(models.loc["control", "target_accuracy"])
    assert pd.isna(models.loc["base", "category"])
    # Accuracy matching: the kept checkpoint is one of those evaluated, within the run.
    assert (models.loc[neural, "selected_step"] <= models.loc[neural, "total_steps"]).all()


def test_checkpoint_nearest_the_target_is_kept(tmp_path, fashion_mnist):
    spec = tiny_spec(tmp_path, "  - {id: low, seed: 1, hyperparameters: {epochs: 2, batch_size: 64, "
                               "target_accuracy: 0.4, evals_per_epoch: 8}}")
    store = train_zoo(spec, tmp_path / "store")
    models = store.models.set_index("model_id")
    # The low target is kept early, nearer 0.4 than the base's checkpoint; training stops
    # at the first evaluation after it that is above the target and farther from it.
    assert models.loc["low", "selected_step"] < models.loc["low", "trained_steps"] < models.loc["low", "total_steps"]
    assert abs(models.loc["low", "calibration_accuracy"] - 0.4) < abs(models.loc["base", "calibration_accuracy"] - 0.4)
    assert models.loc["low", "category"] == "Hyper-parameters"


def test_checkpoints_far_below_the_target_are_screened_out():
    # Inputs are one-hot predictions: right on half of the screen's 1,000 images and on
    # every other one, so the screen reads 0.5 and the whole split 0.75.
    predictions = np.arange(2000) % 10
    labels = predictions.copy()
    labels[:1000:2] = (labels[:1000:2] + 1) % 10
    calibration = (torch.nn.functional.one_hot(torch.from_numpy(predictions), 10).float(), labels)
    assert _matching_accuracy(torch.nn.Identity(), calibration, target=0.8, last=False) is None
    assert _matching_accuracy(torch.nn.Identity(), calibration, target=0.8, last=True) == 0.75
    assert _matching_accuracy(torch.nn.Identity(), calibration, target=0.55, last=False) == 0.75


def test_jobs_default_to_one_per_core_and_refuse_fewer_than_one():
    assert resolve_jobs(None) == len(os.sched_getaffinity(0))
    assert resolve_jobs(3) == 3
    with pytest.raises(NorepError, match="--jobs must be at least 1, got 0"):
        resolve_jobs(0)


def test_augmentation_shifts_and_flips_within_bounds():
    x = torch.zeros(64, 1, 28, 28)
    x[:, 0, 10, 3] = 1.0
    out = _augment(x, torch.Generator().manual_seed(0))
    rows, cols = np.nonzero(out[:, 0].sum(0).numpy())
    assert set(rows) <= set(range(8, 13))
    assert set(cols) <= set(range(1, 6)) | set(range(22, 27))  # shifted, or flipped then shifted
    assert out.sum() == 64


def test_nt_xent_prefers_matching_views():
    z = torch.randn(8, 16)
    aligned = _nt_xent(torch.cat([z, z]), temperature=0.5)
    shuffled = _nt_xent(torch.cat([z, z[torch.randperm(8)]]), temperature=0.5)
    assert aligned < shuffled


def run_cli(*args, env_extra=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "norep.cli", *map(str, args)], capture_output=True,
                          text=True, env=env)


RESUME_MODELS = """
  - {id: seed1, seed: 1, hyperparameters: {epochs: 1, batch_size: 32}}
  - {id: seed2, seed: 2, hyperparameters: {epochs: 1, batch_size: 32}}
  - {id: seed3, seed: 3, hyperparameters: {epochs: 1, batch_size: 32}}
  - {id: mlp, seed: 4, architecture: mlp, hyperparameters: {epochs: 1, batch_size: 32}}
"""


def comparable(store: Store) -> dict:
    """Everything of a store except wall-clock timings, which no two runs share."""
    files = {k: v for k, v in store.manifest["files"].items() if k.endswith(".npy") or k == "examples.parquet"}
    return {"files": files, "models": store.models.drop(columns=["train_seconds"]).to_dict("list")}


def test_sigkill_then_restart_recomputes_only_unfinished_models(tmp_path, fashion_mnist):
    spec = tiny_spec(tmp_path, RESUME_MODELS)
    killed_store = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "norep.cli", "zoo", "train", str(spec), "--store",
                                str(killed_store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (killed_store / "manifest.json").exists() and len(Store(killed_store).model_ids) >= 2:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = Store(killed_store).model_ids
    assert 2 <= len(finished) < 5, "the kill must land mid-run"
    before = {m: Store(killed_store).manifest["files"][f"models/{m}/meta.json"] for m in finished}

    resumed = run_cli("zoo", "train", spec, "--store", killed_store)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} of 5 models done" in resumed.stdout + resumed.stderr
    after = Store(killed_store)
    after.verify()
    assert {m: after.manifest["files"][f"models/{m}/meta.json"] for m in finished} == before

    # One process instead of the CLI's one per core: each model's weights do not depend on
    # how many train beside it, and the store lists the models in the spec's order.
    uninterrupted = train_zoo(spec, tmp_path / "uninterrupted", jobs=1)
    assert comparable(after) == comparable(uninterrupted)
    assert uninterrupted.model_ids == ["base", "seed1", "seed2", "seed3", "mlp"]


def test_cli_reports_bad_input_in_one_line(tmp_path, fashion_mnist):
    def one_line_error(result, fragment):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("norep: error:") and fragment in lines[0], lines

    one_line_error(run_cli("zoo", "train", tmp_path / "none.yaml", "--store", tmp_path / "s"), "does not exist")
    bad = tiny_spec(tmp_path, "  - {id: x, seed: 1, architecture: transformer-xl}", "bad.yaml")
    one_line_error(run_cli("zoo", "train", bad, "--store", tmp_path / "s"), "unknown architecture 'transformer-xl'")
    typo = tiny_spec(tmp_path, "  - {id: x, seed: 1, hyperparameters: {learning_rate: 0.1}}", "typo.yaml")
    one_line_error(run_cli("zoo", "train", typo, "--store", tmp_path / "s"), "unknown hyperparameter(s) ['learning_rate']")
    one_line_error(run_cli("zoo", "train", bad, "--store", tmp_path / "s", "--data", tmp_path),
                   "does not hold the four Fashion-MNIST IDX files")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    good = tiny_spec(tmp_path, "", "good.yaml")
    one_line_error(run_cli("zoo", "train", good, "--store", blocker / "store"), "cannot write the store")

    store = train_zoo(good, tmp_path / "store")
    changed = tiny_spec(tmp_path, "", "changed.yaml")
    changed.write_text(changed.read_text().replace("epochs: 1, batch_size: 64", "epochs: 2, batch_size: 64"))
    one_line_error(run_cli("zoo", "train", changed, "--store", store.path), "trained from another version")
    parquet = store.path / "examples.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-10])
    one_line_error(run_cli("zoo", "train", good, "--store", store.path), "examples.parquet is corrupt")


def test_ci_profile_trains_a_store_with_every_category(ci_store):
    models = ci_store.models
    assert set(models["category"].dropna()) == {"Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"}
    assert set(models["role"]) == {"member", "same-seed", "data-only", "accuracy-control"}
    members = models[models["role"] == "member"]
    assert members["category"].value_counts().min() >= 2
    # Every model but the same-seed lesson trains from a seed of its own.
    assert not models.loc[models["role"] != "same-seed", "seed"].duplicated().any()
    base = models.set_index("model_id").loc["cnn-seed0"]
    assert base["test_accuracy"] > 0.8
    ci_store.verify()
