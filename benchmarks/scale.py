"""Benchmark: `norep pairs` and the chapters on synthetic ImageNet-shaped stores of N models.

Builds a store of N models x M examples x C classes (default 50,000 x 1,000, a 20%
calibration split, as ``norep predict`` writes) through ``Store.create`` /
``Store.add_model``, with random logits of realistic accuracy (about 70-85%) and a
difficulty shared by the models (some examples are hard for every model, and the
classes an example is confusable with are shared). For each N it runs, each in a fresh
process, ``norep pairs STORE --csv`` (first with no derived arrays cached in the store,
then again with them: the two tables must be identical) and ``norep book run CHAPTER``
for each chapter (ImageNet profile, ``n_bootstrap`` resamples), and reports each
command's wall time and peak memory
(the largest resident set of the process and its children, from ``wait4``), with the
CPU time it used (on a machine shared with other work the wall time varies). Stores of
larger N extend the smaller ones (model i is the same in every store); the store is
deleted at the end unless ``--keep``.

Targets on a 2-core machine: peak memory at most 3 GB for every command and N, and
``norep pairs`` at N = 100 within 10 minutes.

Usage:
    python benchmarks/scale.py --models 10 25 50 100 --json benchmarks/results/scale.json
    python benchmarks/scale.py --models 10 --examples 5000 --chapters zoo --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from norep.store import Store

CHAPTERS = ("zoo", "error_inconsistency", "ensembles", "specialization", "low_accuracy")
TARGET_PEAK_GB = 3.0
TARGET_PAIRS_SECONDS = 600.0
BASE = "synthetic/base"
CATEGORY_FIELDS = (("Hyper-parameters", "hyperparameters"), ("Architecture", "architecture"),
                   ("Framework", "objective"), ("Dataset", "training_data"))
CHUNK = 5_000  # examples generated at a time


def examples_table(n_examples: int, n_classes: int, seed: int) -> pd.DataFrame:
    """Labels, a seeded 20% calibration split and a class-range subdomain, as ``norep predict``."""
    rng = np.random.default_rng([seed, 0])
    labels = rng.integers(0, n_classes, n_examples)
    split = np.full(n_examples, "test", dtype=object)
    split[rng.permutation(n_examples)[: n_examples // 5]] = "calibration"
    ranges = np.select([labels < n_classes * 3 // 10, labels < n_classes * 9 // 10], ["nature", "anthropogenic"],
                       "other")
    return pd.DataFrame({"example_id": [f"val_{i:08d}" for i in range(n_examples)], "label": labels,
                         "split": split, "class_range": ranges})


def model_meta(index: int) -> dict:
    """Methodology of model ``index``: the base, then one changed field per category in turn."""
    meta = {"architecture": "resnet50", "objective": "cross-entropy", "training_data": "ImageNet-1k",
            "hyperparameters": {"recipe": "a"}, "seed": None, "role": "member", "source": "synthetic"}
    if index:
        category, field = CATEGORY_FIELDS[(index - 1) % len(CATEGORY_FIELDS)]
        meta[field] = {"recipe": f"r{index}"} if field == "hyperparameters" else f"{field}-{index}"
        meta["display_name"] = f"synthetic {category} {index}"
    else:
        meta["display_name"] = "synthetic base"
    return meta


def synthetic_logits(index: int, labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Logits of model ``index``: shared confusions and difficulty, its own noise, skill and sharpness."""
    own = np.random.default_rng([seed, 1, index])
    skill = 5.8 if index == 0 else own.uniform(4.8, 6.8)  # the base near 76% top-1
    sharpness = own.uniform(0.6, 1.6)
    logits = np.empty((len(labels), n_classes), dtype=np.float32)
    for start in range(0, len(labels), CHUNK):
        rows = slice(start, min(start + CHUNK, len(labels)))
        shared = np.random.default_rng([seed, 2, start])  # the same for every model
        confusions = shared.standard_normal((rows.stop - start, n_classes), dtype=np.float32)
        difficulty = shared.standard_normal(rows.stop - start, dtype=np.float32)
        noise = np.random.default_rng([seed, 3, index, start])
        block = 0.8 * confusions + noise.standard_normal(confusions.shape, dtype=np.float32)
        block[np.arange(len(block)), labels[rows]] += (skill - 1.6 * difficulty
                                                       + noise.standard_normal(len(block), dtype=np.float32))
        logits[rows] = sharpness * block
    return logits


def fill_store(path: Path, n_models: int, n_examples: int, n_classes: int, seed: int, dtype: str) -> Store:
    """Create the store (or reopen it) and add the models it lacks up to ``n_models``."""
    examples = examples_table(n_examples, n_classes, seed)
    store = Store.create(path, dataset="imagenet-synthetic", classes=[f"class {c}" for c in range(n_classes)],
                         examples=examples, fingerprint=f"synthetic-{n_examples}-{n_classes}-{seed}",
                         logits_dtype=dtype)
    labels = examples["label"].to_numpy()
    for index in range(n_models):
        model_id = BASE if index == 0 else f"synthetic/model-{index:03d}"
        if store.has_model(model_id):
            continue
        logits = synthetic_logits(index, labels, n_classes, seed)
        accuracy = float(np.mean(logits.astype(dtype).argmax(axis=1) == labels))  # as stored
        store.add_model(model_id, {**model_meta(index), "accuracy": accuracy}, {"logits": logits})
    return store


def measure(command: list[str], output: Path | None = None) -> dict:
    """Run ``command`` in a fresh process; its wall time, CPU time (user + system, the
    process and its children: on a shared machine less dependent on the load), peak
    memory (GB) and outcome."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors, open(output or os.devnull, "wb") as printed:
        process = subprocess.Popen(command, stdout=printed, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        errors.seek(0)
        lines = errors.read().decode(errors="replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_gb": round(usage.ru_maxrss / 2**20, 3), "ok": code == 0,
            "error": None if code == 0 else (lines or [f"exit code {code}"])[-1]}


def norep(*arguments: str) -> list[str]:
    """The ``norep`` command line with this interpreter."""
    return [sys.executable, "-m", "norep.cli", *arguments]


def run_size(path: Path, n_models: int, args: argparse.Namespace) -> dict:
    """Fill the store to ``n_models`` and measure every command on it."""
    start = time.perf_counter()
    store = fill_store(path, n_models, args.examples, args.classes, args.seed, args.dtype)
    build_seconds = time.perf_counter() - start
    shutil.rmtree(path / "derived", ignore_errors=True)  # derived arrays: computed by the first run
    size = sum(f.stat().st_size for f in path.rglob("*.npy"))
    accuracy = store.models["accuracy"].to_numpy()
    commands = {}
    with tempfile.TemporaryDirectory() as folder:
        for label in ("pairs (cold)", "pairs (cached)"):
            commands[label] = measure(norep("pairs", str(path), "--csv"), Path(folder) / f"{label}.csv")
            print(f"  N={n_models} {label}: {commands[label]}", flush=True)
        tables = [(Path(folder) / f"{label}.csv").read_bytes() for label in ("pairs (cold)", "pairs (cached)")]
        for chapter in args.chapters:
            commands[chapter] = measure(norep(
                "book", "run", chapter, "-o", f"{folder}/{chapter}.ipynb", "--profile", "imagenet",
                "-p", "store", str(path), "-p", "base", BASE, "-p", "n_bootstrap", str(args.n_bootstrap)))
            print(f"  N={n_models} {chapter}: {commands[chapter]}", flush=True)
    return {"models": n_models, "examples": args.examples, "classes": args.classes, "dtype": args.dtype,
            "store_gb": round(size / 1e9, 2), "build_seconds": round(build_seconds, 1),
            "accuracy_range": [float(accuracy.min()), float(accuracy.max())],
            "cached_equals_cold": tables[0] == tables[1] and len(tables[0]) > 0, "commands": commands}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print each measurement and return (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 25, 50, 100], help="values of N")
    parser.add_argument("--examples", type=int, default=50_000, help="M, examples (20%% calibration)")
    parser.add_argument("--classes", type=int, default=1_000, help="C, classes")
    parser.add_argument("--chapters", nargs="*", default=list(CHAPTERS), help="chapters to run")
    parser.add_argument("--n-bootstrap", type=int, default=200, help="resamples of the chapters")
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                        help="how the store keeps logits (Store.create's logits_dtype)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic zoo")
    parser.add_argument("--root", default=None, help="folder of the store (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the store")
    parser.add_argument("--json", default=None,
                        help="write the results to this JSON file (keeping its runs of other N)")
    args = parser.parse_args(argv)

    root = Path(args.root or tempfile.mkdtemp(prefix="norep-scale-"))
    path = root / f"store-{args.examples}x{args.classes}-{args.dtype}"
    results = {"benchmark": "scale", "runs": [], "target_peak_gb": TARGET_PEAK_GB,
               "target_pairs_seconds": TARGET_PAIRS_SECONDS}
    try:
        for n_models in sorted(args.models):
            run = run_size(path, n_models, args)
            run.update(n_bootstrap=args.n_bootstrap, cpu_count=os.cpu_count(), load_average_1min=os.getloadavg()[0])
            results["runs"].append(run)
            if args.json:  # after every size, keeping the file's runs of other sizes
                save(results, Path(args.json))
    finally:
        if not args.keep:
            shutil.rmtree(path, ignore_errors=True)
    return results


def save(results: dict, path: Path) -> None:
    """Write the results to ``path``, with the runs of other sizes already in it."""
    measured = {run["models"] for run in results["runs"]}
    earlier = json.loads(path.read_text())["runs"] if path.is_file() else []
    runs = sorted([run for run in earlier if run["models"] not in measured] + results["runs"],
                  key=lambda run: run["models"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
