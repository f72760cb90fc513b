"""The chapter "Feature overlap" (Fig 6) on a synthetic store with probe-split embeddings.

The store has the three splits the chapter reads (calibration, probe, test), one partner
per category with informative embeddings, and one model without embeddings (as the
mini zoo's scikit-learn models). The chapter runs once per module with papermill; the
tests check its printed numbers against probes and similarities computed here. A second
store is ImageNet-shaped (1,000 classes, 512-d embeddings) at a small size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from notebook_checks import assert_no_error_or_stderr, execute_chapter, output_text

from norep.analysis.bootstrap import model_weights
from norep.analysis.power import detectable_difference
from norep.analysis.probes import select_probe
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import feature_overlap as chapter
from norep.store import Store

ROOT = Path(__file__).resolve().parents[1]
MODELS = [  # model_id, architecture, objective, training_data, seed, has embeddings
    ("base", "cnn", "cross-entropy", "train-A", 0, True),
    ("reinit", "cnn", "cross-entropy", "train-A", 1, True),
    ("reinit-2", "cnn", "cross-entropy", "train-A", 2, True),
    ("arch", "mlp", "cross-entropy", "train-A", 0, True),
    ("dataset", "cnn", "cross-entropy", "train-B", 0, True),
    ("dataset-2", "cnn", "cross-entropy", "train-B", 1, True),
    ("forest", "random-forest", "gini", "train-A", 0, False),
]


def make_store(path: Path, n_classes: int = 4, dim: int = 12, sizes=(200, 400, 300), seed: int = 0,
               models=tuple(MODELS)) -> Store:
    """Class signal in a shared and a model-specific part of every embedding, plus noise."""
    rng = np.random.default_rng(seed)
    splits = ["calibration"] * sizes[0] + ["probe"] * sizes[1] + ["test"] * sizes[2]
    labels = rng.integers(0, n_classes, len(splits))
    examples = pd.DataFrame({"example_id": [f"ex-{i}" for i in range(len(splits))],
                             "label": labels, "split": splits})
    store = Store.create(path, dataset="synthetic", classes=[f"c{c}" for c in range(n_classes)],
                         examples=examples, fingerprint=f"features-{seed}")
    shared = rng.normal(size=(n_classes, dim))[labels]
    for model_id, architecture, objective, data, model_seed, embedded in models:
        own = rng.normal(size=(n_classes, dim))[labels]
        embeddings = 0.6 * shared + 0.6 * own + rng.normal(size=(len(labels), dim))
        logits = embeddings @ rng.normal(size=(dim, n_classes)) * 0.1
        logits[np.arange(len(labels)), labels] += 1.5
        arrays = {"logits": logits.astype(np.float32)}
        if embedded:
            arrays["embeddings"] = embeddings.astype(np.float32)
        store.add_model(model_id, {"display_name": model_id, "architecture": architecture,
                                   "objective": objective, "training_data": data, "seed": model_seed,
                                   "hyperparameters": {"lr": 0.003}}, arrays)
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("feature_overlap") / "store")


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    output = tmp_path_factory.mktemp("executed") / "feature_overlap.ipynb"
    return execute_chapter("feature_overlap", output, store=store.path, base="base", band=0.5, n_draws=2,
                           n_bootstrap=50, device="cpu")


def test_parameters_and_cells():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "feature_overlap.py")
    assert parameters == {"store": "runs/fashion_mnist", "base": "cnn-seed0", "band": 0.01, "seed": 0,
                          "n_draws": 2, "n_bootstrap": 1000, "device": "auto"}
    notebook = book.read_notebook(ROOT / "book" / "chapters" / "feature_overlap.py")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 15
    assert max(len(line) for cell in notebook.cells for line in cell.source.splitlines()) <= 88
    first = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    assert "hide-input" in code[first + 1].metadata.get("tags", [])  # the set-up cell after the parameters


@pytest.mark.notebooks
def test_chapter_prints_the_base_probe_and_similarities_computed_here(executed, store):
    assert_no_error_or_stderr(executed)
    text = output_text(executed)
    assert "Without embeddings, left out: forest" in text
    # The base's probe, computed independently with the same held-out rows and grid.
    labels = store.labels("probe")
    order = np.random.default_rng(0).permutation(len(labels))
    held, train = np.sort(order[:80]), np.sort(order[80:])
    x = np.asarray(store.array("base", "embeddings", "probe"))
    probe, _ = select_probe(x[train], labels[train], x[held], labels[held], chapter.GRID, 4)
    accuracy = probe.accuracy(np.asarray(store.array("base", "embeddings", "test")), store.labels("test"))
    assert f"L2 strength {probe.l2:g}, test accuracy {100 * accuracy:.2f}%" in text
    # Linear CKA of the base with the Reinit partner, from its formula.
    a, b = (np.asarray(store.array(m, "embeddings", "test"), np.float64) for m in ("base", "reinit"))
    a, b = a - a.mean(0), b - b.mean(0)
    cka = np.linalg.norm(b.T @ a) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))
    assert f"{cka:.3f}" in text
    assert "mixes beat either model" in text and "similarity predicts ensemble gain" in text
    assert "detectable at 80% power" in text and "no paper effect to compare" in text
    assert "paper's effect" in text  # Fig 6 right: the paper's effect, scaled to this base
    assert "example-only" in text


def test_partner_summary_against_naive_weighted_means():
    rng = np.random.default_rng(0)
    categories = np.array(["Reinit", "Reinit", "Architecture", "Dataset", "Dataset", "Dataset"], dtype=object)
    values = rng.random(6)
    samples = values + 0.01 * rng.normal(size=(25, 6))
    values[4], samples[:, 4] = np.nan, np.nan  # a partner without a value is left out
    summary, draws = chapter.partner_summary({"x": values}, {"x": samples}, categories, 25, 7)
    weights = model_weights(list(categories), 25, 7)
    for category in ("Reinit", "Dataset"):
        mine = [p for p in range(6) if categories[p] == category and not np.isnan(values[p])]
        naive = [sum(weights[b, p] * samples[b, p] for p in mine) / sum(weights[b, p] for p in mine)
                 if sum(weights[b, p] for p in mine) else np.nan for b in range(25)]
        np.testing.assert_allclose(draws["x"][category], naive)
        assert np.isclose(summary.loc[category, "x"], np.mean(values[mine]))
        assert summary.loc[category, "x_n"] == len(mine)
    # Without example samples only the partners are redrawn.
    _, only = chapter.partner_summary({"x": values}, None, categories, 25, 7)
    reinit = weights[:, :2] @ values[:2] / weights[:, :2].sum(axis=1)
    np.testing.assert_allclose(only["x"]["Reinit"], reinit)


@pytest.fixture(scope="module")
def embeddings(store):
    return chapter.read_probe_data(open_zoo(str(store.path), "base", 0.5), seed=0, device="cpu")


def test_category_verdicts_carry_crossed_intervals_and_power(embeddings):
    mixes = chapter.mix_embeddings(embeddings, n_draws=1, n_bootstrap=30, seed=0)
    gains = mixes.table.groupby("category")["gain"]
    assert np.isclose(mixes.summary.loc["Reinit", "gain_sd"], gains.std().loc["Reinit"])
    trend = mixes.trend()
    assert trend.contrast.detectable == pytest.approx(detectable_difference(
        gains.std()["Dataset"], 2, gains.std()["Reinit"], 2))
    assert trend.verdict.split(";")[0] == trend.contrast.verdict
    compression = chapter.compress(embeddings, n_bootstrap=30, seed=0)
    assert compression.paper_effect == pytest.approx((512 - 2304) / 2048 * embeddings.data["base"].dim)
    reached = compression.needed.dropna()
    means = reached.groupby("category")["features"].mean()
    assert compression.summary["features"].to_dict() == pytest.approx(means.to_dict())
    fewer = compression.trend()
    if fewer.contrast is not None:
        assert f"paper's effect {compression.paper_effect:+.1f}" in fewer.difference
    similarity = chapter.feature_similarity(embeddings, seed=0, n_bootstrap=30)
    trends = similarity.trends()
    assert list(trends.columns) == ["category means", "most − least divergent", "verdict"]
    cka = similarity.table.groupby("category")["linear_cka"].mean()
    assert trends.loc["linear CKA", "most − least divergent"].startswith(
        f"Dataset − Reinit: {cka['Dataset'] - cka['Reinit']:+.3f}")


def test_sections_on_an_imagenet_shaped_store(tmp_path):
    models = [m for m in MODELS if m[0] in ("base", "dataset", "forest")]
    store = make_store(tmp_path / "imagenet", n_classes=1000, dim=512, sizes=(300, 1000, 300),
                       models=models)
    zoo = open_zoo(str(store.path), "base", 0.5)
    embeddings = chapter.read_probe_data(zoo, seed=0, device="cpu")
    assert embeddings.labels.n_classes == 1000 and embeddings.data["base"].dim == 512
    assert embeddings.partners == ["dataset"] and embeddings.without == ["forest"]
    mixes = chapter.mix_embeddings(embeddings, n_draws=1, n_bootstrap=20, seed=0)
    assert len(mixes.probes) == 5 and set(mixes.probes["n_base"] + mixes.probes["n_other"]) == {512}
    assert mixes.table["gain"].notna().all()
    similarity = chapter.feature_similarity(embeddings, seed=0)
    assert similarity.table.loc["dataset", "linear_cka"] > 0


def test_probes_train_on_the_probe_split_else_on_calibration_never_on_test(embeddings, store, tmp_path):
    assert embeddings.split == "probe" and "Probe rows: " in embeddings.shown().data
    assert len(embeddings.labels.train) + len(embeddings.labels.held) == len(store.labels("probe"))
    # A store of validation-set predictions (norep predict) has no probe split.
    models = [m for m in MODELS if m[0] in ("base", "dataset")]
    no_probe = make_store(tmp_path / "no-probe", sizes=(200, 0, 300), models=models)
    assert "probe" not in set(no_probe.examples["split"])
    data = chapter.read_probe_data(open_zoo(str(no_probe.path), "base", 0.5), seed=0, device="cpu")
    assert data.split == "calibration"
    assert "(the store has no probe split: its calibration split): 160 for training, 40 held out" in data.shown().data
    for model in ("base", "dataset"):
        features = no_probe.array(model, "embeddings")
        rows = {tuple(row) for row in np.r_[data.data[model].train, data.data[model].held]}
        assert rows == {tuple(row) for row in features[no_probe.rows("calibration")]}
        np.testing.assert_array_equal(data.data[model].test, features[no_probe.rows("test")])
    probe_labels = np.sort(np.r_[data.labels.train, data.labels.held])
    np.testing.assert_array_equal(probe_labels, np.sort(no_probe.labels("calibration")))


def test_rank_correlation_is_quiet_and_undefined_for_a_constant_sample():
    import warnings

    from scipy.stats import spearmanr

    x, y = np.array([3.0, 1.0, 2.0, 5.0]), np.array([0.2, 0.1, 0.4, 0.3])
    assert chapter.rank_correlation(x, y) == pytest.approx(spearmanr(x, y).statistic)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(chapter.rank_correlation(x, np.zeros(4)))
        assert np.isnan(chapter.rank_correlation(np.ones(4), y))


def test_similarity_predicts_gain_with_partner_redrawn_intervals_and_no_p_value():
    from scipy.stats import spearmanr

    from norep.book.chapters.feature_overlap import Similarity

    rng = np.random.default_rng(0)
    gain = rng.normal(size=12)
    table = pd.DataFrame({"category": "Reinit", "linear_cka": -gain + 0.1 * rng.normal(size=12),
                          "debiased_cka": rng.normal(size=12), "mutual_knn": gain,
                          "error_inconsistency": gain ** 3, "ensemble_gain": gain})
    shown = Similarity(embeddings=None, table=table, n_bootstrap=200, seed=0).predicts_gain()
    assert list(shown.columns) == ["Spearman rho with ensemble gain [partners redrawn]"]
    texts = shown.iloc[:, 0]
    rho = spearmanr(table["linear_cka"], gain).statistic
    assert texts["linear CKA"].startswith(f"{rho:+.2f} [")
    # A perfectly monotone measure has rho 1 on every redraw of the partners.
    assert texts["mutual k-NN (k=10)"] == "+1.00 [+1.00, +1.00]"
    assert texts["error inconsistency"] == "+1.00 [+1.00, +1.00]"


@pytest.mark.parametrize("shifts, expected", [((0.02, 0.03), "yes"), ((0.02, 0.0), "cannot tell at this size"),
                                              ((0.02, -0.03), "no")])
def test_mixes_beat_the_better_model_by_the_rule_per_category(shifts, expected):
    from norep.book.chapters.feature_overlap import Mixes

    rng = np.random.default_rng(0)
    draws = {c: shift + 0.004 * rng.standard_normal(400) for c, shift in zip(("Reinit", "Dataset"), shifts)}
    summary = pd.DataFrame({"gain": shifts, "gain_sd": [0.004, 0.004], "gain_n": [4, 4]}, index=["Reinit", "Dataset"])
    table = pd.DataFrame({"beats_both": [True, False]})
    mixes = Mixes(None, pd.DataFrame(), table, summary, {"gain": draws}, n_draws=1, n_bootstrap=400)
    verdict, contrasts = mixes.beats_better()
    assert verdict == expected
    assert [c.label for c in contrasts] == ["Reinit: 50/50 − better alone", "Dataset: 50/50 − better alone"]
    assert contrasts[0].verdict == "yes" and "detectable at 80% power" in contrasts[0].text
    # One-sample power: (z_0.975 + z_0.8) x sd / sqrt(n), in points.
    assert contrasts[0].detectable == pytest.approx((1.959964 + 0.841621) * 0.004 / 2, rel=1e-4)
