"""The chapter "Error inconsistency" (Fig 1), its helpers and its figure functions.

The chapter runs once per module with papermill (through ``norep.book.run_chapter`` and
the CI profile, its store replaced by a synthetic one made here with the mini zoo's
metadata columns, three accuracy controls and a top-1-only model); the tests read the
executed notebook and check its numbers against the store. The helpers of
``norep.book.chapters.error_inconsistency`` and the figure functions are tested
directly, against naive computations.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import make_synthetic_store
from matplotlib.colors import same_color
from matplotlib.figure import Figure
from notebook_checks import (
    assert_no_error_or_stderr,
    execute_chapter,
    output_text,
    outputs,
)

from norep.analysis.bootstrap import model_weights
from norep.analysis.power import detectable_difference
from norep.analysis.verdicts import contrast_verdict
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import error_inconsistency as chapter
from norep.book.plots import categories as plots_categories
from norep.book.plots.style import CATEGORY_COLORS
from norep.zoo import Methodology, divergence_category
from norep.zoo.roster import BASE_LABEL

ROOT = Path(__file__).resolve().parents[1]
CONTROLS = {"control": 4.0, "control-2": 3.0, "control-3": 5.0}  # id: noise added to the base


def synthetic_zoo(path: Path):
    """The synthetic store with the mini zoo's columns, weaker controls and a top-1-only model."""
    store = make_synthetic_store(path)
    rng = np.random.default_rng(1)
    base_logits = np.asarray(store.logits("base"))
    labels = store.labels()
    base_meta = store.meta("base")
    for k, (model_id, noise) in enumerate(CONTROLS.items()):
        # The base recipe, less accurate: the base's logits with noise, the label's margin shrunk.
        control = base_logits + noise * rng.normal(size=base_logits.shape)
        control[np.arange(len(labels)), labels] -= 1.0
        name = "base stopped early" if k == 0 else f"base stopped early ({k + 1})"
        store.add_model(model_id, {**base_meta, "display_name": name, "role": "accuracy-control",
                                   "hyperparameters": {**base_meta["hyperparameters"],
                                                       "target_accuracy": 0.4 + 0.05 * k}},
                        {"logits": control.astype(np.float32)})
    top1 = np.asarray(store.logits("dataset")) + 3.0 * rng.normal(size=base_logits.shape)
    store.add_model("top1-only", {**base_meta, "display_name": "top-1 only", "training_data": "train-C"},
                    {"predictions": top1.argmax(axis=1), "confidences": np.full(len(labels), 0.5)})
    base_method = Methodology.from_meta(store.meta("base"))
    for model_id in store.model_ids:  # the columns the mini zoo's training writes
        meta = store.meta(model_id)
        meta.update(base="base", role=meta.get("role", "member"),
                    category=None if model_id == "base" else divergence_category(base_method,
                                                                                  Methodology.from_meta(meta)))
        arrays = ({"logits": np.array(store.logits(model_id))} if store.has_array(model_id, "logits") else
                  {name: np.array(store.array(model_id, name)) for name in ("predictions", "confidences")})
        store.add_model(model_id, meta, arrays)
    return store


def correctness(store, model_id: str) -> np.ndarray:
    """A model's top-1 correctness on the test split, read independently of the package's reader."""
    labels = store.labels("test")
    if store.has_array(model_id, "logits"):
        return np.asarray(store.logits(model_id, "test")).argmax(axis=1) == labels
    return np.asarray(store.array(model_id, "predictions", "test")) == labels


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return synthetic_zoo(tmp_path_factory.mktemp("error_inconsistency") / "store")


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    """The chapter executed on the synthetic store."""
    output = tmp_path_factory.mktemp("executed") / "error_inconsistency.ipynb"
    return execute_chapter("error_inconsistency", output, store=store.path, base="base", band=0.05,
                           n_bootstrap=50)


def test_parameters_cell():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "error_inconsistency.py")
    assert parameters == {"store": "runs/fashion_mnist", "base": "cnn-seed0", "band": 0.01, "seed": 0,
                          "n_bootstrap": 1000}


def test_chapter_cells_are_short_and_narrow():
    notebook = book.read_notebook(ROOT / "book" / "chapters" / "error_inconsistency.py")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 15
    assert max(len(line) for cell in notebook.cells for line in cell.source.splitlines()) <= 88
    first = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    assert "hide-input" in code[first + 1].metadata.get("tags", [])  # the set-up cell after the parameters


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    assert_no_error_or_stderr(executed)


@pytest.mark.notebooks
def test_chapter_has_its_figures_and_verdicts(executed):
    figures = [output for output in outputs(executed) if "image/png" in output.get("data", {})]
    assert len(figures) == 4  # Fig 1, adjusted for accuracy, all pairs, methodology effects
    text = output_text(executed)
    assert "reproduces?" in text and "Paper vs this book" in "".join(c.source for c in executed.cells)
    assert "base stopped early" in text  # the accuracy controls are the yardstick
    assert "top-1 only" in text  # a top-1-only model has error inconsistency, not ensembles
    for category in ("Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"):
        assert category in text
    assert "partners in the band" in text
    # five models of the base's recipe (base, reinit, three controls): the recipe's pairs
    assert "Reference: pairs among the base, its Reinit partners and the accuracy controls (10 pairs)" in text
    # Crossed intervals, power statements and the rule's words; every base; both views side by side.
    assert "detectable at 80% power" in text and "no paper effect to compare" in text
    assert "cannot tell at this size" in text
    assert "Dataset − Reinit over 2 bases" in text  # the base and its one Reinit partner
    assert "SD across bases" in text and "pairs with the base" in text and "all pairs of members" in text
    assert "example-only" in "".join(c.source for c in executed.cells)


@pytest.mark.notebooks
def test_chapter_numbers_match_the_store(executed, store):
    """Category means of error inconsistency and kappa, recomputed from the store's arrays."""
    right = {m: correctness(store, m) for m in store.model_ids}
    inconsistency = {m: np.mean(right["base"] != right[m]) for m in right}
    p_a, p_b = right["base"].mean(), right["reinit"].mean()
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    kappa = (1 - inconsistency["reinit"] - expected) / (1 - expected)
    dataset = (inconsistency["dataset"] + inconsistency["top1-only"]) / 2  # both train on other data
    text = output_text(executed)
    assert f"Reinit {inconsistency['reinit']:.3f}, Hyper-parameters {inconsistency['hyper']:.3f}" in text
    assert f"Dataset {dataset:.3f}" in text
    assert f"Reinit {kappa:.3f}" in text
    worst_control = max(inconsistency[m] for m in CONTROLS)
    means = {"Reinit": inconsistency["reinit"], "Hyper-parameters": inconsistency["hyper"],
             "Architecture": inconsistency["arch"], "Framework": inconsistency["framework"],
             "Dataset": dataset}
    above = [c for c, v in means.items() if v > worst_control]
    assert f"categories above every control: {', '.join(above) or 'none'}" in text


@pytest.mark.notebooks
def test_glossary_shows_both_intervals_side_by_side(store, tmp_path):
    """The glossary page computes the example-only and the crossed interval of one difference."""
    executed = execute_chapter("book/appendix/glossary.py", tmp_path / "glossary.ipynb", store=store.path,
                               base="base", band=0.05, n_bootstrap=50)
    assert_no_error_or_stderr(executed)
    text = output_text(executed)
    expected = chapter.base_pairs(open_zoo(str(store.path), "base", 0.05), 50, 0).two_intervals()
    for name, row in expected.iterrows():
        assert name in text and row["95% interval"] in text


# -- the chapter's helpers ----------------------------------------------------------------

@pytest.fixture(scope="module")
def zoo(store):
    return open_zoo(str(store.path), "base", 0.05)


def test_base_pairs_against_naive_counts(zoo, store):
    pairs = chapter.base_pairs(zoo, n_bootstrap=30, seed=0)
    right = {m: correctness(store, m) for m in store.model_ids}
    assert list(pairs.table.index) == [*zoo.roster.partners, *zoo.roster.controls]
    for model_id, row in pairs.table.iterrows():
        assert np.isclose(row["error_inconsistency"], np.mean(right["base"] != right[model_id]))
        assert np.isclose(row["accuracy"], right[model_id].mean())
        assert row["error_inconsistency_low"] <= row["error_inconsistency"] <= row["error_inconsistency_high"]
    means, _ = pairs.summaries["all partners"]
    reinit = [m for m in zoo.roster.partners if zoo.roster.table.loc[m, "category"] == "Reinit"]
    assert np.isclose(means.loc["Reinit", "kappa"], pairs.table.loc[reinit, "kappa"].mean())
    assert set(pairs.table.loc[zoo.roster.controls, "group"]) == {"Accuracy control"}
    assert not pairs.is_partner[-len(CONTROLS):].any()


def test_reference_models_fall_back_without_enough_of_the_base_recipe(zoo, tmp_path):
    models, name = chapter.reference_models(zoo.roster)
    assert models == ["base", "reinit", *CONTROLS] and "Reinit partners" in name
    few = synthetic_zoo(tmp_path / "few")
    for model_id in ("control-2", "control-3"):  # only one control left: base, reinit, control
        meta = few.meta(model_id)
        few.add_model(model_id, {**meta, "role": "member"}, {"logits": np.array(few.logits(model_id))})
    roster = open_zoo(str(few.path), "base", 0.05).roster
    models, name = chapter.reference_models(roster)
    assert models == ["base", *roster.partners, *roster.controls] and name.startswith("every pair")


def test_adjustment_residuals_are_measured_minus_predicted(zoo):
    pairs = chapter.base_pairs(zoo, n_bootstrap=20, seed=0)
    adjusted = chapter.adjust_for_accuracy(pairs, n_bootstrap=20, seed=0)
    table = adjusted.table
    assert list(table.index) == zoo.roster.partners
    np.testing.assert_allclose(table["kappa"], table["kappa_raw"] - table["kappa_expected"])
    np.testing.assert_allclose(table["error_inconsistency_raw"], pairs.table.loc[table.index, "error_inconsistency"])
    # The fit's prediction at a pair's accuracies, by hand from the coefficients.
    b0, b1, b2 = adjusted.coefficients["error_inconsistency"]
    p_a, p_b = pairs.base_accuracy, table["accuracy"].to_numpy()
    np.testing.assert_allclose(table["error_inconsistency_expected"], b0 + b1 * (p_a + p_b) / 2 + b2 * abs(p_a - p_b))
    means = table.groupby("category")["kappa"].mean()
    assert adjusted.trend("kappa").means.to_dict() == pytest.approx(means.to_dict())


def test_no_adjustment_says_why(zoo):
    pairs = chapter.base_pairs(zoo, n_bootstrap=10, seed=0)
    few = chapter.Adjustment(None, {}, "every pair", 3, "3 reference pairs are too few", zoo.names)
    assert few.figure() is None and few.shown() is None and few.trend("kappa") is None
    assert few.fits().data == "No accuracy adjustment: 3 reference pairs are too few."
    assert chapter.adjust_for_accuracy(pairs, 10, 0).problem is None


def test_by_category_against_a_naive_loop():
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({"category": rng.choice(["Reinit", "Architecture", "Dataset"], 40),
                          "in_band": rng.random(40) < 0.5, "error_inconsistency": rng.random(40),
                          "kappa": rng.random(40)})
    pairs.loc[pairs["category"] == "Dataset", "in_band"] = False  # a category with no pair in the band
    table = chapter.by_category(pairs)
    assert list(table.index) == ["Reinit", "Architecture", "Dataset"]
    for category in table.index:
        rows = pairs[pairs["category"] == category]
        banded = rows[rows["in_band"]]
        assert table.loc[category, "all pairs: pairs"] == len(rows)
        assert table.loc[category, "both in the band: pairs"] == len(banded)
        assert np.isclose(table.loc[category, "all pairs: error consistency kappa (mean)"], rows["kappa"].mean())
    assert np.isnan(table.loc["Dataset", "both in the band: error inconsistency (mean)"])
    assert "all pairs: error consistency kappa (count)" not in table


def test_all_pairs_matrices_against_naive_counts(zoo, store):
    everything = chapter.all_pairs(zoo, 20, 0)
    assert everything.order[0] == "base" and everything.order[-len(CONTROLS):] == list(CONTROLS)
    right = {m: correctness(store, m) for m in everything.order}
    i, j = everything.order.index("arch"), everything.order.index("dataset")
    assert np.isclose(everything.matrices["error_inconsistency"][i, j], np.mean(right["arch"] != right["dataset"]))
    assert np.isnan(everything.matrices["kappa"][i, i])
    assert "control" not in " ".join(everything.table.index)  # controls are left out of the table


def naive_crossed_means(values, samples, categories, strata, first, second, n_bootstrap, seed):
    """Per category and sample, the pairs' mean weighted by the product of their models' draws, by loops."""
    weights = model_weights(strata, n_bootstrap, seed)
    means = {}
    for category in dict.fromkeys(categories):
        mine = [p for p, c in enumerate(categories) if c == category]
        rows = []
        for b in range(n_bootstrap):
            w = [weights[b, first[p]] * weights[b, second[p]] for p in mine]
            rows.append(sum(wp * samples[b, p] for wp, p in zip(w, mine)) / sum(w) if sum(w) else np.nan)
        means[category] = np.array(rows)
    return means


def test_base_pairs_category_intervals_are_crossed(zoo):
    pairs = chapter.base_pairs(zoo, n_bootstrap=40, seed=3)
    table, partners = pairs.table, pairs.is_partner
    strata = [None] + [c if partner else "Accuracy control" for c, partner in zip(table["category"], partners)]
    categories = list(table["category"][partners])
    samples = pairs.samples["error_inconsistency"][:, partners]
    expected = naive_crossed_means(table["error_inconsistency"][partners].to_numpy(), samples, categories,
                                   strata, pairs.pairs[partners, 0], pairs.pairs[partners, 1], 40, 3)
    summary, draws = pairs.summaries["all partners"]
    for category, naive in expected.items():
        np.testing.assert_allclose(draws["error_inconsistency"][category], naive)
    # Dataset has two partners: redrawing them moves its mean beyond the example resamples alone.
    dataset = [m for m in table.index[partners] if table.loc[m, "category"] == "Dataset"]
    assert len(dataset) == 2
    example_only = pairs.samples["error_inconsistency"][:, [list(table.index).index(m) for m in dataset]].mean(axis=1)
    assert not np.allclose(draws["error_inconsistency"]["Dataset"], example_only)
    assert np.isclose(summary.loc["Dataset", "error_inconsistency_sd"],
                      np.std(table.loc[dataset, "error_inconsistency"], ddof=1))


def test_contrasts_apply_the_rule_to_every_step(zoo):
    pairs = chapter.base_pairs(zoo, n_bootstrap=40, seed=0)
    summary, draws = pairs.summaries["all partners"]
    shown = pairs.contrasts()
    present = list(summary.index)
    labels = [f"{b} − {a}" for a, b in zip(present[:-1], present[1:])] + [f"{present[-1]} − {present[0]}"]
    assert list(shown.loc["error inconsistency"].index) == labels
    for metric, sign in (("error_inconsistency", 1), ("kappa", -1)):
        for a, b in [*zip(present[:-1], present[1:]), (present[0], present[-1])]:
            sd, n = summary[f"{metric}_sd"], summary[f"{metric}_n"]
            expected = contrast_verdict(f"{b} − {a}", summary.loc[b, metric] - summary.loc[a, metric],
                                        draws[metric][b] - draws[metric][a],
                                        detectable_difference(sd[b], n[b], sd[a], n[a]), None, sign)
            row = shown.loc[(chapter.METRICS[metric], f"{b} − {a}")]
            assert row["verdict"] == expected.verdict
            assert expected.text.endswith(row["difference [crossed interval]; power"])


def test_two_intervals_side_by_side(zoo):
    pairs = chapter.base_pairs(zoo, n_bootstrap=60, seed=0)
    table = pairs.two_intervals()
    assert len(table) == 2 and (table["difference"] == "Dataset − Reinit").all()
    partners = pairs.table[pairs.is_partner]
    columns = {c: [list(pairs.table.index).index(m) for m in partners.index[partners["category"] == c]]
               for c in ("Reinit", "Dataset")}
    samples = pairs.samples["error_inconsistency"]
    naive = samples[:, columns["Dataset"]].mean(axis=1) - samples[:, columns["Reinit"]].mean(axis=1)
    low, high = np.nanquantile(naive, [0.025, 0.975])
    assert np.isclose(table["width"].iloc[0], round(high - low, 4))
    _, draws = pairs.summaries["all partners"]
    crossed = draws["error_inconsistency"]["Dataset"] - draws["error_inconsistency"]["Reinit"]
    low, high = np.nanquantile(crossed, [0.025, 0.975])
    assert np.isclose(table["width"].iloc[1], round(high - low, 4))


def test_all_pairs_summaries_against_naive_means_and_model_counts(zoo):
    everything = chapter.all_pairs(zoo, 30, 0)
    roster, members = zoo.roster, [m for m in everything.order if zoo.roster.table.loc[m, "role"] == "member"]
    matrix, order = everything.matrices["error_inconsistency"], everything.order
    by_category = {}
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            by_category.setdefault(roster.pair_category(a, b), []).append((a, b))
    summary, _ = everything.summaries["all pairs"]
    for category, pairs in by_category.items():
        values = [matrix[order.index(a), order.index(b)] for a, b in pairs]
        assert np.isclose(summary.loc[category, "error_inconsistency"], np.mean(values))
        assert everything.models["all pairs"][category] == len({m for pair in pairs for m in pair})
    verdicts = everything.verdicts()
    trend = everything.trend("all pairs", "error_inconsistency")
    assert verdicts.loc[("all pairs", "error inconsistency"), "verdict"] == trend.verdict
    sd = summary["error_inconsistency_sd"]
    models = everything.models["all pairs"]
    assert trend.contrast.detectable == pytest.approx(
        detectable_difference(sd["Dataset"], models["Dataset"], sd["Reinit"], models["Reinit"]), nan_ok=True)
    beside = chapter.base_and_all_pairs(chapter.base_pairs(zoo, 30, 0), everything)
    assert list(beside.index) == ["Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"]
    n = summary.loc["Dataset", "error_inconsistency_n"]
    assert beside.loc["Dataset", "error inconsistency: all pairs of members"].endswith(
        f"(n={n} pairs of {models['Dataset']} models)")


def test_every_base_recomputes_categories_and_pairs_for_each_base(zoo, store):
    bases = chapter.every_base(zoo, 30, 0)
    assert list(bases.summaries) == ["base", "reinit"]  # the base and its Reinit partner
    right = {m: correctness(store, m) for m in store.model_ids}
    first, _ = bases.summaries["base"]
    pairs = chapter.base_pairs(zoo, 30, 0)
    pd.testing.assert_series_equal(first["error_inconsistency"],
                                   pairs.summaries["all partners"][0]["error_inconsistency"])
    other, _ = bases.summaries["reinit"]
    # From the Reinit partner, the first base is its Reinit partner; the other categories are unchanged here.
    assert np.isclose(other.loc["Reinit", "error_inconsistency"], np.mean(right["reinit"] != right["base"]))
    dataset = np.mean([np.mean(right["reinit"] != right[m]) for m in ("dataset", "top1-only")])
    assert np.isclose(other.loc["Dataset", "error_inconsistency"], dataset)
    spread = bases.spread()
    assert list(spread.index) == ["base", "reinit", "lowest", "highest", "SD across bases"]
    differences = [first.loc["Dataset", "error_inconsistency"] - first.loc["Reinit", "error_inconsistency"],
                   dataset - other.loc["Reinit", "error_inconsistency"]]
    np.testing.assert_allclose(spread["Dataset − Reinit"], [*differences, min(differences), max(differences),
                                                           np.std(differences, ddof=1)], atol=5e-5)
    assert list(bases.shown().index.get_level_values("base")) == ["base", "base", "reinit", "reinit"]


# -- the figure functions -----------------------------------------------------------------

def pair_table(n_per_category=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for category in ("Reinit", "Architecture", "Dataset"):
        for _ in range(n_per_category):
            value = rng.uniform(0.05, 0.2)
            rows.append({"category": category, "group": category, "in_band": bool(rng.integers(2)),
                         "error_inconsistency": value, "error_inconsistency_low": value - 0.01,
                         "error_inconsistency_high": value + 0.01, "kappa": 1 - 3 * value})
    return pd.DataFrame(rows)


def test_category_metrics_draws_one_panel_per_metric():
    pairs = pair_table()
    summary = pairs.groupby("category")[["error_inconsistency", "kappa"]].mean()
    for metric in ("error_inconsistency", "kappa"):
        summary[f"{metric}_low"], summary[f"{metric}_high"] = summary[metric] - 0.01, summary[metric] + 0.01
    fig = plots_categories.category_metrics(pairs, {"all partners": summary},
                                            {"error_inconsistency": "error inconsistency", "kappa": "kappa"},
                                            {"kappa": [(0.5, "control")]}, title="Fig 1")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["error inconsistency", "kappa"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Reinit", "Architecture", "Dataset"]
    assert fig._suptitle.get_text() == "Fig 1"
    plt.close(fig)


def test_pair_heatmap_orders_models_and_colors_groups():
    matrix = np.array([[np.nan, 0.1, 0.2], [0.1, np.nan, 0.3], [0.2, 0.3, np.nan]])
    fig = plots_categories.pair_heatmap({"error inconsistency": matrix, "kappa": 1 - matrix},
                                        ["base", "seed", "clip"], [BASE_LABEL, "Reinit", "Dataset"],
                                        cmaps={"kappa": "viridis_r"})
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmaps] == ["error inconsistency", "kappa"]
    ticks = heatmaps[0].get_yticklabels()
    assert [t.get_text() for t in ticks] == ["base", "seed", "clip"]
    assert same_color(ticks[2].get_color(), CATEGORY_COLORS["Dataset"])
    assert "0.30" in [t.get_text() for t in heatmaps[0].texts]  # cells are annotated
    plt.close(fig)
