"""The ``norep`` command: train the mini zoo, import predictions, report pairs, run chapters.

Every problem the user can fix ends the command with one line on stderr and exit code 2.
Output piped into a reader that stops early (``norep pairs STORE --csv | head``) ends
the command quietly with exit code 141, as a pipe does for programs killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version

BROKEN_PIPE = 141
"""Exit code when the reader of the output goes away: 128 + SIGPIPE, as shells report."""


def _zoo_train(args: argparse.Namespace) -> None:
    from norep.producers.train import train_zoo

    train_zoo(args.spec, args.store, data_path=args.data, only=args.models, jobs=args.jobs)


def _data_download(args: argparse.Namespace) -> None:
    from norep.datasets.fashion_mnist import download_fashion_mnist

    print(download_fashion_mnist())


def _data_path(args: argparse.Namespace) -> None:
    from norep.datasets.fashion_mnist import find_fashion_mnist

    print(find_fashion_mnist(args.data))


def _print_table(table, csv: bool) -> None:
    """Print a table of pairs: CSV, or aligned columns with four decimals."""
    if csv:
        table.to_csv(sys.stdout, index=False, float_format="%.6g")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def _pairs(args: argparse.Namespace) -> None:
    from norep.book.views import pairs_table
    from norep.store import Store

    table = pairs_table(Store(args.store), base=args.base)
    _print_table(table, args.csv)


def _features(args: argparse.Namespace) -> None:
    from norep.book.views import features_table
    from norep.store import Store

    table = features_table(Store(args.store), split=args.split, k=args.k)
    _print_table(table, args.csv)


def _verify(args: argparse.Namespace) -> None:
    from norep.store import Store

    checked = Store(args.store).verify()
    print(f"{args.store}: all {checked} files match their sha256")


def _predict(args: argparse.Namespace) -> None:
    from norep.errors import NorepError
    from norep.producers.inference import predict_zoo, submit_slurm, zoo_status

    if args.status:
        print(zoo_status(args.spec, args.store, args.models).to_string(index=False))
        return
    if args.data is None:
        raise NorepError("norep predict needs --data FOLDER (the validation images)")
    options = dict(device=args.device, models=args.models, limit=args.limit, batch_size=args.batch_size,
                   workers=args.workers, skip_corrupt=args.skip_corrupt, labels=args.labels,
                   class_list=args.classes, precision=args.precision, logits_dtype=args.dtype)
    if args.submit:
        jobs = submit_slurm(args.spec, args.data, args.store, shards=args.shards, partition=args.partition,
                            gpus=args.gpus, cpus=args.cpus, time_minutes=args.time,
                            array_parallelism=args.array_parallelism, cluster=args.submit, **options)
        print(f"submitted {len(jobs)} task(s), job {jobs[0].job_id}; check with --status")
        return
    added = predict_zoo(args.spec, args.data, args.store, shard=args.shard, **options)
    print(f"{args.store}: added {len(added)} model(s)")


def _import(args: argparse.Namespace) -> None:
    from norep.producers.importers import import_predictions

    import_predictions(args.kind, args.path, args.store, args.dtype)


def _book_run(args: argparse.Namespace) -> None:
    from norep.book.build import run_chapter

    run_chapter(args.chapter, args.output, profile=args.profile, parameters=args.parameter)


def _book_build(args: argparse.Namespace) -> None:
    from norep.book.build import build_book

    build_book(profile=args.profile, output=args.output, jobs=args.jobs)


def _book_check(args: argparse.Namespace) -> None:
    from norep.book.build import check_build

    check_build(args.html)


def _book_student(args: argparse.Namespace) -> None:
    from norep.book.student import write_student_notebooks

    for path in write_student_notebooks(args.output, profile=args.profile):
        print(path)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``norep`` command."""
    parser = argparse.ArgumentParser(prog="norep", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"norep {version('norep')}")
    commands = parser.add_subparsers(dest="command", required=True)

    zoo = commands.add_parser("zoo", help="train a zoo of models into a prediction store")
    zoo_commands = zoo.add_subparsers(dest="zoo_command", required=True)
    train = zoo_commands.add_parser("train", help="train every model of a zoo spec (resumes)")
    train.add_argument("spec", help="zoo spec YAML, e.g. zoos/fashion_mnist.yaml")
    train.add_argument("--store", required=True, help="store directory, e.g. runs/fashion_mnist")
    train.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    train.add_argument("--models", nargs="+", default=None, help="train only these model ids")
    train.add_argument("--jobs", type=int, default=None,
                       help="training processes of one thread each (default: one per CPU core)")
    train.set_defaults(handler=_zoo_train)

    data = commands.add_parser("data", help="the Fashion-MNIST files")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    download = data_commands.add_parser("download", help="download the official release into the cache")
    download.set_defaults(handler=_data_download)
    path = data_commands.add_parser("path", help="print the folder where Fashion-MNIST is found")
    path.add_argument("--data", default=None, help="a folder that must hold the IDX files")
    path.set_defaults(handler=_data_path)

    pairs = commands.add_parser("pairs", help="pairwise metrics of a store, one row per pair")
    pairs.add_argument("store", help="store directory")
    pairs.add_argument("--base", default=None, help="only pairs (BASE, other)")
    pairs.add_argument("--csv", action="store_true", help="CSV instead of a table")
    pairs.set_defaults(handler=_pairs)

    predict = commands.add_parser("predict", help="run a catalog's pretrained models on images into a store")
    predict.add_argument("spec", help="zoo catalog YAML, e.g. zoos/imagenet_paper.yaml")
    predict.add_argument("--data", help="image folder (ImageNet val: class folders, or flat + labels)")
    predict.add_argument("--store", required=True, help="store directory to fill")
    predict.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    predict.add_argument("--models", nargs="+", metavar="ID", help="only these canonical ids")
    predict.add_argument("--limit", type=int, metavar="N", help="a seeded sample of N images")
    predict.add_argument("--shard", metavar="I/N", help="0-based; default: SLURM_ARRAY_TASK_ID/COUNT when set")
    predict.add_argument("--batch-size", type=int, default=64)
    predict.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    predict.add_argument("--precision", choices=["bf16", "fp16", "fp32"], default="bf16",
                         help="autocast precision on CUDA")
    predict.add_argument("--dtype", choices=["float32", "float16"], default=None,
                         help="how a new store keeps logits (default float32; float16: each row minus its "
                              "maximum in float16, its top 3 exact, about half the disk at 1,000 "
                              "classes); an existing store keeps its own")
    predict.add_argument("--labels", help="labels file of a flat folder (found beside it when omitted)")
    predict.add_argument("--classes", help="class list (one name per line) for a non-ImageNet folder")
    predict.add_argument("--skip-corrupt", action="store_true", help="skip and count unreadable images")
    predict.add_argument("--submit", choices=["slurm", "local"], help="submit a job array with submitit")
    predict.add_argument("--shards", type=int, default=1, help="tasks of the submitted array")
    predict.add_argument("--partition", help="SLURM partition")
    predict.add_argument("--gpus", type=int, default=1, help="GPUs per task")
    predict.add_argument("--cpus", type=int, default=10, help="CPUs per task")
    predict.add_argument("--time", type=int, default=240, help="time limit per task (minutes)")
    predict.add_argument("--array-parallelism", type=int, help="tasks running at once")
    predict.add_argument("--status", action="store_true", help="print what is done and exit")
    predict.set_defaults(handler=_predict)

    features = commands.add_parser("features", help="feature similarity of every pair with embeddings")
    features.add_argument("store", help="store directory")
    features.add_argument("--split", default="test", help="split whose embeddings are compared")
    features.add_argument("--k", type=int, default=10, help="neighbours of the mutual k-NN alignment")
    features.add_argument("--csv", action="store_true", help="CSV instead of a table")
    features.set_defaults(handler=_features)

    verify = commands.add_parser("verify", help="hash every file of a store against its manifest")
    verify.add_argument("store", help="store directory")
    verify.set_defaults(handler=_verify)

    imports = commands.add_parser("import", help="import predictions made elsewhere")
    imports.add_argument("kind", choices=["model-vs-human", "imagenet-x", "timm"])
    imports.add_argument("path", nargs="?", default=None,
                         help="files to import (downloaded with checksums when absent)")
    imports.add_argument("--store", required=True, help="store directory to fill")
    imports.add_argument("--dtype", choices=["float32", "float16"], default=None,
                         help="how a new store keeps logits (timm's full outputs; as for predict)")
    imports.set_defaults(handler=_import)

    book = commands.add_parser("book", help="run book chapters with papermill")
    book_commands = book.add_subparsers(dest="book_command", required=True)
    run = book_commands.add_parser("run", help="execute one chapter with a profile/parameters")
    run.add_argument("chapter", help="chapter name or path, e.g. book/chapters/ensembles.py")
    run.add_argument("-o", "--output", required=True, help="executed notebook to write (.ipynb)")
    run.add_argument("--profile", default=None, help="parameter profile, e.g. params/ci.yaml")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="override one parameter (YAML value)")
    run.set_defaults(handler=_book_run)
    build = book_commands.add_parser("build", help="execute every chapter with a profile, build HTML")
    build.add_argument("--profile", default=None, help="parameter profile, e.g. params/ci.yaml")
    build.add_argument("--output", default="_build", help="build folder (default _build)")
    build.add_argument("--jobs", type=int, default=None,
                       help="pages executed side by side (default: one per CPU core)")
    build.set_defaults(handler=_book_build)
    check = book_commands.add_parser("check", help="check built pages: figures present, no errors")
    check.add_argument("html", nargs="?", default="_build/html", help="built HTML folder")
    check.set_defaults(handler=_book_check)
    student = book_commands.add_parser("student", help="write the chapters without their solutions")
    student.add_argument("output", help="folder to write into (OUT/book/chapters/<chapter>.ipynb)")
    student.add_argument("--profile", default="course", help="parameter profile of the notebooks (default course)")
    student.set_defaults(handler=_book_student)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from norep.errors import NorepError

    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except NorepError as error:
        print(f"norep: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("norep: interrupted; finished models are kept, rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _quiet_broken_pipe()
    return 0


def _quiet_broken_pipe() -> int:
    """Point stdout at /dev/null so that Python's exit flush stays quiet; return 141."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
