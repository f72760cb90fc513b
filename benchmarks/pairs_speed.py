"""Benchmark: all-pairs error inconsistency, kappa and disagreement of a whole zoo.

Compares :func:`norep.analysis.pairs.pair_metrics` (matrix products over the zoo) with a
per-pair numpy loop on a synthetic zoo of N models, M examples and C classes. The loop is
timed on a random sample of pairs and extrapolated to all N (N - 1) / 2 pairs; both give
the same numbers on the sampled pairs (checked). Each is timed ``--repeat`` times: the
ratio uses the shortest wall-clock times (also reported: the ratio of the median times
and of the process CPU times, which depend less on what else runs on the machine).
Targets at the full size (N=500, M=50,000, C=1,000): under 5 s, and at least 50x faster
than the loop.

Usage:
    python benchmarks/pairs_speed.py                      # full size
    python benchmarks/pairs_speed.py --models 100 --examples 10000 --json out.json
"""

from __future__ import annotations

import os

import numpy as np
from common import conditions, finish, size_parser, timings

from norep.analysis.pairs import pair_metrics

METRICS = ("error_inconsistency", "kappa", "disagreement")
TARGET_SECONDS = 5.0
TARGET_RATIO = 50.0


def synthetic_zoo(n_models: int, n_examples: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return labels (M,) and top-1 predictions (N, M) of a zoo with shared difficulty.

    Each model is right when its skill beats the example's difficulty plus its own noise
    (accuracies of about 70-85%); a wrong model names one of five classes the example is
    confusable with 70% of the time, any class otherwise.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples)
    difficulty = rng.normal(0, 1.5, n_examples).astype(np.float32)
    skill = rng.uniform(1.0, 1.9, n_models).astype(np.float32)[:, None]
    noise = rng.standard_normal((n_models, n_examples), dtype=np.float32)
    right = skill - difficulty[None, :] + noise > 0
    confusers = (labels[:, None] + rng.integers(1, n_classes, (n_examples, 5))) % n_classes
    pick = rng.choice(5, size=(n_models, n_examples), p=[0.4, 0.25, 0.15, 0.12, 0.08])
    confused = confusers[np.arange(n_examples)[None, :], pick]
    anything = (labels[None, :] + rng.integers(1, n_classes, (n_models, n_examples))) % n_classes
    wrong_label = np.where(rng.random((n_models, n_examples)) < 0.7, confused, anything)
    predictions = np.where(right, labels[None, :], wrong_label).astype(np.int32)
    return labels, predictions


def fast(labels: np.ndarray, predictions: np.ndarray) -> dict[str, np.ndarray]:
    """All pairs at once with :func:`norep.analysis.pairs.pair_metrics`."""
    return pair_metrics(predictions == labels[None, :], predictions, metrics=METRICS)


def loop(labels: np.ndarray, predictions: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The same metrics pair by pair, shape (P, 3)."""
    correct = predictions == labels[None, :]
    out = np.empty((len(pairs), 3))
    for row, (i, j) in enumerate(pairs):
        p_i, p_j = correct[i].mean(), correct[j].mean()
        inconsistency = np.mean(correct[i] != correct[j])
        expected = p_i * p_j + (1 - p_i) * (1 - p_j)
        kappa = (1 - inconsistency - expected) / (1 - expected) if expected < 1 else np.nan
        out[row] = inconsistency, kappa, np.mean(predictions[i] != predictions[j])
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print a summary and return (and optionally write) the results."""
    parser = size_parser(__doc__.splitlines()[0], models=500, examples=50_000, classes=1_000)
    parser.add_argument("--loop-pairs", type=int, default=2_000, help="pairs the loop is timed on")
    args = parser.parse_args(argv)

    labels, predictions = synthetic_zoo(args.models, args.examples, args.classes, args.seed)
    n_pairs = args.models * (args.models - 1) // 2
    rng = np.random.default_rng(args.seed)
    sample = np.stack(np.triu_indices(args.models, 1), axis=1)
    sample = sample[rng.choice(n_pairs, size=min(args.loop_pairs, n_pairs), replace=False)]

    load_before = os.getloadavg()[0]
    fast_times = timings(lambda: fast(labels, predictions), args.repeat)
    loop_times = timings(lambda: loop(labels, predictions, sample), args.repeat)
    scale = n_pairs / len(sample)  # the loop is timed on a sample of pairs
    fast_seconds, loop_seconds = min(fast_times["wall"]), min(loop_times["wall"]) * scale
    matrices = fast(labels, predictions)
    reference = loop(labels, predictions, sample)
    max_difference = float(np.nanmax(np.abs(
        np.stack([matrices[m][sample[:, 0], sample[:, 1]] for m in METRICS], axis=1) - reference)))
    accuracy = (predictions == labels[None, :]).mean(axis=1)
    results = {
        "benchmark": "pairs_speed",
        "models": args.models, "examples": args.examples, "classes": args.classes,
        "pairs": n_pairs, "loop_pairs_timed": len(sample), "repeat": args.repeat,
        "accuracy_range": [float(accuracy.min()), float(accuracy.max())],
        "fast_seconds": fast_seconds,
        "loop_seconds_extrapolated": loop_seconds,
        "ratio": loop_seconds / fast_seconds,
        "fast_seconds_median": float(np.median(fast_times["wall"])),
        "loop_seconds_median_extrapolated": float(np.median(loop_times["wall"])) * scale,
        "ratio_median": float(np.median(loop_times["wall"]) * scale / np.median(fast_times["wall"])),
        "fast_cpu_seconds": min(fast_times["cpu"]),
        "loop_cpu_seconds_extrapolated": min(loop_times["cpu"]) * scale,
        "ratio_cpu": min(loop_times["cpu"]) * scale / min(fast_times["cpu"]),
        "load_average_1min_before": load_before,
        "max_abs_difference": max_difference,
        "exact": max_difference <= 1e-12,
        "target_seconds": TARGET_SECONDS, "target_ratio": TARGET_RATIO,
        **conditions(),
    }
    print(f"all pairs of N={args.models}, M={args.examples}, C={args.classes} ({n_pairs} pairs): "
          f"{', '.join(METRICS)}")
    print(f"  matrix products : {fast_seconds:8.3f} s   (target < {TARGET_SECONDS:g} s at full size)")
    print(f"  per-pair loop   : {loop_seconds:8.3f} s   (timed on {len(sample)} pairs, extrapolated)")
    print(f"  ratio           : {results['ratio']:8.1f} x (target >= {TARGET_RATIO:g}x; "
          f"medians {results['ratio_median']:.1f} x, CPU time {results['ratio_cpu']:.1f} x)")
    print(f"  max |difference| on the timed pairs: {max_difference:.3g}")
    return finish(results, args.json)


if __name__ == "__main__":
    main()
