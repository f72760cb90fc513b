"""The install cell: the first code cell of every chapter notebook that leaves the repository.

The chapter sources (``book/chapters/*.py``) do not carry it: inside the repository
there is nothing to install. It is inserted, from the one text here, where notebooks
leave the repository: in the book's staged pages (what the page shows and what its
download button gives, see :mod:`norep.book.build`) and in the student notebooks of
``norep book student`` (:mod:`norep.book.student`). Outside the repository (Colab,
Binder, a downloaded copy) it clones the repository named by ``repository.url`` in the
book's ``_config.yml`` (the setting that also drives the launch buttons), installs
norep, moves into its folder and trains the course store; inside the repository (a
folder with ``_toc.yml`` at or above the working directory) it does nothing. It cannot
import norep, which it installs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

INSTALL_TAG = "install"
"""The tag of the install cell (it is also tagged ``hide-cell``: folded in the book)."""
INSTALL_HEADER = """\
# Outside the repository (Colab, a downloaded copy) this cell fetches norep, installs
# it, moves into its folder and trains the course store (the small CI zoo, about 3
# minutes on two cores); inside the repository it does nothing.
import os, subprocess, sys  # noqa: E401
from pathlib import Path
"""
INSTALL_BODY = """\
if not any((p / "_toc.yml").is_file() for p in (Path.cwd(), *Path.cwd().parents)):
    subprocess.run(["git", "clone", "-q", "--depth=1", repository, "norep"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "norep/"], check=True)
    os.chdir("norep")
    subprocess.run(["norep", "data", "download"], check=True)
    subprocess.run(["norep", "zoo", "train", "zoos/fashion_mnist_ci.yaml",
                    "--store", "runs/fashion_mnist_ci"], check=True)"""
"""The install cell around its one variable line, ``repository = URL`` (:func:`install_source`)."""


def repository_url(root: Path) -> str | None:
    """The ``repository.url`` of the book's ``_config.yml`` (None when unset).

    Args:
        root: The book's folder.
    """
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    return (config.get("repository") or {}).get("url")


def install_source(url: str) -> str:
    """The install cell's code, cloning ``url``.

    Example:
        >>> install_source("https://example.org/norep").splitlines()[5]
        "repository = 'https://example.org/norep'  # repository.url of the book's _config.yml"
    """
    return f"{INSTALL_HEADER}repository = {url!r}  # repository.url of the book's _config.yml\n{INSTALL_BODY}"


def add_install_cell(notebook, url: str | None) -> None:
    """Insert the install cell before the notebook's first code cell (in place).

    Args:
        notebook: An ``nbformat`` notebook (a chapter, executed or not).
        url: The repository's public URL (:func:`repository_url`); None (a book that sets
            no ``repository.url``) leaves the notebook as it is, since the cell would have
            nothing to clone.
    """
    import nbformat.v4 as nbf

    if not url:
        return
    first_code = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), len(notebook.cells))
    cell = nbf.new_code_cell(install_source(url), id=INSTALL_TAG,  # a fixed id: staging is reproducible
                             metadata={"tags": [INSTALL_TAG, "hide-cell"]})
    notebook.cells.insert(first_code, cell)
