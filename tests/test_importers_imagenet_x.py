"""ImageNet-X importer: hand-worked files, bad input, the shared copies, the command line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from importer_checks import assert_refused

from norep.cli import main
from norep.datasets.imagenet import class_range
from norep.producers.importers import import_predictions
from norep.producers.importers.imagenet_x import UPSTREAM
from norep.store import Store, read_outcomes, top1

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "imagenet-x"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared copies not found at {SHARED}")

# Five real validation images: label, ResNet50 (class, prob), DINO (class, prob).
HAND = {
    "ILSVRC2012_val_00000001.JPEG": (65, (65, 0.9), (65, 0.6)),
    "ILSVRC2012_val_00000002.JPEG": (970, (970, 0.8), (1, 0.5)),
    "ILSVRC2012_val_00000003.JPEG": (230, (231, 0.4), (230, 0.9)),
    "ILSVRC2012_val_00000004.JPEG": (809, (809, 0.7), (809, 0.95)),
    "ILSVRC2012_val_00000014.JPEG": (757, (0, 0.3), (757, 0.55)),
}


def write_hand_files(folder: Path) -> Path:
    """Write labels.csv, ResNet50.csv and DINO.csv (rows in different orders)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(HAND)
    lines = ["file_name,label"] + [f"{n},{HAND[n][0]}" for n in names]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    for column, model in ((1, "ResNet50"), (2, "DINO")):
        rows = [f"{n},{HAND[n][column][0]},{HAND[n][column][1]}" for n in reversed(names)]
        (folder / f"{model}.csv").write_text(
            "\n".join(["file_name,predicted_class,predicted_probability"] + rows) + "\n")
    return folder


def test_hand_worked_import(tmp_path):
    import_predictions("imagenet-x", str(write_hand_files(tmp_path / "in")), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert store.model_ids == ["DINO", "ResNet50"]
    assert store.examples["example_id"].tolist() == sorted(HAND)
    assert store.examples["split"].unique().tolist() == ["test"]
    correct = read_outcomes(store, None).correct
    # ResNet50 right on images 1, 2, 4 (3/5); DINO on 1, 3, 4, 14 (4/5).
    assert correct[1].tolist() == [True, True, False, True, False]
    assert correct[0].tolist() == [True, False, True, True, True]
    both, exactly_one = (correct[0] & correct[1]).sum(), (correct[0] ^ correct[1]).sum()
    assert (both, exactly_one) == (2, 3)
    predictions, confidences = top1(store, "ResNet50")
    assert predictions.tolist() == [65, 970, 231, 809, 0]
    np.testing.assert_allclose(confidences, [0.9, 0.8, 0.4, 0.7, 0.3])
    meta = store.meta("DINO")
    assert meta["objective"] == "dino"
    assert meta["architecture"] is None
    resnet = store.meta("ResNet50")
    assert (resnet["architecture"], resnet["objective"], resnet["training_data"]) == (
        "ResNet-50", "cross-entropy", "ImageNet-1k")


def test_hand_worked_subdomains(tmp_path):
    import_predictions("imagenet-x", str(write_hand_files(tmp_path / "in")), str(tmp_path / "store"))
    examples = Store(tmp_path / "store").examples.set_index("example_id")
    assert examples["class_range"].tolist() == ["nature", "other", "nature", "anthropogenic", "anthropogenic"]
    assert examples["metaclass"].tolist() == ["snake", "other", "dog", "other", "wheeled_vehicle"]
    assert examples["top_factor"].tolist()[:4] == ["background", "background", "background", "color"]
    assert pd.isna(examples["top_factor"].iloc[4])  # image 14 has no ImageNet-X annotation
    assert examples["factor_pose"].tolist()[:4] == [True, False, True, True]
    assert examples["factor_texture"].tolist()[:4] == [True, False, False, False]
    assert pd.isna(examples["factor_pose"].iloc[4])
    assert examples["prototype"].tolist() == [False, False, False, False, True]


def test_class_range_boundaries():
    assert class_range(np.array([0, 299, 300, 499, 500, 899, 900, 999])).tolist() == [
        "nature", "nature", "other", "other", "anthropogenic", "anthropogenic", "other", "other"]


def _edit(folder: Path, name: str, edit) -> None:
    path = folder / name
    path.write_text(edit(path.read_text()))


@pytest.mark.parametrize("name, edit, message", [
    ("ResNet50.csv", lambda t: t.replace("970,0.8", "1000,0.8"), "unknown class index '1000'"),
    ("ResNet50.csv", lambda t: t.replace("970,0.8", "-1,0.8"), "unknown class index '-1'"),
    ("labels.csv", lambda t: t.replace(",65", ",6.5"), "unknown class index '6.5'"),
    ("DINO.csv", lambda t: t.replace("val_00000014", "val_00000015"), "cover different images"),
    ("DINO.csv", lambda t: "\n".join(t.splitlines()[:-1]) + "\n", "cover different images"),
    ("DINO.csv", lambda t: t + t.splitlines()[1] + "\n", "appears twice"),
    ("DINO.csv", lambda t: t[:-9], "truncated"),
    ("DINO.csv", lambda t: t[: t.rindex(",")] + "\n", "empty fields"),
    ("ResNet50.csv", lambda t: t.replace("0.8\n", "1.8\n"), "predicted_probability"),
])
def test_bad_input_writes_nothing(tmp_path, name, edit, message):
    folder = write_hand_files(tmp_path / "in")
    _edit(folder, name, edit)
    assert_refused("imagenet-x", folder, tmp_path / "store", message)


def test_missing_labels_file(tmp_path):
    folder = write_hand_files(tmp_path / "in")
    (folder / "labels.csv").unlink()
    assert_refused("imagenet-x", folder, tmp_path / "store", "no labels.csv")


def test_command_line(tmp_path, capsys):
    folder = write_hand_files(tmp_path / "in")
    assert main(["import", "imagenet-x", str(folder), "--store", str(tmp_path / "store")]) == 0
    _edit(folder, "DINO.csv", lambda t: t.replace(",757,", ",7570,"))
    assert main(["import", "imagenet-x", str(folder), "--store", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("norep: error:") and "7570" in err and len(err.splitlines()) == 1


@needs_shared
def test_pinned_checksums_match_the_shared_copies():
    for name, (url, sha256) in UPSTREAM.items():
        assert hashlib.sha256((SHARED / name).read_bytes()).hexdigest() == sha256, name
        assert url.startswith("https://raw.githubusercontent.com/facebookresearch/imagenetx/")


@needs_shared
def test_shared_copies(tmp_path):
    import_predictions("imagenet-x", str(SHARED), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert len(store.examples) == 50_000
    labels = pd.read_csv(SHARED / "labels.csv")
    truth = labels.set_index("file_name")["label"]
    assert (store.labels() == truth.loc[store.examples["example_id"]].to_numpy()).all()
    accuracies = dict(zip(store.model_ids, read_outcomes(store, None).correct.mean(axis=1)))
    for model in ("ResNet50", "ViT", "SimCLR", "DINO"):
        frame = pd.read_csv(SHARED / f"{model}.csv").merge(labels, on="file_name")
        assert len(frame) == 50_000
        assert accuracies[model] == pytest.approx((frame["predicted_class"] == frame["label"]).mean(), abs=0)
    assert accuracies["ResNet50"] == pytest.approx(0.7613)
    assert store.examples["class_range"].value_counts().to_dict() == {
        "anthropogenic": 20_000, "nature": 15_000, "other": 15_000}
    assert store.examples["prototype"].sum() == 3000
    assert store.examples["factor_pose"].notna().sum() == 48_868


@needs_shared
def test_download_path_uses_the_cache(tmp_path, monkeypatch):
    from norep.producers.importers import imagenet_x

    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    local = {name: ((SHARED / name).as_uri(), sha256) for name, (_, sha256) in UPSTREAM.items()}
    monkeypatch.setattr(imagenet_x, "UPSTREAM", local)
    import_predictions("imagenet-x", None, str(tmp_path / "store"))
    assert sorted(p.name for p in (tmp_path / "cache" / "imagenet-x").iterdir()) == sorted(UPSTREAM)
    assert Store(tmp_path / "store").model_ids == ["DINO", "ResNet50", "SimCLR", "ViT"]
