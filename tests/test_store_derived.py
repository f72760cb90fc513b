"""Streaming reads: derived arrays cached in the store, and lazy scores equal to the dense computation.

Every streamed or cached number is compared with the dense computation on the whole
array (what the reader did before it streamed), with blocks made small so that every
array is read in many blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import norep.analysis.ensembles as ensembles
from norep.analysis.ensembles import ensemble_predictions, pair_ensemble_correctness, pairwise_ensembles
from norep.analysis.calibration import fit_temperature
from norep.book.views import fit_temperatures
from norep.errors import NorepError
from norep.store import Scores, Store, read_outcomes, read_scores, scaled_scores, softmax, top1
from norep.store import store as store_module
from norep.store.store import EXACT_TOP, TOP_LOGITS, float16_store_logits, with_exact_top

N_EXAMPLES, N_CLASSES = 530, 37  # odd sizes: blocks end mid-array


def make_store(path, logits: dict[str, np.ndarray], labels: np.ndarray, logits_dtype: str | None = None) -> Store:
    split = np.where(np.arange(len(labels)) % 3 == 0, "calibration", "test")
    examples = pd.DataFrame({"example_id": [f"e{i}" for i in range(len(labels))], "label": labels, "split": split})
    store = Store.create(path, dataset="toy", classes=[f"c{c}" for c in range(logits[next(iter(logits))].shape[1])],
                         examples=examples, fingerprint="toy", logits_dtype=logits_dtype)
    for model_id, values in logits.items():
        store.add_model(model_id, {"display_name": model_id}, {"logits": values})
    return store


def zoo_logits(seed: int, n_models: int = 5, tied: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Logits with shared confusions; ``tied`` rounds them to few values (many exact ties)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, N_EXAMPLES)
    shared = rng.normal(size=(N_EXAMPLES, N_CLASSES))
    logits = {}
    for model in range(n_models):
        values = shared + rng.normal(size=shared.shape)
        values[np.arange(N_EXAMPLES), labels] += rng.uniform(1.0, 3.0)
        logits[f"m{model}"] = (np.round(values) if tied else 2 * values).astype(np.float32)
    return logits, labels


@pytest.fixture
def small_blocks(monkeypatch):
    """Read a few rows at a time, so that every array spans many blocks."""
    monkeypatch.setattr(store_module, "BLOCK_BYTES", 8 * N_CLASSES * 23)
    monkeypatch.setattr(ensembles, "_RANK_BLOCK", 17)


def dense_scores(store: Store, split: str, temperatures: dict[str, float], rule: str = "probabilities"):
    """The stacked scores as the reader computed them before it streamed."""
    return np.stack([scaled_scores(store.logits(m, split), temperatures.get(m, 1.0), rule) for m in store.model_ids])


def test_derived_arrays_are_computed_once_and_invalidated_by_a_new_model(tmp_path):
    logits, labels = zoo_logits(0, 2)
    store = make_store(tmp_path / "s", logits, labels)
    calls = []

    def compute(model_id):
        calls.append(model_id)
        return {"mean": np.asarray(store.logits(model_id)).mean(axis=0)}

    first = store.derived("m0", "mean", {"axis": 0}, lambda: compute("m0"))
    again = Store(tmp_path / "s").derived("m0", "mean", {"axis": 0}, lambda: compute("m0"))
    assert calls == ["m0"] and np.array_equal(first["mean"], again["mean"])
    store.derived("m0", "mean", {"axis": 1}, lambda: compute("m0"))  # another key: computed
    assert calls == ["m0", "m0"]
    store.add_model("m0", {"display_name": "m0"}, {"logits": 2 * logits["m0"]})  # a changed model
    changed = store.derived("m0", "mean", {"axis": 0}, lambda: compute("m0"))
    assert calls == ["m0"] * 3 and np.allclose(changed["mean"], 2 * first["mean"])
    (path,) = (tmp_path / "s" / "derived" / "m0").glob("mean-*.npz")
    path.write_bytes(b"garbage")  # an unreadable cache file is computed again
    assert np.array_equal(store.derived("m0", "mean", {"axis": 0}, lambda: compute("m0"))["mean"], changed["mean"])
    assert len(calls) == 4


def test_top1_and_outcomes_equal_the_dense_computation(tmp_path, small_blocks):
    logits, labels = zoo_logits(1)
    store = make_store(tmp_path / "s", logits, labels)
    for model_id in store.model_ids:
        for temperature in (None, 0.7):
            dense = store.logits(model_id, "test")
            expected = dense.argmax(axis=1), softmax(dense, temperature or 1.0, np.float64).max(axis=1)
            for attempt in range(2):  # computed, then cached
                predictions, confidences = top1(store, model_id, "test", temperature)
                assert np.array_equal(predictions, expected[0]) and predictions.dtype == expected[0].dtype
                assert np.array_equal(confidences, expected[1])
    outcomes = read_outcomes(Store(store.path), "calibration")
    assert np.array_equal(outcomes.predictions, np.stack([store.logits(m, "calibration").argmax(axis=1)
                                                          for m in store.model_ids]))


@pytest.mark.parametrize("rule", ["probabilities", "logits"])
def test_scores_read_lazily_equal_the_stacked_scores(tmp_path, small_blocks, rule):
    logits, labels = zoo_logits(2)
    store = make_store(tmp_path / "s", logits, labels)
    temperatures = {"m0": 0.5, "m3": 2.0}
    scores = read_scores(store, store.model_ids, "test", temperatures, rule)
    dense = dense_scores(store, "test", temperatures, rule)
    assert isinstance(scores, Scores) and scores.shape == dense.shape and len(scores) == len(dense)
    assert np.array_equal(np.asarray(scores), dense)
    assert np.array_equal(scores[3], dense[3]) and np.array_equal(np.asarray(scores[[4, 0]]), dense[[4, 0]])
    assert np.array_equal(np.asarray(scores[1:3]), dense[1:3])
    examples = np.array([5, 0, 77, 5])
    assert np.array_equal(scores.member(2, examples), dense[2, examples])
    assert np.array_equal(scores.argmax(axis=2), dense.argmax(axis=2))
    assert np.array_equal(scores.sum(axis=0), dense.sum(axis=0))  # other array methods: the whole array
    assert np.array_equal(ensemble_predictions(scores[[0, 2, 4]]), ensemble_predictions(dense[[0, 2, 4]]))


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("k", [0, 3])
def test_all_pair_ensembles_from_the_store_equal_dense_averaging(tmp_path, small_blocks, monkeypatch, tied, k):
    logits, labels = zoo_logits(3 + tied, 6, tied)
    logits["m5"] = logits["m4"].copy()  # a model and its copy
    store = make_store(tmp_path / "s", logits, labels)
    temperatures = fit_temperatures(store)
    dense = dense_scores(store, "test", temperatures)
    test_labels = store.labels("test")
    monkeypatch.setattr(Scores, "__array__", lambda *_: pytest.fail("the whole array was read"))
    for attempt in range(2):  # ranks computed, then cached
        scores = read_scores(Store(store.path), store.model_ids, "test", temperatures)
        streamed = pairwise_ensembles(scores, test_labels, k=k)
        first, second = np.triu_indices(6, 1)
        right = pair_ensemble_correctness(scores, test_labels, second, first, k=k)
        assert np.array_equal(scores.argmax(axis=2), dense.argmax(axis=2))
    for a, b, pair_right in zip(second, first, right):
        expected = (dense[a] + dense[b]).argmax(axis=1) == test_labels
        assert np.array_equal(pair_right, expected)
        assert streamed.accuracy[a, b] == expected.mean()
    in_memory = pairwise_ensembles(dense, test_labels, k=k)
    for name in ("accuracy", "conversion_rate", "improvement"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(in_memory, name))
    if tied and k == 0:
        assert streamed.undecided > 0  # the dense fallback read the examples it needed


def test_labels_must_be_those_of_the_split(tmp_path):
    logits, labels = zoo_logits(5, 2)
    store = make_store(tmp_path / "s", logits, labels)
    with pytest.raises(ValueError, match="labels differ"):
        pairwise_ensembles(read_scores(store, store.model_ids, "test"), store.labels("calibration")[:1])


def test_float16_stores_keep_half_precision_logits_and_ensemble_them_exactly(tmp_path):
    logits, labels = zoo_logits(6, 3)
    store = make_store(tmp_path / "s", logits, labels, logits_dtype="float16")
    assert store.logits_dtype == "float16" and Store(store.path).logits_dtype == "float16"
    for model_id, values in logits.items():
        stored = store.array(model_id, "logits")
        assert stored.half.dtype == np.float16 and stored.dtype == np.float32
        shifted = values.astype(np.float64) - values.max(axis=1, keepdims=True)  # each row minus its maximum
        assert np.array_equal(stored.half, shifted.astype(np.float16))
        expected = shifted.astype(np.float16).astype(np.float32)
        for row, top in enumerate(np.argsort(-values, axis=1)[:, :EXACT_TOP]):
            expected[row, top] = shifted[row, top]  # the top classes exact
        assert np.array_equal(store.logits(model_id), expected)
    scores, dense = read_scores(store, store.model_ids, "test"), dense_scores(store, "test", {})
    assert np.array_equal(pairwise_ensembles(scores, store.labels("test")).accuracy,
                          pairwise_ensembles(dense, store.labels("test")).accuracy)
    store.add_model("offset", {}, {"logits": np.full((N_EXAMPLES, N_CLASSES), 1e5, np.float32)})  # rows of 0
    assert not np.asarray(store.logits("offset")).any()
    wide = np.zeros((N_EXAMPLES, N_CLASSES), np.float32)
    wide[:, 1] = 1e5
    with pytest.raises(NorepError, match="float16's range"):
        store.add_model("huge", {}, {"logits": wide})
    with pytest.raises(NorepError, match="stores logits as float16, not float32"):
        make_store(tmp_path / "s", logits, labels, logits_dtype="float32")
    assert make_store(tmp_path / "t", logits, labels).array("m0", "logits").dtype == np.float32  # default: as given


def test_every_read_of_a_float16_store_equals_its_whole_overlaid_logits(tmp_path, small_blocks, monkeypatch):
    """Blocks, rows through the map, scattered rows by offset, splits, top-1 and ensembles:
    all read the float16 logits with each row's top classes exact, as one whole read does."""
    monkeypatch.setattr(store_module, "BLOCK_BYTES", 8 * N_CLASSES * 19)
    logits, labels = zoo_logits(9, 3)
    store = make_store(tmp_path / "s", logits, labels, logits_dtype="float16")
    test_rows = store.rows("test")
    for model_id, values in logits.items():
        folder = store.path / "models" / model_id
        whole = with_exact_top(np.load(folder / "logits.npy"), np.load(folder / f"{TOP_LOGITS}.npy"))
        assert np.array_equal(whole, float16_store_logits(values))
        stored = Store(store.path).logits(model_id)
        assert np.array_equal(np.asarray(stored), whole) and np.asarray(stored, np.float64).dtype == np.float64
        assert np.array_equal(stored[5], whole[5]) and np.array_equal(stored[40:77], whole[40:77])
        assert np.array_equal(store.logits(model_id, "test"), whole[test_rows])
        expected = whole[test_rows].argmax(axis=1), softmax(whole[test_rows], 0.7, np.float64).max(axis=1)
        for got, want in zip(top1(store, model_id, "test", 0.7), expected):
            assert np.array_equal(got, want)
    temperatures = {"m0": 0.5, "m2": 2.0}
    scores = read_scores(store, store.model_ids, "test", temperatures)
    dense = np.stack([scaled_scores(float16_store_logits(logits[m])[test_rows], temperatures.get(m, 1.0))
                      for m in store.model_ids])
    assert np.array_equal(np.asarray(scores), dense)
    examples = np.array([7, 0, 151, 7])  # few: read by offset
    assert np.array_equal(scores.member(1, examples), dense[1, examples])
    assert np.array_equal(np.concatenate([block for _, block in scores.blocks(2)]), dense[2])
    np.testing.assert_array_equal(pairwise_ensembles(scores, store.labels("test")).accuracy,
                                  pairwise_ensembles(dense, store.labels("test")).accuracy)


def decisions(scores, labels, k: int) -> tuple:
    """Every pair's ensembles and the correctness of a few listed pairs."""
    pairs = pairwise_ensembles(scores, labels, k=k)
    return pairs.accuracy, pairs.conversion_rate, pair_ensemble_correctness(scores, labels, [0, 3, 3], [1, 4, 0], k=k)


def test_the_torch_backend_decides_every_pair_as_numpy(tmp_path, monkeypatch):
    """The GPU path's operations, run with torch on the CPU, give the same results."""
    logits, labels = zoo_logits(7, 5, tied=True)
    store = make_store(tmp_path / "s", logits, labels)
    scores = read_scores(store, store.model_ids, "test")
    expected = decisions(scores, store.labels("test"), 0)
    monkeypatch.setattr(ensembles, "_backend", lambda device: ensembles._Torch("cpu"))
    for got, want in zip(decisions(scores, store.labels("test"), 0), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_ensembles_and_temperatures_equal_the_cpu(tmp_path):
    logits, labels = zoo_logits(8, 5, tied=True)
    store = make_store(tmp_path / "s", logits, labels)
    scores = read_scores(store, store.model_ids, "test")
    for k in (0, 5):
        cpu = pairwise_ensembles(scores, store.labels("test"), k=k)
        gpu = pairwise_ensembles(scores, store.labels("test"), k=k, device="cuda")
        np.testing.assert_array_equal(gpu.accuracy, cpu.accuracy)
        np.testing.assert_array_equal(gpu.conversion_rate, cpu.conversion_rate)
    calibration, calibration_labels = store.logits("m0", "calibration"), store.labels("calibration")
    assert fit_temperature(calibration, calibration_labels, "cuda") == pytest.approx(
        fit_temperature(calibration, calibration_labels), rel=1e-6)
