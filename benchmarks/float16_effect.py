"""Benchmark: what float16 logits change in the numbers the chapters compute from logits.

Copies the models of a store (logits or top-1 answers, and metadata; the source is only
read) into stores in a temporary folder, once per rounding of the logits:

- ``float32``: the logits as they are (the reference: the source's numbers);
- ``float16``: a float16 store (``Store.create(logits_dtype="float16")``), which keeps
  each row minus its maximum, rounded once to float16, and each row's
  ``EXACT_TOP`` largest logits exactly (float32), and reads back float32 logits with
  those classes exact;
- ``shift only``: each row minus its maximum rounded to float16 without the exact top
  classes (kept in a float32 store), to show what the exact top classes buy;
- ``plain cast``: each logit cast to float16 as it is (kept in a float32 store), to show
  what the shift buys.

On each copy it computes what the analysis chapters and ``norep pairs`` compute from
logits: every model's test accuracy and top-1 confidences (T = 1 and fitted T), the
temperatures fitted on the calibration split and the calibration table (NLL, ECE), every
column of the all-pair table of ``norep pairs`` (error inconsistency, kappa,
disagreement, ensemble accuracy, ...), and all-pair two-model ensembles as the
ensembles chapter computes them (calibrated: accuracy, conversion rate, improvement, and
every pair's correctness per example; and with T = 1). It reports, per rounding, the
largest absolute difference of each from the float32 copy (accuracies and rates in
points), how many top-1 answers and ensemble decisions changed, and whether every
ensemble accuracy stays within the limit (0.01 points: one test example in 10,000).

Usage:
    python benchmarks/float16_effect.py runs/fashion_mnist runs/fashion_mnist_ci \\
        --json benchmarks/results/float16.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from norep.analysis.ensembles import pair_ensemble_correctness
from norep.book.views import calibration_table, fit_temperatures, pairs_table, zoo_ensembles
from norep.store import Store, read_outcomes, read_scores
from norep.store.store import EXACT_TOP, half_precision_logits

LIMIT_POINTS = 0.01
"""Largest move of an ensemble accuracy the float16 store may cause (points)."""

ROUNDINGS = ("float16", "shift only", "plain cast")
"""The roundings compared with the float32 logits."""

ENSEMBLE_ACCURACIES = ("ensemble accuracy", "norep pairs: ensemble_acc")
"""Names of the numbers the limit applies to (their beginnings)."""

POINTS = 100.0


def rounded_copy(source: Store, path: str | Path, rounding: str) -> Store:
    """Copy every model of ``source`` (metadata, logits or top-1 answers) into a new store.

    Args:
        source: The store to copy (only read).
        path: The new store's folder.
        rounding: ``"float32"`` (the logits as they are), ``"float16"`` (a float16
            store: each row shifted to its maximum, then rounded, its top classes kept
            exactly), ``"shift only"`` (each row shifted, then rounded, kept in a
            float32 store) or ``"plain cast"`` (each logit rounded to float16 as it
            is, kept in a float32 store).

    Returns:
        The copy.
    """
    if rounding not in ("float32", *ROUNDINGS):
        raise ValueError(f"unknown rounding {rounding!r}")
    dataset = source.manifest["dataset"]
    copy = Store.create(path, dataset=dataset["name"], classes=dataset["classes"], examples=source.examples,
                        fingerprint=dataset["fingerprint"],
                        logits_dtype="float16" if rounding == "float16" else "float32")
    for model_id in source.model_ids:
        arrays = {name: np.asarray(source.array(model_id, name)) for name in ("logits", "predictions", "confidences")
                  if source.has_array(model_id, name)}
        if rounding == "shift only" and "logits" in arrays:
            arrays["logits"] = half_precision_logits(arrays["logits"]).astype(np.float32)
        if rounding == "plain cast" and "logits" in arrays:
            arrays["logits"] = arrays["logits"].astype(np.float16).astype(np.float32)
        copy.add_model(model_id, source.meta(model_id), arrays)
    return copy


def chapter_numbers(store: Store) -> dict[str, np.ndarray]:
    """Every number the chapters compute from a store's logits, by name (accuracies in points).

    Args:
        store: A store with a calibration and a test split.

    Returns:
        Arrays by name; boolean arrays are per-example decisions.
    """
    model_ids = [m for m in store.model_ids if store.has_array(m, "logits")]
    temperatures = fit_temperatures(store, model_ids, "calibration")
    outcomes, scaled = read_outcomes(store, "test"), read_outcomes(store, "test", model_ids, temperatures)
    calibrated = zoo_ensembles(store, model_ids, "test", "calibration")
    unscaled = zoo_ensembles(store, model_ids, "test", None)
    first, second = np.triu_indices(len(model_ids), 1)
    scores = read_scores(store, model_ids, "test", temperatures)
    calibration = calibration_table(store, model_ids).set_index("model_id")
    pairs = pairs_table(store)
    return {
        "model accuracy (points)": POINTS * outcomes.accuracy,
        "top-1 predictions": outcomes.predictions,
        "confidence, T = 1": outcomes.confidences,
        "confidence, fitted T": scaled.confidences,
        "temperature": np.array([temperatures[m] for m in model_ids]),
        **{f"calibration: {column}": calibration[column].to_numpy()
           for column in ("nll_before", "nll_after", "ece_before", "ece_after")},
        **{f"norep pairs: {column}" + (" (points)" if column.startswith(("acc", "ensemble")) else ""):
           POINTS * pairs[column].to_numpy() if column.startswith(("acc", "ensemble")) else pairs[column].to_numpy()
           for column in pairs.columns if pairs[column].dtype.kind == "f"},
        "ensemble accuracy, calibrated (points)": POINTS * calibrated.accuracy,
        "ensemble conversion rate, calibrated (points)": POINTS * calibrated.conversion_rate,
        "ensemble improvement, calibrated (points)": POINTS * calibrated.improvement,
        "ensemble accuracy, T = 1 (points)": POINTS * unscaled.accuracy,
        "ensemble decisions, calibrated": pair_ensemble_correctness(scores, store.labels("test"), first, second),
    }


def compare(reference: Store, rounded: Store, limit_points: float = LIMIT_POINTS) -> dict:
    """Compare the chapters' numbers on two copies of one store.

    Args:
        reference: The float32 copy.
        rounded: A copy with rounded logits (see :func:`rounded_copy`).
        limit_points: The largest move of an ensemble accuracy allowed (points).

    Returns:
        ``largest_difference``: per number, the largest absolute difference (NaN where
        both are NaN is no difference; a NaN on one side only is infinite);
        ``changed``: per kind of decision (top-1 answers, ensemble decisions), how many
        changed of how many; ``ensemble_accuracy_points``: the largest move of any
        ensemble accuracy; ``within_limit``: whether it is at most ``limit_points``.
    """
    expected, got = chapter_numbers(reference), chapter_numbers(rounded)
    largest, changed = {}, {}
    for name, value in expected.items():
        if value.dtype.kind in "biu":
            changed[name] = [int(np.sum(got[name] != value)), int(value.size)]
            continue
        same = (got[name] == value) | (np.isnan(got[name]) & np.isnan(value))
        difference = np.where(same, 0.0, np.abs(got[name] - value))
        largest[name] = float(np.nan_to_num(difference, nan=np.inf).max(initial=0.0))
    moved = max(value for name, value in largest.items() if name.startswith(ENSEMBLE_ACCURACIES))
    return {"largest_difference": largest, "changed": changed, "ensemble_accuracy_points": moved,
            "within_limit": bool(moved <= limit_points * (1 + 1e-9))}


def effect(store: Store, folder: Path, limit_points: float = LIMIT_POINTS) -> dict:
    """Copy ``store`` with each rounding into ``folder`` and compare each with the float32 copy."""
    reference = rounded_copy(store, folder / "float32", "float32")
    test = store.labels("test")
    return {
        "store": str(store.path), "models": len(store.model_ids), "test_examples": len(test),
        "classes": len(store.classes), "pairs": len(store.model_ids) * (len(store.model_ids) - 1) // 2,
        "roundings": {rounding: compare(reference, rounded_copy(store, folder / rounding.replace(" ", "_"), rounding),
                                        limit_points)
                      for rounding in ROUNDINGS},
    }


def report(measured: dict) -> None:
    """Print one store's differences, one line per number."""
    print(f"{measured['store']}: {measured['models']} models, {measured['pairs']} pairs, "
          f"{measured['test_examples']} test examples")
    names = measured["roundings"][ROUNDINGS[0]]
    print(f"  {'largest absolute difference':48s}" + "".join(f"{r:>14s}" for r in ROUNDINGS))
    for name in names["largest_difference"]:
        print(f"  {name:48s}" + "".join(f"{measured['roundings'][r]['largest_difference'][name]:14.3g}"
                                        for r in ROUNDINGS))
    for name in names["changed"]:
        print(f"  {name + ' changed':48s}" + "".join(
            "{:>14s}".format("{} / {}".format(*measured["roundings"][r]["changed"][name])) for r in ROUNDINGS))
    for rounding in ROUNDINGS:
        result = measured["roundings"][rounding]
        print(f"  {rounding}: ensemble accuracies move by at most {result['ensemble_accuracy_points']:.4f} points "
              f"({'within' if result['within_limit'] else 'beyond'} the limit of {LIMIT_POINTS} points)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", help="stores to measure (only read)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    results = {"limit_points": LIMIT_POINTS, "roundings": list(ROUNDINGS), "exact_top": EXACT_TOP,
               "command": "python benchmarks/float16_effect.py " + " ".join(args.stores), "stores": []}
    for path in args.stores:
        with tempfile.TemporaryDirectory(prefix="float16-effect-") as folder:
            measured = effect(Store(path), Path(folder))
        report(measured)
        results["stores"].append(measured)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
