"""Benchmark: every chapter with the course profile, each in a fresh process.

Runs ``norep book run CHAPTER --profile course`` (what a class runs, through the
command's own path) for every chapter of the book, one after the other, from an
existing store (``-p store STORE`` for the chapters that read one), and records each
chapter's wall time, CPU time (user + system of the process and its children, from
``os.wait4``; on a machine shared with other work the steadier measure) and the
machine's 1-minute load average before and after it. The target: every
chapter under 60 s on a 2-core laptop CPU. The performance page and the instructor
page show the saved results.

Usage:
    python benchmarks/course_times.py --json benchmarks/results/course.json
    python benchmarks/course_times.py --store runs/fashion_mnist_ci --chapters zoo --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from scale import measure
from scale import norep as norep_command

from norep.book.build import CHAPTER_DIR, book_pages, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "course"
TARGET_SECONDS = 60.0


def chapters() -> list[str]:
    """The book's chapters in reading order (``zoo`` for ``book/chapters/zoo.py``)."""
    return [page.source.stem for page in book_pages(ROOT) if page.docname.startswith(CHAPTER_DIR)]


def time_chapter(chapter: str, store: str, folder: Path) -> dict:
    """Run one chapter with the course profile in a fresh process and measure it.

    Args:
        chapter: The chapter's name, e.g. ``"zoo"``.
        store: The store its ``store`` parameter reads (relative to the repository or
            absolute); a chapter without that parameter keeps its own stores.
        folder: Where the executed notebook goes.

    Returns:
        Wall time and CPU time (s), peak memory (GB), whether it ran (and its last line
        of stderr when not), and the 1-minute load average before and after.
    """
    arguments = ["book", "run", chapter, "-o", str(folder / f"{chapter}.ipynb"), "--profile", PROFILE]
    if "store" in notebook_parameters(ROOT / CHAPTER_DIR / f"{chapter}.py"):
        arguments += ["-p", "store", store]
    load_before = os.getloadavg()[0]
    measured = measure(norep_command(*arguments))
    return {**measured, "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print each chapter's measurement and return (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="runs/fashion_mnist_ci",
                        help="the store the chapters read (default: the course profile's; relative to the "
                             "repository, or absolute)")
    parser.add_argument("--chapters", nargs="+", default=None, help="chapters to run (default: all, in order)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--notebooks", default=None, help="keep the executed notebooks in this folder")
    args = parser.parse_args(argv)
    output = Path(args.json).resolve() if args.json else None
    notebooks = Path(args.notebooks).resolve() if args.notebooks else None

    os.chdir(ROOT)  # norep book run finds the book from its working directory
    if not (Path(args.store) / "manifest.json").is_file():
        parser.error(f"no store at {args.store} (no manifest.json); train or import one first")
    known = chapters()
    names = args.chapters or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"no chapter(s) {unknown}; the chapters: {known}")
    results = {"benchmark": "course", "profile": PROFILE, "store": args.store, "target_seconds": TARGET_SECONDS,
               "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": " ".join(["python", "benchmarks/course_times.py", *(sys.argv[1:] if argv is None else argv)]),
               "chapters": {}}
    with tempfile.TemporaryDirectory() as scratch:
        folder = notebooks or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for chapter in names:
            results["chapters"][chapter] = time_chapter(chapter, args.store, folder)
            print(f"{chapter}: {results['chapters'][chapter]}", flush=True)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
