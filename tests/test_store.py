"""The prediction store: round trip, verification, atomic writes and clear errors."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from norep.errors import NorepError
from norep.store import Store, model_dirname, read_outcomes, top1

CLASSES = ["cat", "dog", "bird"]


def examples(n=8):
    return pd.DataFrame({"example_id": [f"x{i}" for i in range(n)], "label": np.arange(n) % 3,
                         "split": ["calibration"] * 3 + ["test"] * (n - 3)})


@pytest.fixture
def store(tmp_path):
    return Store.create(tmp_path / "s", dataset="toy", classes=CLASSES, examples=examples(),
                        fingerprint="f1")


def logits(seed=0, n=8):
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def test_round_trip_memory_maps_and_keeps_order(store):
    store.add_model("timm/resnet50.a1_in1k", {"architecture": "resnet50", "hyperparameters": {"lr": 1}},
                    {"logits": logits(0), "embeddings": np.ones((8, 4), np.float32)})
    store.add_model("b", {"architecture": "vit"}, {"logits": logits(1)})
    reopened = Store(store.path)
    assert reopened.model_ids == ["timm/resnet50.a1_in1k", "b"]
    array = reopened.array("timm/resnet50.a1_in1k", "logits")
    assert isinstance(array, np.memmap)
    np.testing.assert_array_equal(array, logits(0))
    np.testing.assert_array_equal(reopened.logits("b", split="test"), logits(1)[3:])
    assert reopened.meta("timm/resnet50.a1_in1k")["hyperparameters"] == {"lr": 1}
    assert json.loads(reopened.models.set_index("model_id").loc["timm/resnet50.a1_in1k", "hyperparameters"]) == {"lr": 1}
    assert (store.path / "models" / "timm%2Fresnet50.a1_in1k" / "logits.npy").is_file()
    correct = read_outcomes(reopened, "test").correct
    expected = np.stack([logits(s)[3:].argmax(1) == np.arange(3, 8) % 3 for s in (0, 1)])
    np.testing.assert_array_equal(correct, expected)


def test_top1_confidence_is_the_max_softmax(store):
    store.add_model("a", {}, {"logits": logits(0)})
    predictions, confidences = top1(store, "a")
    z = logits(0).astype(np.float64)
    softmax = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_array_equal(predictions, z.argmax(1))
    np.testing.assert_allclose(confidences, softmax.max(1))


def test_top1_only_models_answer_correctness_and_refuse_logits(store):
    predictions = np.array([0, 1, 2, -1, 0, 1, 2, 0])
    store.add_model("human", {"architecture": "human"},
                    {"predictions": predictions, "confidences": np.full(8, 0.5)})
    got, confidences = top1(store, "human")
    np.testing.assert_array_equal(got, predictions)
    assert np.isnan(confidences[3]) and confidences[0] == 0.5
    with pytest.raises(NorepError, match="only top-1 predictions"):
        store.logits("human")
    store.add_model("decisions-only", {}, {"predictions": predictions})
    got, confidences = top1(store, "decisions-only")
    np.testing.assert_array_equal(got, predictions)
    assert np.isnan(confidences).all()


@pytest.mark.parametrize("arrays, message", [
    ({"logits": logits(0, n=7)}, "has 7 rows, the store has 8"),
    ({"logits": np.zeros((8, 4), np.float32)}, "expected (N, 3)"),
    ({"logits": np.full((8, 3), np.nan, np.float32)}, "NaN"),
    ({"logits": logits(0), "confidences": np.ones(8)}, "confidences need predictions"),
    ({"embeddings": np.ones((8, 2))}, "give logits, or predictions"),
    ({"predictions": np.full(8, 3), "confidences": np.ones(8)}, "must lie in 0..2"),
    ({"predictions": np.zeros(8, int), "confidences": np.full(8, 2.0)}, "[0, 1]"),
    ({"weights": np.zeros(8)}, "unknown array"),
])
def test_bad_arrays_are_refused_before_writing(store, arrays, message):
    with pytest.raises(NorepError) as error:
        store.add_model("m", {}, arrays)
    assert message in str(error.value)
    assert Store(store.path).model_ids == []
    assert not list((store.path / "models").iterdir())


def test_truncated_array_is_named_on_use_and_by_verify(store):
    store.add_model("a", {}, {"logits": logits(0)})
    path = store.path / "models" / "a" / "logits.npy"
    path.write_bytes(path.read_bytes()[:-5])
    reopened = Store(store.path)
    with pytest.raises(NorepError, match=f"{path} is corrupt"):
        reopened.logits("a")
    with pytest.raises(NorepError, match="logits.npy is corrupt"):
        reopened.verify()


def test_edited_table_is_detected_on_open(store):
    store.add_model("a", {}, {"logits": logits(0)})
    table = pd.read_parquet(store.path / "examples.parquet")
    table.loc[0, "label"] = 2
    table.to_parquet(store.path / "examples.parquet", index=False)
    with pytest.raises(NorepError, match="examples.parquet is corrupt"):
        Store(store.path)


def test_missing_file_and_non_store_give_clear_errors(store, tmp_path):
    store.add_model("a", {}, {"logits": logits(0)})
    os.remove(store.path / "models" / "a" / "logits.npy")
    with pytest.raises(NorepError, match="is missing"):
        Store(store.path).logits("a")
    with pytest.raises(NorepError, match="not a prediction store"):
        Store(tmp_path)
    with pytest.raises(NorepError, match="is not in"):
        Store(store.path).logits("zzz")


def test_an_unlisted_model_directory_counts_as_unfinished(store):
    store.add_model("a", {}, {"logits": logits(0)})
    # A writer killed after renaming its directory but before the manifest: not done.
    stray = store.path / "models" / model_dirname("b")
    stray.mkdir()
    np.save(stray / "logits.npy", logits(1))
    reopened = Store(store.path)
    assert not reopened.has_model("b")
    reopened.add_model("b", {}, {"logits": logits(2)})
    np.testing.assert_array_equal(Store(store.path).logits("b"), logits(2))


def test_create_reopens_same_dataset_and_refuses_another(store):
    store.add_model("a", {}, {"logits": logits(0)})
    (store.path / "models" / ".tmp-x-123").mkdir()
    again = Store.create(store.path, dataset="toy", classes=CLASSES, examples=examples(), fingerprint="f1")
    assert again.model_ids == ["a"]
    assert not (store.path / "models" / ".tmp-x-123").exists()
    with pytest.raises(NorepError, match="holds another dataset"):
        Store.create(store.path, dataset="toy", classes=CLASSES, examples=examples(), fingerprint="f2")


def test_replacing_a_model_updates_its_files(store):
    store.add_model("a", {"v": 1}, {"logits": logits(0), "embeddings": np.ones((8, 2), np.float32)})
    store.add_model("a", {"v": 2}, {"logits": logits(1)})
    reopened = Store(store.path)
    reopened.verify()
    assert reopened.meta("a")["v"] == 2 and not reopened.has_array("a", "embeddings")
    np.testing.assert_array_equal(reopened.logits("a"), logits(1))


def test_unwritable_store_path_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NorepError, match="cannot write the store"):
        Store.create(blocker / "s", dataset="toy", classes=CLASSES, examples=examples(), fingerprint="f")


def test_examples_need_unique_ids_and_valid_labels(tmp_path):
    duplicated = examples()
    duplicated.loc[1, "example_id"] = "x0"
    with pytest.raises(NorepError, match="appears twice"):
        Store.create(tmp_path / "a", dataset="t", classes=CLASSES, examples=duplicated, fingerprint="f")
    bad = examples()
    bad.loc[0, "label"] = 5
    with pytest.raises(NorepError, match="labels must lie"):
        Store.create(tmp_path / "b", dataset="t", classes=CLASSES, examples=bad, fingerprint="f")


def test_models_table_is_derived_from_verified_metadata(store):
    store.add_model("a", {"architecture": "cnn"}, {"logits": logits(0)})
    store.add_model("b", {"architecture": "vit"}, {"logits": logits(1)})
    exported = pd.read_parquet(store.path / "models.parquet")
    pd.testing.assert_frame_equal(exported, Store(store.path).models)
    # A writer killed after committing the manifest but before the export: the export
    # is stale, the store is not, and reopening for writing refreshes the export.
    exported.iloc[:1].to_parquet(store.path / "models.parquet", index=False)
    assert Store(store.path).model_ids == ["a", "b"]
    Store.create(store.path, dataset="toy", classes=CLASSES, examples=examples(), fingerprint="f1")
    pd.testing.assert_frame_equal(pd.read_parquet(store.path / "models.parquet"), Store(store.path).models)
    # An edited meta.json is caught by its checksum.
    meta = store.path / "models" / "a" / "meta.json"
    meta.write_text(meta.read_text().replace("cnn", "mlp"))
    with pytest.raises(NorepError, match="meta.json is corrupt"):
        Store(store.path)
