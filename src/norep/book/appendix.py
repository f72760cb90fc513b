"""The tables of the appendix pages: how the book was built, and how fast its metrics are.

``book/appendix/reproducibility.py`` shows :func:`package_versions`,
:func:`device_table` and :func:`store_table`; ``book/appendix/performance.py`` runs
the scripts of ``benchmarks/`` with :func:`run_benchmark` and shows
:func:`benchmark_table`, :func:`benchmark_notes` and :func:`probe_table`, and the saved
results of ``benchmarks/scale.py`` with :func:`scale_table` and :func:`scale_figure`,
and of ``benchmarks/course_times.py`` with :func:`course_note` and :func:`course_table`
(also on the instructor page), and of ``benchmarks/float16_effect.py`` with
:func:`float16_note` and :func:`float16_table`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
from IPython.display import Markdown

from norep.book.build import project_path
from norep.errors import NorepError
from norep.runtime import resolve_device
from norep.store import Store

FULL_PROBE_SIZE = (50_000, 512, 10)
"""M x D x K of the probe target."""

PACKAGES = ("norep", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "torch",
            "torchvision", "timm", "open-clip-torch", "matplotlib", "seaborn",
            "jupyter-book", "myst-nb", "jupytext", "papermill", "sphinx", "sphinx-autoapi")
"""The packages whose versions the reproducibility page lists."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> pd.DataFrame:
    """Return Python's version and the installed version of each package.

    Args:
        names: Distribution names.

    Returns:
        One row per package (index ``package``), column ``version``; "not installed"
        for a package that is absent.

    Example:
        >>> package_versions(("pandas",)).loc["pandas", "version"] == pd.__version__
        True
    """
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return pd.Series(versions, name="version").rename_axis("package").to_frame()


def device_table(device: str = "auto") -> pd.DataFrame:
    """Return the device a ``device`` parameter resolves to, and the CPU the book ran on.

    Args:
        device: "auto", "cpu", "cuda", "cuda:1", ...

    Returns:
        One row per property, column ``value``.
    """
    import torch

    used = resolve_device(device)
    gpu = torch.cuda.get_device_name(used) if used.startswith("cuda") else "none"
    return pd.Series({
        "requested": device, "used": used, "GPU": gpu, "CPU cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(), "platform": platform.platform(),
    }, name="value").to_frame()


def store_table(store: str) -> pd.DataFrame:
    """Verify every file of a store against its sha256 and describe the store.

    Args:
        store: The store's path as a parameter gives it (relative to the book's folder).

    Returns:
        One row per property (dataset, fingerprint, examples per split, models, files,
        size, package versions it was written with), column ``value``. A file that
        differs from its sha256 is an error naming it.
    """
    path = project_path(store)
    opened = Store(path)
    opened.verify()
    split = opened.examples["split"]
    splits = split.value_counts().reindex(split.unique())
    files = [path / name for name in opened.manifest["files"]]
    dataset = opened.manifest["dataset"]
    return pd.Series({
        "store": store, "dataset": dataset["name"], "fingerprint": dataset["fingerprint"],
        "classes": len(opened.classes),
        "examples": ", ".join(f"{split} {count}" for split, count in splits.items()),
        "models": len(opened.model_ids), "files verified against their sha256": len(files),
        "size (MB)": round(sum(file.stat().st_size for file in files) / 1e6, 1),
        "written with": ", ".join(f"{k} {v}" for k, v in opened.manifest["versions"].items()),
    }, name="value").to_frame()


def run_benchmark(script: str, **options: object) -> dict:
    """Run one script of ``benchmarks/`` in a fresh process; return its JSON results.

    Args:
        script: The script's file name, e.g. ``"pairs_speed.py"``.
        **options: Its command-line options by name (``loop_pairs=5`` gives
            ``--loop-pairs=5``).

    Returns:
        The results the script wrote with ``--json``. Its standard output is printed;
        a failing script is an error quoting its last line of stderr.
    """
    path = project_path("benchmarks") / script
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "results.json"
        done = subprocess.run([sys.executable, str(path), *arguments, "--json", str(output)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            raise NorepError(f"benchmark {script} failed: {last}")
        print(done.stdout, end="")
        return json.loads(output.read_text())


def benchmark_table(pairs: dict, ensembles: dict) -> pd.DataFrame:
    """Return the performance page's table: fast method against its baseline, per benchmark.

    Args:
        pairs: Results of ``pairs_speed.py``.
        ensembles: Results of ``ensemble_speed.py``.

    Returns:
        One row per benchmark, times in seconds rounded to 3 decimals.
    """
    def row(name: str, results: dict, baseline: str, ratio_median: float) -> dict:
        return {"benchmark": name,
                "size (N x M x C)": f"{results['models']} x {results['examples']} x {results['classes']}",
                "pairs": results["pairs"], "fast (s)": results["fast_seconds"],
                "baseline (s)": results[baseline], "ratio": results["ratio"],
                "ratio (medians)": ratio_median,
                "target ratio (full size)": results["target_ratio"], "exact": results["exact"]}

    return pd.DataFrame([
        row("pairs: error inconsistency + kappa + disagreement", pairs,
            "loop_seconds_extrapolated", pairs["ratio_median"]),
        row("ensembles: two-model accuracy of every pair", ensembles, "dense_seconds", float("nan")),
    ]).set_index("benchmark").round(3)


def benchmark_notes(pairs: dict, ensembles: dict) -> pd.DataFrame:
    """Return what else the benchmarks measured: fallback share, accuracies, CPU and load.

    Args:
        pairs: Results of ``pairs_speed.py``.
        ensembles: Results of ``ensemble_speed.py``.

    Returns:
        One row per measurement, column ``value``.
    """
    span = "{:.2f}-{:.2f}".format
    return pd.Series({
        "ensembles: dense fallback (share of pair-examples)": ensembles["undecided_share"],
        "pairs: accuracies of the synthetic models": span(*pairs["accuracy_range"]),
        "ensembles: accuracies of the synthetic models": span(*ensembles["accuracy_range"]),
        "pairs: ratio of process CPU times (all threads)": round(pairs["ratio_cpu"], 1),
        "CPU cores": pairs["cpu_count"],
        "load average (1 min) before the pairs run": pairs["load_average_1min_before"],
        "load average (1 min) after the runs": ensembles["load_average_1min"],
    }, name="value").to_frame()


def probe_table(runs: dict[str, dict | None]) -> pd.DataFrame:
    """Return the probe benchmark's results, the torch L-BFGS probe against scikit-learn, a column per run.

    Args:
        runs: Results of ``probe_speed.py`` by column name; runs that are None (saved
            results not found) are left out.

    Returns:
        One row per measurement.

    Example:
        >>> run = {"source": "synthetic", "examples": 10, "features": 4, "classes": 3, "probe_seconds": 0.5,
        ...        "sklearn_seconds": 1.0, "ratio": 2.0, "target_ratio": 3.0, "probe_iterations": 5,
        ...        "sklearn_iterations": 7, "probe_accuracy": 0.9, "sklearn_accuracy": 0.91,
        ...        "accuracy_gap_points": 1.0, "probe_objective": 0.52, "sklearn_objective": 0.51,
        ...        "matched_seconds": 0.6, "matched_objective": 0.505, "matched_ratio": 1.67, "torch_threads": 1,
        ...        "cpu_count": 2, "load_average_1min_before": 1.0, "load_average_1min": 1.5}
        >>> probe_table({"here": run, "saved": None}).loc["ratio"].tolist()
        [2.0]
    """
    def column(probe: dict) -> dict:
        return {
            "features": probe["source"],
            "size (M x D x K)": f"{probe['examples']} x {probe['features']} x {probe['classes']}",
            "probe (s)": round(probe["probe_seconds"], 3),
            "scikit-learn (s)": round(probe["sklearn_seconds"], 3),
            "ratio": round(probe["ratio"], 2), "target ratio (full size)": probe["target_ratio"],
            "L-BFGS iterations: probe / scikit-learn": f"{probe['probe_iterations']} / {probe['sklearn_iterations']}",
            "probe test accuracy (%)": round(100 * probe["probe_accuracy"], 2),
            "scikit-learn test accuracy (%)": round(100 * probe["sklearn_accuracy"], 2),
            "accuracy gap (points; at most 0.5)": round(probe["accuracy_gap_points"], 2),
            "objective: probe / scikit-learn": f"{probe['probe_objective']:.6f} / {probe['sklearn_objective']:.6f}",
            "probe to scikit-learn's objective: seconds / objective":
                f"{probe['matched_seconds']:.3f} / {probe['matched_objective']:.6f}",
            "ratio at scikit-learn's objective": round(probe["matched_ratio"], 2),
            "threads (each fit)": probe["torch_threads"], "CPU cores": probe["cpu_count"],
            "load average (1 min) before / after": f"{probe['load_average_1min_before']:.2f} / "
                                                    f"{probe['load_average_1min']:.2f}",
        }
    return pd.DataFrame({name: column(run) for name, run in runs.items() if run is not None})


def probe_note(runs: dict[str, dict | None]) -> Markdown:
    """Return whether each full-size probe run meets the speed and accuracy targets, in words.

    Args:
        runs: Results of ``probe_speed.py`` by name, as for :func:`probe_table`.

    Example:
        >>> run = {"examples": 50_000, "features": 512, "classes": 10, "ratio": 4.2, "matched_ratio": 3.5,
        ...        "target_ratio": 3.0, "accuracy_gap_points": 0.1}
        >>> probe_note({"zoo": run, "small": {**run, "examples": 10}, "missing": None}).data
        '- zoo: 4.2 times faster than scikit-learn (3.5 at its objective; target 3), accuracy gap 0.10 points (limit 0.5): met.'
    """
    lines = []
    for name, run in runs.items():
        if run is None or (run["examples"], run["features"], run["classes"]) != FULL_PROBE_SIZE:
            continue
        met = min(run["ratio"], run["matched_ratio"]) >= run["target_ratio"] and run["accuracy_gap_points"] <= 0.5
        lines.append(f"- {name}: {run['ratio']:.1f} times faster than scikit-learn ({run['matched_ratio']:.1f} at its "
                     f"objective; target {run['target_ratio']:g}), accuracy gap {run['accuracy_gap_points']:.2f} points "
                     f"(limit 0.5): {'met' if met else 'not met'}.")
    return Markdown("\n".join(lines) or "No run at the full size (50,000 x 512 x 10) was found.")


def scale_table(results: dict) -> pd.DataFrame:
    """Return the scale benchmark's measurements: one row per command and number of models.

    Args:
        results: Results of ``benchmarks/scale.py`` (e.g. read from
            ``benchmarks/results/scale.json``).

    Returns:
        Rows indexed by (command, models): wall time, CPU time (s), peak memory (GB),
        whether the command ran, and whether it met the memory target (and, for
        ``norep pairs``, the time target).

    Example:
        >>> run = {"models": 10, "commands": {"pairs (cold)": {"seconds": 60.0, "cpu_seconds": 55.0,
        ...        "peak_gb": 1.0, "ok": True}}}
        >>> table = scale_table({"runs": [run], "target_peak_gb": 3.0, "target_pairs_seconds": 600.0})
        >>> bool(table.loc[("pairs (cold)", 10), "met targets"])
        True
    """
    rows = []
    for run in results["runs"]:
        for command, measured in run["commands"].items():
            within = measured["peak_gb"] <= results["target_peak_gb"]
            if command.startswith("pairs"):
                within &= measured["seconds"] <= results["target_pairs_seconds"]
            rows.append({"command": command, "models": run["models"], "wall time (s)": measured["seconds"],
                         "CPU time (s)": measured.get("cpu_seconds", float("nan")),
                         "peak memory (GB)": measured["peak_gb"], "ran": measured["ok"],
                         "met targets": bool(within and measured["ok"])})
    return pd.DataFrame(rows).set_index(["command", "models"]).sort_index(level=["command", "models"])


def scale_figure(results: dict):
    """Plot the scale benchmark: wall time and peak memory of each command against N.

    Args:
        results: Results of ``benchmarks/scale.py``.

    Returns:
        A matplotlib figure with two panels (pairs solid, chapters dashed); the dotted
        lines are the targets (3 GB for every command, 10 minutes for ``norep pairs``).
    """
    import matplotlib.pyplot as plt

    table = scale_table(results).reset_index()
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for command, rows in table.groupby("command", sort=False):
        style = {"marker": "o", "linestyle": "-" if command.startswith("pairs") else "--", "label": command}
        time_axis.plot(rows["models"], rows["wall time (s)"] / 60, **style)
        memory_axis.plot(rows["models"], rows["peak memory (GB)"], **style)
    time_axis.axhline(results["target_pairs_seconds"] / 60, color="0.5", linestyle=":", label="pairs target")
    memory_axis.axhline(results["target_peak_gb"], color="0.5", linestyle=":", label="memory target")
    time_axis.set(xlabel="models N", ylabel="wall time (min)", title="time")
    memory_axis.set(xlabel="models N", ylabel="peak memory (GB)", title="peak memory", ylim=(0, None))
    memory_axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    return figure


def load_results(path: str) -> dict | None:
    """Return the saved JSON results of a benchmark (relative to the book's folder); None when absent.

    Args:
        path: E.g. ``"benchmarks/results/scale.json"``.
    """
    file = project_path(path)
    return json.loads(file.read_text()) if file.is_file() else None


def float16_table(results: dict | None) -> pd.DataFrame | Markdown:
    """Return how far float16 logits move each number the chapters compute from logits.

    Args:
        results: Results of ``benchmarks/float16_effect.py`` (e.g. read from
            ``benchmarks/results/float16.json``); None when not measured yet.

    Returns:
        One row per number: its largest absolute difference from float32 (accuracies and
        rates in points), or for decisions how many changed; one column per store and
        rounding ("float16": the float16 store, each row minus its maximum with its top
        classes exact; "shift only": without the exact top classes; "plain cast": float16
        without the shift). Without results, a line saying so.

    Example:
        >>> compared = {"largest_difference": {"temperature": 1.5e-05}, "changed": {"top-1 predictions": [0, 40]}}
        >>> results = {"stores": [{"store": "s", "roundings": {"float16": compared}}]}
        >>> float16_table(results).loc["top-1 predictions changed", ("s", "float16")]
        '0 of 40'
    """
    if results is None:
        return Markdown("No measured float16 differences to show yet.")
    columns = {}
    for measured in results["stores"]:
        for rounding, compared in measured["roundings"].items():
            largest = {name: f"{value:.3g}" for name, value in compared["largest_difference"].items()}
            changed = {f"{name} changed": f"{count:,} of {total:,}"
                       for name, (count, total) in compared["changed"].items()}
            columns[(measured["store"], rounding)] = pd.Series({**largest, **changed})
    table = pd.DataFrame(columns)
    table.columns.names = ["store", "logits"]
    return table.rename_axis("largest absolute difference from float32")


FLOAT16_ALTERNATIVES = {"shift only": "float16 without the exact top classes", "plain cast": "a plain cast"}
"""What :func:`float16_note` calls the other roundings of ``benchmarks/float16_effect.py``."""


def float16_note(results: dict | None, path: str) -> Markdown:
    """Say, per store, how far float16 logits move an ensemble accuracy, against the limit.

    Args:
        results: Results of ``benchmarks/float16_effect.py``; None when not measured yet.
        path: Where the results were saved (relative to the book's folder).

    Returns:
        One paragraph naming the command that measured the numbers.
    """
    if results is None:
        return Markdown(f"The effect of float16 logits is not measured yet: run `python "
                        f"benchmarks/float16_effect.py STORE --json {path}`.")
    sentences = [f"These numbers come from a run of `{results['command']} --json {path}`, saved with the book."]
    decisions = "ensemble decisions, calibrated"
    for measured in results["stores"]:
        kept = measured["roundings"]["float16"]
        others = "; ".join(
            f"{FLOAT16_ALTERNATIVES[name]} moves it by {compared['ensemble_accuracy_points']:.2f} points "
            f"({compared['changed'][decisions][0]:,} decisions)"
            for name, compared in measured["roundings"].items() if name != "float16")
        sentences.append(
            f"On `{measured['store']}` ({measured['models']} models, {measured['pairs']} pairs, "
            f"{measured['test_examples']:,} test examples), a float16 store (each row's top "
            f"{results['exact_top']} classes exact) moves an ensemble accuracy by at most "
            f"{kept['ensemble_accuracy_points']:.2f} points ({kept['changed'][decisions][0]:,} of "
            f"{kept['changed'][decisions][1]:,} ensemble decisions change): "
            f"{'within' if kept['within_limit'] else 'beyond'} the limit of {results['limit_points']:g} points; "
            f"{others}.")
    return Markdown(" ".join(sentences))


COURSE_COMMAND = "python benchmarks/course_times.py --json benchmarks/results/course.json"
"""The command that measures the course profile's times (best run on an otherwise idle machine)."""


def course_table(results: dict | None) -> pd.DataFrame | Markdown:
    """Return the course profile's time per chapter, against the course target (under 60 s each).

    Args:
        results: Results of ``benchmarks/course_times.py`` (e.g. read from
            ``benchmarks/results/course.json``); None when not measured yet.

    Returns:
        One row per chapter: wall time and CPU time (s), and whether the wall time is
        under the target ("failed" for a chapter that did not run); without results, a
        line saying so (:func:`course_note` names the command).

    Example:
        >>> results = {"target_seconds": 60.0, "chapters": {"low_accuracy": {
        ...     "seconds": 41.5, "cpu_seconds": 30.2, "ok": True}}}
        >>> course_table(results).loc["low accuracy", "under 60 s?"]
        'yes'
    """
    if results is None:
        return Markdown("No measured times to show yet.")
    target = results["target_seconds"]
    rows = [{"chapter": chapter.replace("_", " "), "wall (s)": measured["seconds"],
             "CPU (s)": measured["cpu_seconds"],
             f"under {target:g} s?": ("yes" if measured["seconds"] < target else "no") if measured["ok"] else "failed"}
            for chapter, measured in results["chapters"].items()]
    return pd.DataFrame(rows).set_index("chapter")


def course_note(results: dict | None) -> Markdown:
    """Say how the course profile's times were measured: the command, the store, the machine, its load.

    Args:
        results: Results of ``benchmarks/course_times.py``; None when not measured yet.

    Returns:
        One paragraph, ending with how many chapters met the target.
    """
    if results is None:
        return Markdown(f"The course profile's times are not measured yet: run `{COURSE_COMMAND}`.")
    chapters = results["chapters"].values()
    loads = [m[key] for m in chapters for key in ("load_average_1min_before", "load_average_1min_after")]
    met = sum(m["ok"] and m["seconds"] < results["target_seconds"] for m in chapters)
    return Markdown(
        f"Measured on {results['date']} with `{results['command']}`: each chapter in a fresh process with "
        f"`norep book run CHAPTER --profile {results['profile']}` and the store `{results['store']}`, on "
        f"{results['cpu_count']} CPU cores, load average (1 min) {min(loads):.1f} to {max(loads):.1f}. "
        f"{met} of {len(chapters)} chapters ran in under {results['target_seconds']:g} s."
    )
