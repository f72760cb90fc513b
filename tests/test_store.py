"""The prediction store: round trip, verification, atomic writes and clear errors."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from norep.errors import NorepError
from norep.store import (
    Store,
    model_dirname,
    read_embeddings,
    read_outcomes,
    read_scores,
    top1,
)

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


def test_order_models_puts_the_given_ids_first_and_persists(store):
    for model_id in ["c", "a", "b"]:
        store.add_model(model_id, {"architecture": "cnn"}, {"logits": logits(0)})
    store.order_models(["a", "b", "missing"])
    assert store.model_ids == ["a", "b", "c"] == store.models["model_id"].tolist()
    reopened = Store(store.path)
    assert reopened.model_ids == ["a", "b", "c"] == reopened.models["model_id"].tolist()
    reopened.verify()


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


def naive_softmax_row(z, temperature=1.0):
    """softmax(z / T) of one row, with Python floats."""
    exps = [np.exp(v / temperature - max(z) / temperature) for v in z]
    return [e / sum(exps) for e in exps]


@pytest.fixture
def zoo(store):
    """Two logit models, one top-1-only model with a missing answer, embeddings on one."""
    store.add_model("a", {}, {"logits": logits(0), "embeddings": np.arange(16, dtype=np.float32).reshape(8, 2)})
    store.add_model("b", {}, {"logits": logits(1)})
    store.add_model("human", {}, {"predictions": np.array([0, 1, 2, -1, 0, 0, 2, 1]),
                                  "confidences": np.linspace(0.3, 1.0, 8)})
    return store


def test_read_outcomes_matches_a_loop_over_examples(zoo):
    outcomes = read_outcomes(zoo, "test", temperatures={"b": 2.0})
    labels = [i % 3 for i in range(3, 8)]
    assert outcomes.model_ids == ["a", "b", "human"]
    assert list(outcomes.example_ids) == [f"x{i}" for i in range(3, 8)]
    assert outcomes.labels.tolist() == labels
    for row, model in enumerate(("a", "b")):
        for column, i in enumerate(range(3, 8)):
            z = logits(row)[i].tolist()
            probabilities = naive_softmax_row(z, 2.0 if model == "b" else 1.0)
            assert outcomes.predictions[row, column] == z.index(max(z))
            assert outcomes.confidences[row, column] == pytest.approx(max(probabilities), rel=1e-6)
            assert outcomes.correct[row, column] == (z.index(max(z)) == labels[column])
    assert outcomes.predictions[2].tolist() == [-1, 0, 0, 2, 1]
    assert outcomes.valid[2].tolist() == [False, True, True, True, True]
    assert np.isnan(outcomes.confidences[2, 0])
    np.testing.assert_allclose(outcomes.confidences[2, 1:], np.linspace(0.3, 1.0, 8)[4:])
    assert outcomes.correct[2].tolist() == [False, False, False, False, True]
    assert outcomes.accuracy[2] == pytest.approx(1 / 4)  # of its 4 answers, 1 right
    assert outcomes.accuracy[0] == pytest.approx(np.mean(outcomes.correct[0]))
    assert outcomes.index("b") == 1


def test_top1_with_a_temperature_and_its_refusal_for_top1_only_models(zoo):
    predictions, confidences = top1(zoo, "a", "calibration", temperature=0.5)
    for i in range(3):
        z = logits(0)[i].tolist()
        assert predictions[i] == z.index(max(z))
        assert confidences[i] == pytest.approx(max(naive_softmax_row(z, 0.5)), rel=1e-9)
    assert confidences.dtype == np.float64
    sharper = top1(zoo, "a", "calibration", temperature=0.5)[1]
    assert (sharper >= top1(zoo, "a", "calibration")[1]).all()  # T < 1 sharpens
    with pytest.raises(NorepError, match="model human has only top-1 confidences"):
        top1(zoo, "human", temperature=2.0)


@pytest.mark.parametrize("rule", ["probabilities", "logits"])
def test_read_scores_stacks_scaled_scores(zoo, rule):
    scores = read_scores(zoo, ["b", "a"], "test", temperatures={"a": 3.0}, rule=rule)
    assert scores.shape == (2, 5, 3) and scores.dtype == np.float32
    for row, (model, temperature) in enumerate((("b", 1.0), ("a", 3.0))):
        z = logits(1 if model == "b" else 0)[3:]
        for i in range(5):
            expected = naive_softmax_row(z[i].tolist(), temperature) if rule == "probabilities" \
                else (z[i] / temperature).tolist()
            np.testing.assert_allclose(scores[row, i], expected, rtol=1e-5)
    with pytest.raises(NorepError, match="only top-1 predictions"):
        read_scores(zoo, ["a", "human"])


def test_read_embeddings_and_their_absence(zoo):
    embeddings = read_embeddings(zoo, "a", "test")
    assert embeddings.dtype == np.float32 and not isinstance(embeddings, np.memmap)
    np.testing.assert_array_equal(embeddings, np.arange(6, 16).reshape(5, 2))
    assert read_embeddings(zoo, "a").shape == (8, 2)
    with pytest.raises(NorepError, match="model b has no embeddings in .*only networks"):
        read_embeddings(zoo, "b")
    with pytest.raises(NorepError, match="is not in"):
        read_embeddings(zoo, "nobody")
