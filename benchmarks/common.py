"""Command line, timing and reporting shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import json
import os
import time


def size_parser(description: str, models: int, examples: int, classes: int) -> argparse.ArgumentParser:
    """Return a parser with the zoo size (defaults: the full size), repeats, seed and --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", type=int, default=models, help="N, number of models")
    parser.add_argument("--examples", type=int, default=examples, help="M, number of examples")
    parser.add_argument("--classes", type=int, default=classes, help="C, number of classes")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of a timing (the shortest is kept)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic zoo")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    return parser


def best_time(function, repeat: int) -> float:
    """Return the shortest of ``repeat`` wall-clock times of ``function()`` in seconds."""
    return min(timings(function, repeat)["wall"])


def timings(function, repeat: int) -> dict[str, list[float]]:
    """Time ``repeat`` calls of ``function()``: wall-clock seconds and process CPU seconds
    (all threads). On a shared machine the wall clock depends on what else runs; the CPU
    time much less so."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": wall, "cpu": cpu}


def conditions() -> dict:
    """Return the machine's CPU count and its load when the timings ended."""
    return {"cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}


def finish(results: dict, path: str | None) -> dict:
    """Print the conditions of the run, write ``results`` to ``path`` (JSON) when given."""
    print(f"  {results['cpu_count']} CPU cores, load average {results['load_average_1min']:.2f}")
    if path:
        with open(path, "w") as handle:
            json.dump(results, handle, indent=1)
    return results
