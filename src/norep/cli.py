"""The ``norep`` command: train the mini zoo, import predictions, report pairs, run chapters.

Every problem the user can fix ends the command with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys


def _zoo_train(args: argparse.Namespace) -> None:
    from norep.producers.train import train_zoo

    train_zoo(args.spec, args.store, data_path=args.data, only=args.models)


def _data_download(args: argparse.Namespace) -> None:
    from norep.datasets.fashion_mnist import download_fashion_mnist

    print(download_fashion_mnist())


def _pairs(args: argparse.Namespace) -> None:
    from norep.book.views import pairs_table
    from norep.store import Store

    table = pairs_table(Store(args.store), base=args.base)
    if args.csv:
        table.to_csv(sys.stdout, index=False, float_format="%.6g")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def _import(args: argparse.Namespace) -> None:
    from norep.producers.importers import import_predictions

    import_predictions(args.kind, args.path, args.store)


def _book_run(args: argparse.Namespace) -> None:
    from norep.book.build import run_chapter

    run_chapter(args.chapter, args.output, profile=args.profile, parameters=args.parameter)


def _book_build(args: argparse.Namespace) -> None:
    from norep.book.build import build_book

    build_book(profile=args.profile, output=args.output)


def _book_check(args: argparse.Namespace) -> None:
    from norep.book.build import check_build

    check_build(args.html)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``norep`` command."""
    parser = argparse.ArgumentParser(prog="norep", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    zoo = commands.add_parser("zoo", help="train a zoo of models into a prediction store")
    zoo_commands = zoo.add_subparsers(dest="zoo_command", required=True)
    train = zoo_commands.add_parser("train", help="train every model of a zoo spec (resumes)")
    train.add_argument("spec", help="zoo spec YAML, e.g. zoos/fashion_mnist.yaml")
    train.add_argument("--store", required=True, help="store directory, e.g. runs/fashion_mnist")
    train.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files")
    train.add_argument("--models", nargs="+", default=None, help="train only these model ids")
    train.set_defaults(handler=_zoo_train)

    data = commands.add_parser("data", help="the Fashion-MNIST files")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    download = data_commands.add_parser("download", help="download the official release into the cache")
    download.set_defaults(handler=_data_download)

    pairs = commands.add_parser("pairs", help="pairwise metrics of a store, one row per pair")
    pairs.add_argument("store", help="store directory")
    pairs.add_argument("--base", default=None, help="only pairs (BASE, other)")
    pairs.add_argument("--csv", action="store_true", help="CSV instead of a table")
    pairs.set_defaults(handler=_pairs)

    imports = commands.add_parser("import", help="import predictions made elsewhere")
    imports.add_argument("kind", choices=["model-vs-human", "imagenet-x", "timm"])
    imports.add_argument("path", nargs="?", default=None,
                         help="files to import (downloaded with checksums when absent)")
    imports.add_argument("--store", required=True, help="store directory to fill")
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
    build.set_defaults(handler=_book_build)
    check = book_commands.add_parser("check", help="check built pages: figures present, no errors")
    check.add_argument("html", nargs="?", default="_build/html", help="built HTML folder")
    check.set_defaults(handler=_book_check)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
