"""timm inference.py importer: every output layout, hand-worked metrics, bad input, shared copies."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from importer_checks import assert_refused

from norep.producers.importers import import_predictions
from norep.cli import main
from norep.store import Store, read_outcomes, top1
from norep.store.store import float16_store_logits

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "imagenet-x"
FILES = ["n01440764/a.JPEG", "n01443537/b.JPEG", "n01484850/c.JPEG", "n01491361/d.JPEG"]  # classes 0..3
TOP2 = np.array([[0, 5], [2, 1], [2, 0], [1, 3]])  # right on a and c
PROBS = np.array([[0.7, 0.2], [0.5, 0.4], [0.9, 0.05], [0.6, 0.3]], dtype=np.float32)
OTHER = np.array([[5, 0], [1, 2], [2, 1], [3, 1]])  # right on b, c and d


def save(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write results the way timm's inference.py ``save_results`` does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with np.printoptions(threshold=sys.maxsize):
        if fmt == "parquet":
            frame.set_index("filename").to_parquet(path)
        elif fmt == "json":
            frame.set_index("filename").to_json(path, indent=4, orient="index")
        elif fmt == "json-split":
            frame.to_json(path, indent=4, orient="split", index=False)
        elif fmt == "json-records":
            frame.to_json(path, lines=True, orient="records")
        else:
            frame.to_csv(path, index=False)
    return path


def results(columns: dict[str, np.ndarray], separate: bool = False) -> pd.DataFrame:
    """Build inference.py's table: one column of per-row arrays, or ``name_i`` columns."""
    data = {"filename": FILES}
    for name, block in columns.items():
        if separate:
            data.update({f"{name}_{i}": block[:, i] for i in range(block.shape[1])})
        else:
            data[name] = list(block) if block.shape[1] > 1 else block[:, 0]
    return pd.DataFrame(data)


def descriptions(indices: np.ndarray, detailed: bool = False) -> np.ndarray:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return np.vectorize(lambda i: info.index_to_description(i, detailed=detailed), otypes=[object])(indices)


SUFFIX = {"csv": ".csv", "json": ".json", "json-split": ".json", "json-records": ".json", "parquet": ".parquet"}


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_top_k_every_layout(tmp_path, fmt, separate):
    frame = results({"index": TOP2, "label": descriptions(TOP2), "prob": PROBS}, separate)
    file = save(frame, tmp_path / "in" / f"resnet50.a1_in1k-224{SUFFIX[fmt]}", fmt)
    import_predictions("timm", str(file), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert store.model_ids == ["timm/resnet50.a1_in1k-224"]
    assert store.examples["example_id"].tolist() == FILES
    assert store.labels().tolist() == [0, 1, 2, 3]  # from the class folders
    predictions, confidences = top1(store, "timm/resnet50.a1_in1k-224")
    assert predictions.tolist() == [0, 2, 2, 1]
    np.testing.assert_allclose(confidences, [0.7, 0.5, 0.9, 0.6], rtol=1e-6)
    assert read_outcomes(store, None).correct.mean() == 0.5


def test_folder_of_models_with_labels_file(tmp_path):
    folder = tmp_path / "in"
    save(results({"index": TOP2, "prob": PROBS}), folder / "m1-224.csv", "csv")
    save(results({"index": OTHER, "prob": PROBS}), folder / "m2-224.parquet", "parquet")
    labels = pd.DataFrame({"filename": FILES, "label": ["n01440764", "n01443537", "n01484850", "n01491361"]})
    labels.to_csv(folder / "labels.csv", index=False)
    import_predictions("timm", str(folder), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert store.model_ids == ["timm/m1-224", "timm/m2-224"]
    correct = read_outcomes(store, None).correct
    assert correct.mean(axis=1).tolist() == [0.5, 0.75]
    assert ((correct[0] & correct[1]).sum(), (correct[0] ^ correct[1]).sum()) == (1, 3)


def test_default_output_maps_descriptions(tmp_path):
    frame = results({"label": descriptions(TOP2[:, :1]), "prob": PROBS[:, :1]})
    file = save(frame, tmp_path / "in" / "vit-224.csv", "csv")
    import_predictions("timm", str(file), str(tmp_path / "store"))
    assert top1(Store(tmp_path / "store"), "timm/vit-224")[0].tolist() == [0, 2, 2, 1]


def test_wnid_labels_with_logits_give_predictions_only(tmp_path):
    from timm.data import ImageNetInfo

    wnids = np.vectorize(ImageNetInfo().index_to_label_name, otypes=[object])(TOP2)
    file = save(results({"label": wnids, "logit": np.log(PROBS)}), tmp_path / "in" / "x-224.json", "json")
    import_predictions("timm", str(file), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    predictions, confidences = top1(store, "timm/x-224")
    assert predictions.tolist() == [0, 2, 2, 1]
    assert np.isnan(confidences).all() and not store.has_array("timm/x-224", "confidences")


@pytest.mark.parametrize("output", ["logit", "prob"])
def test_full_outputs_become_logits(tmp_path, output):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 1000)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    values = logits if output == "logit" else probs
    file = save(results({output: values}), tmp_path / "in" / "full-224.csv", "csv")
    import_predictions("timm", str(file), str(tmp_path / "store"))
    stored = np.asarray(Store(tmp_path / "store").logits("timm/full-224"), dtype=np.float64)
    recovered = np.exp(stored) / np.exp(stored).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(recovered, probs, rtol=1e-4)
    assert (stored.argmax(axis=1) == logits.argmax(axis=1)).all()


def test_top_1000_with_indices_is_put_back_in_class_order(tmp_path):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(1000), size=4).astype(np.float32)
    order = np.argsort(-probs, axis=1)
    frame = results({"index": order, "prob": np.take_along_axis(probs, order, axis=1)}, separate=True)
    file = save(frame, tmp_path / "in" / "k-224.parquet", "parquet")
    import_predictions("timm", str(file), str(tmp_path / "store"))
    stored = np.asarray(Store(tmp_path / "store").logits("timm/k-224"), dtype=np.float64)
    np.testing.assert_allclose(np.exp(stored), probs, rtol=1e-5)


def _write(tmp_path: Path, top: np.ndarray = TOP2, files: list[str] = FILES, fmt: str = "csv") -> Path:
    frame = results({"index": top, "prob": PROBS}).assign(filename=files)
    return save(frame, tmp_path / "in" / f"m-224{SUFFIX[fmt]}", fmt)


@pytest.mark.parametrize("make, message", [
    (lambda p: _write(p, top=np.where(TOP2 == 5, 1000, TOP2)), "unknown class index 1000"),
    (lambda p: _write(p, files=[FILES[0]] * 2 + FILES[2:]), "appears twice"),
    (lambda p: _write(p, files=[f.split("/")[1] for f in FILES]), "not inside a folder named by a WordNet id"),
    (lambda p: _truncate(_write(p), 30), "truncated"),
    (lambda p: _truncate(_write(p, fmt="json"), 30), "not valid JSON"),
    (lambda p: _truncate(_write(p, fmt="parquet"), 30), "not a readable parquet"),
    (lambda p: _header_only(_write(p)), "no rows"),
    (lambda p: _with_labels(_write(p), ["n01440764", "n01443537", "n99999999", "n01491361"]),
     "unknown class 'n99999999'"),
    (lambda p: _with_labels(_write(p), ["n01440764", "n01443537", "n01484850"]), "cover different images"),
    (lambda p: _misaligned_pair(p), "cover different images"),
    (lambda p: save(results({"label": descriptions(np.array([[134], [517], [0], [1]]))}),
                    p / "in" / "c-224.csv", "csv"), "'crane' names several ImageNet classes"),
])
def test_bad_input_writes_nothing(tmp_path, make, message):
    assert_refused("timm", make(tmp_path), tmp_path / "store", message)


def _truncate(file: Path, cut: int) -> Path:
    file.write_bytes(file.read_bytes()[:-cut])
    return file


def _header_only(file: Path) -> Path:
    file.write_text("filename,index,prob\n")
    return file


def _with_labels(file: Path, labels: list[str]) -> Path:
    pd.DataFrame({"filename": FILES[: len(labels)], "label": labels}).to_csv(file.parent / "labels.csv", index=False)
    return file.parent


def _misaligned_pair(tmp_path: Path) -> Path:
    _write(tmp_path)
    save(results({"index": OTHER, "prob": PROBS}).assign(filename=FILES[:3] + ["n01491361/e.JPEG"]),
         tmp_path / "in" / "n-224.csv", "csv")
    return tmp_path / "in"


def test_missing_path(tmp_path):
    assert_refused("timm", None, tmp_path / "store", "needs PATH")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared copies not found at {SHARED}")
def test_shared_imagenet_x_predictions_in_timm_form(tmp_path):
    """ImageNet-X's ResNet-50 predictions rewritten as inference.py output (index + prob)."""
    source = pd.read_csv(SHARED / "ResNet50.csv")
    labels = pd.read_csv(SHARED / "labels.csv")
    frame = pd.DataFrame({"filename": source["file_name"], "index": source["predicted_class"],
                          "prob": source["predicted_probability"]})
    save(frame, tmp_path / "in" / "resnet50-224.csv", "csv")
    labels.rename(columns={"file_name": "filename"}).to_csv(tmp_path / "in" / "labels.csv", index=False)
    import_predictions("timm", str(tmp_path / "in"), str(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert len(store.examples) == 50_000
    expected = (source.merge(labels, on="file_name").eval("predicted_class == label")).mean()
    assert read_outcomes(store, None).correct.mean() == pytest.approx(expected, abs=0)
    assert store.examples["class_range"].value_counts()["nature"] == 15_000


def test_dtype_float16_keeps_full_outputs_in_a_float16_store(tmp_path):
    logits = np.random.default_rng(1).normal(size=(4, 1000)).astype(np.float32) * 8
    file = save(results({"logit": logits}), tmp_path / "in" / "full-224.csv", "csv")
    assert main(["import", "timm", str(file), "--store", str(tmp_path / "half"), "--dtype", "float16"]) == 0
    assert main(["import", "timm", str(file), "--store", str(tmp_path / "full")]) == 0
    half, full = Store(tmp_path / "half"), Store(tmp_path / "full")
    assert (half.logits_dtype, full.logits_dtype) == ("float16", "float32")
    np.testing.assert_array_equal(half.logits("timm/full-224"), float16_store_logits(full.logits("timm/full-224")))
    assert main(["import", "timm", str(file), "--store", str(tmp_path / "half"), "--dtype", "float32"]) == 2
