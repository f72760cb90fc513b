"""The chapter "The zoo": every model, its methodology, its accuracy against the band.

The chapter calls, in order: :func:`zoo_models` (the models in display order, with
their methodology and category), :func:`methodology_table`, :func:`zoo_accuracy` (both
accuracies, the test intervals and band membership), :func:`band_sentence`,
:func:`band_gaps`, :func:`category_counts` and :func:`zoo_verdicts` (the rows of its
"Paper vs this book" table).

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)        # doctest: +SKIP
    >>> accuracy = zoo_accuracy(zoo, zoo_models(zoo), seed=0, n_bootstrap=1000)  # doctest: +SKIP
    >>> paper_vs_book(zoo_verdicts(zoo, accuracy))                      # doctest: +SKIP
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from IPython.display import Markdown

from norep.book.chapter import ChapterZoo
from norep.store import read_outcomes
from norep.zoo import CATEGORIES, FIELDS
from norep.zoo.roster import BASE_LABEL, ROLE_LABELS


def zoo_models(zoo: ChapterZoo) -> pd.DataFrame:
    """Every model of the store with its methodology, the base first, then Reinit to Dataset.

    Accuracy controls stay in their category here (they are counted apart).

    Args:
        zoo: The chapter's zoo.

    Returns:
        The store's models table indexed by model id, plus columns ``group`` (the
        category relative to the base, :data:`BASE_LABEL` for the base), ``role`` and
        ``display_name``; sorted by group (stable within a group).

    Raises:
        ValueError: A model other than the base has no category (incomplete methodology).

    Example:
        >>> zoo_models(zoo)[["group", "role"]].head(2)   # doctest: +SKIP
    """
    store, table = zoo.store, zoo.roster.table
    base = zoo.roster.base
    undecided = table.index[table["category"].isna() & (table.index != base)]
    if len(undecided):
        raise ValueError(f"no category for {list(undecided)}: incomplete methodology")
    models = store.models.set_index("model_id").loc[store.model_ids]
    models["group"] = table["category"].where(table.index != base, BASE_LABEL)
    models["role"] = table["role"]
    models["display_name"] = table["name"]
    rank = {BASE_LABEL: -1, **{category: i for i, category in enumerate(CATEGORIES)}}
    return models.sort_values("group", key=lambda group: group.map(rank), kind="stable")


def methodology_table(zoo: ChapterZoo, models: pd.DataFrame) -> pd.DataFrame:
    """The methodology of every model, one row each, as the chapter shows it.

    Args:
        zoo: The chapter's zoo.
        models: The table of :func:`zoo_models`.

    Returns:
        Columns model, category, role, differs from the base in (the fields, from the
        training data down to the seed), architecture, objective, training data, seed
        and hyper-parameters (``key=value`` pairs).

    Example:
        >>> methodology_table(zoo, zoo_models(zoo))   # doctest: +SKIP
    """
    methods = zoo.roster.methodologies
    base = methods[zoo.roster.base]
    differs = [", ".join(f.replace("_", " ") for f in FIELDS if getattr(methods[m], f) != getattr(base, f)) or "-"
               for m in models.index]
    return pd.DataFrame({
        "model": models["display_name"],
        "category": models["group"],
        "role": models["role"],
        "differs from the base in": differs,
        "architecture": models["architecture"],
        "objective": models["objective"],
        "training data": models["training_data"],
        "seed": [str(int(seed)) if pd.notna(seed) else "-" for seed in models["seed"]],
        "hyper-parameters": [", ".join(f"{k}={v}" for k, v in json.loads(h).items())
                             for h in models["hyperparameters"]],
    })


def zoo_accuracy(zoo: ChapterZoo, models: pd.DataFrame, seed: int, n_bootstrap: int) -> pd.DataFrame:
    """Each model's accuracy on both splits, a test interval, and whether it is in the band.

    The test interval is the 95% percentile bootstrap interval over test examples: the
    number of correct answers in a resample of the n examples is binomial with the
    observed accuracy, so the bootstrap draws that count directly, all models at once
    from one generator seeded with ``seed``.

    Args:
        zoo: The chapter's zoo.
        models: The table of :func:`zoo_models` (its order is kept).
        seed: Seed of the bootstrap.
        n_bootstrap: Bootstrap samples.

    Returns:
        One row per model: ``calibration`` (accuracy on the roster's band split),
        ``test``, ``test_low``, ``test_high``, ``test_gap`` (test minus the base's test
        accuracy), ``in_band`` (a gap of exactly the band is in it), ``group``, ``role``
        and ``label`` (the name, marked when a control); accuracies as fractions.

    Example:
        >>> zoo_accuracy(zoo, zoo_models(zoo), seed=0, n_bootstrap=1000)["in_band"]  # doctest: +SKIP
    """
    table = zoo.roster.table
    test = read_outcomes(zoo.store, "test", list(models.index)).correct.mean(axis=1)
    accuracy = pd.DataFrame({"calibration": table["accuracy"].loc[models.index],
                             "test": pd.Series(test, index=models.index)})
    n_test = len(zoo.store.labels("test"))
    rng = np.random.default_rng(seed)
    draws = rng.binomial(n_test, accuracy["test"], size=(n_bootstrap, len(models))) / n_test
    accuracy["test_low"], accuracy["test_high"] = np.percentile(draws, [2.5, 97.5], axis=0)
    accuracy["test_gap"] = accuracy["test"] - accuracy.loc[zoo.roster.base, "test"]
    accuracy["in_band"] = table["in_band"]
    accuracy["group"], accuracy["role"] = models["group"], models["role"]
    accuracy["label"] = [f"{name} (control)" if role == "accuracy-control" else name
                         for name, role in zip(models["display_name"], models["role"])]
    return accuracy


def band_sentence(zoo: ChapterZoo, accuracy: pd.DataFrame) -> Markdown:
    """One sentence: the zoo's size, the base's accuracies and its partners in the band.

    Args:
        zoo: The chapter's zoo.
        accuracy: The table of :func:`zoo_accuracy`.

    Returns:
        The sentence.
    """
    base = zoo.roster.base
    partners = accuracy.index[(accuracy["role"] == "member") & (accuracy.index != base)]
    return Markdown(
        f"The zoo has {len(accuracy)} models of {len(zoo.store.classes)} classes. "
        f"The base reaches {accuracy.loc[base, 'calibration']:.1%} on calibration and "
        f"{accuracy.loc[base, 'test']:.1%} on test ({len(zoo.store.labels('test'))} "
        f"examples); {accuracy.loc[partners, 'in_band'].sum()} of its {len(partners)} "
        "partners are in the band.")


def band_gaps(zoo: ChapterZoo, accuracy: pd.DataFrame) -> pd.DataFrame:
    """The partners in the band, with both accuracy gaps to the base.

    The band is decided on calibration accuracy; the test gap beside it shows how far a
    partner in the band may still be from the base where the chapters measure.

    Args:
        zoo: The chapter's zoo.
        accuracy: The table of :func:`zoo_accuracy`.

    Returns:
        One row per member in the band (by category): model, category, calibration gap
        and test gap (points, partner minus base).

    Example:
        >>> band_gaps(zoo, zoo_accuracy(zoo, zoo_models(zoo), 0, 1000))   # doctest: +SKIP
    """
    base = zoo.roster.base
    kept = accuracy[(accuracy["role"] == "member") & accuracy["in_band"] & (accuracy.index != base)]
    return pd.DataFrame({
        "model": kept["label"],
        "category": kept["group"],
        "calibration gap (pt)": (100 * (kept["calibration"] - accuracy.loc[base, "calibration"])).round(2),
        "test gap (pt)": (100 * kept["test_gap"]).round(2),
    }).set_index("model")


def category_counts(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Members per category, those in the band, and the models of other roles (counted apart).

    Args:
        accuracy: The table of :func:`zoo_accuracy`.

    Returns:
        One row per category (the base first, then Reinit to Dataset, zeros included),
        columns members, in band, and one per other role present (accuracy controls,
        same seed, data only) by the category its methodology falls in.

    Example:
        >>> category_counts(zoo_accuracy(zoo, zoo_models(zoo), 0, 1000))   # doctest: +SKIP
    """
    members = accuracy[accuracy["role"] == "member"]
    columns = {"members": members.groupby("group").size(),
               "in band": members["in_band"].groupby(members["group"]).sum()}
    for role, label in ROLE_LABELS.items():
        others = accuracy[accuracy["role"] == role]
        if len(others) or role == "accuracy-control":
            columns[label.lower() + ("s" if role == "accuracy-control" else "")] = others.groupby("group").size()
    return pd.DataFrame(columns).reindex([BASE_LABEL, *CATEGORIES]).fillna(0).astype(int).rename_axis("category")


def zoo_verdicts(zoo: ChapterZoo, accuracy: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """Rows of the chapter's "Paper vs this book" table: the zoo's design against the paper's.

    Args:
        zoo: The chapter's zoo.
        accuracy: The table of :func:`zoo_accuracy`.

    Returns:
        (claim, paper, this book, reproduces?) rows for :func:`norep.book.chapter.paper_vs_book`.

    Example:
        >>> paper_vs_book(zoo_verdicts(zoo, accuracy))   # doctest: +SKIP
    """
    base, band = zoo.roster.base, zoo.roster.band
    counts = category_counts(accuracy)
    missing = [category for category in CATEGORIES if counts.loc[category, "in band"] == 0]
    low, high = accuracy.loc[base, "calibration"] + np.array([-band, band])
    dataset = zoo.store.manifest["dataset"]["name"]
    return [
        ("divergence categories",
         "5, from Reinit to Dataset",
         f"{len(CATEGORIES) - len(missing)} of 5 with a partner in the band",
         f"no: none in the band for {missing}" if missing else "yes"),
        ("partners in the band per category",
         "Hyper-parameters 51, Architecture 17, Framework 2, Dataset 12",
         ", ".join(f"{c} {counts.loc[c, 'in band']}" for c in CATEGORIES),
         "-"),
        ("accuracy band",
         "74-78% top-1, about 2 points around the base",
         f"{low:.1%}-{high:.1%} calibration accuracy (base ± {100 * band:g} pt)",
         "-"),
        ("base accuracy",
         "76.5% (ResNet-50 with RandAugment, ImageNet top-1)",
         f"{accuracy.loc[base, 'test']:.1%} ({zoo.names[base]}, {dataset} test)",
         "-"),
    ]


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def quiz_pairs(zoo: ChapterZoo) -> list[tuple[str, str]]:
    """Pairs of two members, neither the base, one per category their pair falls in.

    The first such pair in store order is taken for each category, so the exercise asks
    about pairs the chapter's tables do not show (they pair every model with the base).

    Args:
        zoo: The chapter's zoo.

    Returns:
        (first, second) model ids, ordered from Reinit to Dataset.
    """
    roster = zoo.roster
    members = roster.members
    found: dict[str, tuple[str, str]] = {}
    for i, first in enumerate(members):
        for second in members[i + 1:]:
            found.setdefault(roster.pair_category(first, second), (first, second))
    return [found[category] for category in CATEGORIES if category in found]


def category_quiz(zoo: ChapterZoo, answers: bool = False) -> pd.DataFrame:
    """The methodologies of the :func:`quiz_pairs`, with the category as the answer.

    Args:
        zoo: The chapter's zoo.
        answers: Add the fields in which the two models differ (from the training data
            down to the seed) and the category the package derives.

    Returns:
        One row per pair: the two models, then each methodology field as "first | second".

    Example:
        >>> category_quiz(zoo, answers=True)["category"].tolist()   # doctest: +SKIP
        ['Reinit', 'Hyper-parameters', 'Architecture', 'Framework', 'Dataset']
    """
    roster, names = zoo.roster, zoo.names
    rows = []
    for first, second in quiz_pairs(zoo):
        a, b = roster.methodologies[first], roster.methodologies[second]
        row = {"first model": names[first], "second model": names[second]}
        row.update({f.replace("_", " "): f"{_field_text(getattr(a, f))} | {_field_text(getattr(b, f))}"
                    for f in FIELDS})
        if answers:
            row["differs in"] = ", ".join(f.replace("_", " ") for f in FIELDS if getattr(a, f) != getattr(b, f))
            row["category"] = roster.pair_category(first, second)
        rows.append(row)
    return pd.DataFrame(rows)


def _field_text(value) -> str:
    """A methodology value as a short text (hyper-parameters as key=value pairs)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    return "-" if value is None else str(value)


def seed_sharing(zoo: ChapterZoo) -> pd.DataFrame | Markdown:
    """Each same-seed model and its independent-seed twin, both paired with the base.

    A same-seed model trains with another recipe from the base's seed; its twin trains
    with the same recipe from its own seed. Error inconsistency and kappa with the base
    (test split) say which of the two errs more like the base.

    Args:
        zoo: The chapter's zoo.

    Returns:
        One row per same-seed model with a twin: both models' seeds, error inconsistency
        and kappa with the base, and which of the two is closer to the base (the lower
        error inconsistency); a sentence when the store has no such model.
    """
    from norep.analysis.pairs import pair_metrics
    from norep.book.chapters.zoo_design import twin

    roster, names = zoo.roster, zoo.names
    twins = {m: twin(zoo, m) for m in roster.role("same-seed")}
    twins = {m: t for m, t in twins.items() if t is not None}
    if not twins:
        return Markdown("This store has no same-seed model with an independent-seed twin.")
    models = [roster.base, *twins, *twins.values()]
    outcomes = read_outcomes(zoo.store, "test", models)
    metrics = pair_metrics(outcomes.correct, None, outcomes.valid, ("error_inconsistency", "kappa"))
    rows = []
    for same, other in twins.items():
        i, j = models.index(same), models.index(other)
        ei_same, ei_other = metrics["error_inconsistency"][0, i], metrics["error_inconsistency"][0, j]
        rows.append({
            "same-seed model": names[same], "its seed": roster.methodologies[same].seed,
            "error inconsistency with the base": round(float(ei_same), 3),
            "kappa with the base": round(float(metrics["kappa"][0, i]), 3),
            "twin (own seed)": names[other], "twin's seed": roster.methodologies[other].seed,
            "twin: error inconsistency": round(float(ei_other), 3),
            "twin: kappa": round(float(metrics["kappa"][0, j]), 3),
            "closer to the base": names[same] if ei_same < ei_other else names[other],
        })
    return pd.DataFrame(rows).set_index("same-seed model")
