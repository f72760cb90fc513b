"""model-vs-human importer: hand-worked trials, bad input, the shared copies, the download path."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from importer_checks import assert_refused

from norep.errors import NorepError
from norep.producers.importers import import_predictions, model_vs_human
from norep.store import Store, read_outcomes, top1
from norep.zoo import OBJECTIVES

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "model-vs-human"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared copies not found at {SHARED}")
HEADER = "subj,session,trial,rt,object_response,category,condition,imagename"
A, B, C = "n02134084_5274.png", "n04111531_14126.png", "n03041632_7380.png"


def trial_lines(observer: str, token: str, trials: list[tuple[str, str, str, str]]) -> str:
    """Return a model-vs-human CSV: (response, category, condition, image) per trial."""
    lines = [HEADER] + [
        f"{observer},1,{i + 1},NaN,{response},{category},{condition},"
        f"{i + 1:04d}_cl_{token}_{condition}_{category}_40_{image}"
        for i, (response, category, condition, image) in enumerate(trials)
    ]
    return "\n".join(lines) + "\n"


def write_hand_files(root: Path) -> Path:
    """Two datasets; colour: 5 examples over 2 conditions; edge: 2 examples, 1 condition."""
    files = {
        "models/colour/colour_resnet50_session-1.csv": trial_lines("resnet50", "dnn", [
            ("oven", "oven", "cr", B), ("bear", "bear", "cr", A), ("knife", "knife", "cr", C),
            ("bear", "bear", "bw", A), ("knife", "oven", "bw", B)]),
        # subject-01 saw cr/B never, gave no answer on cr/A, trials in another order.
        "humans/colour/colour_subject-01_session_1.csv": trial_lines("subject-01", "s01", [
            ("knife", "knife", "cr", C), ("cat", "bear", "bw", A), ("na", "bear", "cr", A),
            ("oven", "oven", "bw", B)]).replace("subj,session", "subj,Session"),
        "models/edge/edge_resnet50_session-1.csv":
            f"{HEADER}\nresnet50,1,1,NaN,knife,airplane,NaN,airplane1.png\n"
            "resnet50,1,2,NaN,cat,cat,NaN,cat3.png\n",
        "models/edge/edge_alexnet_session-1.csv":
            f"{HEADER}\nalexnet,1,1,NaN,airplane,airplane,,airplane1.png\n"
            "alexnet,1,2,NaN,cat,cat,,cat3.png\n",
        "humans/edge/edge_subject-01_session_1.csv":
            f"{HEADER}\nsubject-01,1,1,0.5,cat,cat,0,0001_edg_s01_0_cat_00_cat3.png\n"
            "subject-01,1,2,0.7,airplane,airplane,0,0002_edg_s01_0_airplane_00_airplane1.png\n",
    }
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text)
    return root


def test_hand_worked_pairing(tmp_path):
    import_predictions("model-vs-human", str(write_hand_files(tmp_path / "in")), str(tmp_path / "out"))
    colour = Store(tmp_path / "out" / "colour")
    assert colour.manifest["dataset"]["name"] == "model-vs-human/colour"
    assert colour.classes == [*model_vs_human.CLASSES, "na"]
    assert colour.examples["example_id"].tolist() == [f"bw/{A}", f"bw/{B}", f"cr/{A}", f"cr/{C}", f"cr/{B}"]
    assert colour.examples["condition"].tolist() == ["bw", "bw", "cr", "cr", "cr"]
    assert colour.model_ids == ["resnet50", "subject-01"]
    cat, oven, knife = (model_vs_human.CLASSES.index(c) for c in ("cat", "oven", "knife"))
    predictions, confidences = top1(colour, "subject-01")
    no_answer = len(model_vs_human.CLASSES)  # the store's last class, "na"
    assert predictions.tolist() == [cat, oven, no_answer, knife, -1]  # -1: never seen
    assert np.isnan(confidences).all()
    outcomes = read_outcomes(colour, None)
    assert outcomes.correct.tolist() == [[True, False, True, True, True], [False, True, False, True, False]]
    # model-vs-human's convention, read as stored: "na" is an answer, and a wrong one.
    assert outcomes.valid[1].tolist() == [True, True, True, True, False]
    assert outcomes.accuracy[1] == pytest.approx(2 / 4)
    edge = Store(tmp_path / "out" / "edge")
    assert edge.examples["example_id"].tolist() == ["0/airplane1.png", "0/cat3.png"]
    assert edge.model_ids == ["alexnet", "resnet50", "subject-01"]
    assert read_outcomes(edge, None).correct.tolist() == [[True, True], [False, True], [True, True]]


def test_methodology_from_what_the_source_documents(tmp_path):
    import_predictions("model-vs-human", str(write_hand_files(tmp_path / "in")), str(tmp_path / "out"))
    edge = Store(tmp_path / "out" / "edge")
    fields = ("observer", "architecture", "objective", "training_data")
    assert [edge.meta("resnet50")[f] for f in fields] == ["model", "ResNet-50", "cross-entropy", "ImageNet-1k"]
    assert [edge.meta("subject-01")[f] for f in fields] == ["human", "human", None, None]
    assert [edge.meta("alexnet")[f] for f in fields] == ["model", None, None, None]
    swag = model_vs_human.METHODOLOGY["swag-vit-b16-in1k"]
    assert swag[1] == "weakly-supervised" and "hashtag" in OBJECTIVES[swag[1]]
    assert swag[2] == "Instagram hashtags + ImageNet-1k"


def _edit(root: Path, relpath: str, edit) -> None:
    path = root / relpath
    path.write_text(edit(path.read_text()))


HUMAN = "humans/colour/colour_subject-01_session_1.csv"
MODEL = "models/colour/colour_resnet50_session-1.csv"


@pytest.mark.parametrize("relpath, edit, message", [
    (HUMAN, lambda t: t.replace("cat,bear", "zebra,bear"), "unknown class 'zebra'"),
    (MODEL, lambda t: t.replace(",bear,bear,", ",bear,bears,"), "unknown class 'bears'"),
    (MODEL, lambda t: t + t.splitlines()[2].replace(",2,", ",6,") + "\n", "appears twice"),
    (HUMAN, lambda t: t[:-7], "truncated"),
    (HUMAN, lambda t: t[: t.rindex(",oven,")] + "\n", "empty fields"),
    (HUMAN, lambda t: t.replace("knife,knife", "knife,bottle"), "different true classes"),
    (HUMAN, lambda t: t.replace("_n0", "_m0"), "shares no image"),
])
def test_bad_input_writes_nothing(tmp_path, relpath, edit, message):
    root = write_hand_files(tmp_path / "in")
    _edit(root, relpath, edit)
    assert_refused("model-vs-human", root, tmp_path / "out", message)


@pytest.mark.parametrize("name, message", [
    ("edge_resnet50_session-1.csv", "belongs to another dataset"),
    ("colour_resnet50_session-2.csv", "both observer 'resnet50'"),
])
def test_misplaced_files(tmp_path, name, message):
    root = write_hand_files(tmp_path / "in")
    (root / "models/colour" / name).write_text((root / MODEL).read_text())
    assert_refused("model-vs-human", root, tmp_path / "out", message)


def test_store_holding_other_data_is_left_alone(tmp_path):
    root = write_hand_files(tmp_path / "in")
    import_predictions("model-vs-human", str(root), str(tmp_path / "out"))
    before = (tmp_path / "out" / "colour" / "manifest.json").read_text()
    for relpath in (HUMAN, MODEL):
        _edit(root, relpath, lambda t: t.replace("knife,knife", "knife,bottle"))
    _edit(root, "models/edge/edge_resnet50_session-1.csv", lambda t: t.replace("knife,airplane", "car,airplane"))
    with pytest.raises(NorepError, match="holds another dataset"):
        import_predictions("model-vs-human", str(root), str(tmp_path / "out"))
    assert (tmp_path / "out" / "colour" / "manifest.json").read_text() == before
    assert top1(Store(tmp_path / "out" / "edge"), "resnet50")[0][0] == model_vs_human.CLASSES.index("knife")


def test_no_dataset_folder(tmp_path):
    assert_refused("model-vs-human", tmp_path, tmp_path / "out", "no model-vs-human dataset folder")


def test_image_identity_rule():
    names = pd.Series(["0001_cl_s01_cr_oven_40_n04111531_14126.png", "airplane1.png",
                       "0001_ske_dnn_0_boat_00_boat-0068-sketch-23.png", "0007_cue_s03_0_cat_00_cat7-bird2.png"])
    assert model_vs_human.image_identities(names).tolist() == [
        "n04111531_14126.png", "airplane1.png", "boat-0068-sketch-23.png", "cat7-bird2.png"]


def _identity(imagename: str) -> str:
    """The README's pairing rule, written independently of the importer."""
    head, _, last = imagename.rpartition("_")
    before = head.rpartition("_")[2]
    return f"{before}_{last}" if re.fullmatch(r"n\d{8}", before) else last


@needs_shared
def test_pinned_checksums_match_the_shared_copies():
    files = model_vs_human.upstream_files()
    shared = {p.relative_to(SHARED).as_posix() for p in SHARED.glob("*/*/*.csv")}
    assert set(files) == shared and len(shared) == 243
    for relpath, (url, sha256) in files.items():
        assert hashlib.sha256((SHARED / relpath).read_bytes()).hexdigest() == sha256, relpath
        commit = model_vs_human.COMMITS[relpath.split("/")[0]]
        assert url == f"https://raw.githubusercontent.com/bethgelab/model-vs-human/{commit}/raw-data/{relpath.split('/', 1)[1]}"


@needs_shared
def test_shared_copies_all_17_datasets(tmp_path):
    import_predictions("model-vs-human", str(SHARED), str(tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(model_vs_human.DATASETS)
    for dataset in model_vs_human.DATASETS:
        store = Store(tmp_path / "out" / dataset)
        trials = {}
        for file in sorted(SHARED.glob(f"*/{dataset}/*.csv")):
            frame = pd.read_csv(file, keep_default_na=False, dtype=str)
            observer = file.name[len(dataset) + 1:].rsplit("_session", 1)[0]
            condition = frame["condition"].replace({"NaN": "0", "": "0"})
            frame["key"] = condition + "/" + frame["imagename"].map(_identity)
            trials[observer] = frame.set_index("key")
        keys = set().union(*(set(frame.index) for frame in trials.values()))
        assert len(store.examples) == len(keys), dataset
        assert set(store.model_ids) == set(trials), dataset
        outcomes = read_outcomes(store, None)
        for observer, frame in trials.items():
            row = outcomes.index(observer)
            expected = (frame["object_response"] == frame["category"]).sum() / len(keys)
            assert outcomes.correct[row].mean() == pytest.approx(expected, abs=1e-12), (dataset, observer)
            # model-vs-human's accuracy: every trial shown counts, "na" as an error.
            shown = (frame["object_response"] == frame["category"]).mean()
            assert outcomes.accuracy[row] == pytest.approx(shown, abs=1e-12), (dataset, observer)
            no_answer = outcomes.predictions[row] == store.classes.index("na")
            assert no_answer.sum() == (frame["object_response"] == "na").sum(), (dataset, observer)
        human = sorted(o for o in trials if o.startswith("subject-"))[0]
        joined = trials["resnet50"].merge(trials[human], left_index=True, right_index=True, suffixes=("_m", "_h"))
        both = ((joined["object_response_m"] == joined["category_m"])
                & (joined["object_response_h"] == joined["category_h"])).sum()
        correct = read_outcomes(store, None, model_ids=["resnet50", human]).correct
        assert (correct[0] & correct[1]).sum() == both, dataset


@needs_shared
def test_download_path_uses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    pinned = model_vs_human.upstream_files()
    local = {relpath: ((SHARED / relpath).as_uri(), sha256)
             for relpath, (_, sha256) in pinned.items() if relpath.split("/")[1] == "edge"}
    monkeypatch.setattr(model_vs_human, "upstream_files", lambda: local)
    import_predictions("model-vs-human", None, str(tmp_path / "out"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["edge"]
    assert len(list((tmp_path / "cache" / "model-vs-human").glob("*/edge/*.csv"))) == len(local)
    manifest = json.loads((tmp_path / "out" / "edge" / "manifest.json").read_text())
    assert len(manifest["models"]) == len(local)
