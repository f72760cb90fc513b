"""A local MathJax 2 for the book, so that its math renders without internet.

This module is a Sphinx extension, listed in ``_config.yml`` with ``mathjax_path:
mathjax/MathJax.js?config=TeX-AMS_CHTML`` (a path under ``_static``) and a
``mathjax2_config``. When a build starts it checks that MathJax 2 is installed:
Debian's ``libjs-mathjax`` in ``/usr/share/javascript/mathjax``, or the folder that
``$NOREP_MATHJAX`` names. When the HTML is written it copies the parts that the
``TeX-AMS_CHTML`` configuration loads (about 1.5 MB of the package's 54 MB) into
``_static/mathjax``.

Example:
    >>> find_mathjax()                  # doctest: +SKIP
    PosixPath('/usr/share/javascript/mathjax')
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from norep.errors import NorepError

MATHJAX_DIR = Path("/usr/share/javascript/mathjax")
"""Where Debian's ``libjs-mathjax`` installs MathJax 2."""

PARTS = ("MathJax.js", "config/TeX-AMS_CHTML.js", "jax/input/TeX", "jax/element",
         "jax/output/CommonHTML", "jax/output/PreviewHTML", "extensions",
         "fonts/HTML-CSS/TeX/woff")
"""The files and folders of MathJax 2 that the ``TeX-AMS_CHTML`` configuration loads."""

TARGET = Path("_static") / "mathjax"
"""Where the copy goes in the HTML folder; ``mathjax_path`` is relative to ``_static``."""


def find_mathjax() -> Path:
    """Return the MathJax 2 folder: ``$NOREP_MATHJAX``, else Debian's.

    Returns:
        A folder holding ``MathJax.js``; a missing one is a one-line error saying how
        to install it.
    """
    folder = Path(os.environ.get("NOREP_MATHJAX") or MATHJAX_DIR)
    if not (folder / "MathJax.js").is_file():
        raise NorepError(
            f"MathJax 2 not found in {folder} (no MathJax.js), so the book's math would not "
            "render offline: install Debian's libjs-mathjax (as root: `apt-get install "
            "libjs-mathjax`; `make book` does it) or set NOREP_MATHJAX to a MathJax 2 folder"
        )
    return folder


def copy_mathjax(html: str | os.PathLike, source: Path | None = None) -> Path:
    """Copy the parts of MathJax the book loads into ``html/_static/mathjax``.

    Files already there with the same size are kept, so rebuilds copy nothing.

    Args:
        html: The HTML folder of a build.
        source: The MathJax 2 folder; :func:`find_mathjax` when None.

    Returns:
        The copy's folder.
    """
    source = source or find_mathjax()
    target = Path(html) / TARGET
    for part in PARTS:
        path = source / part
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise NorepError(f"{path} is missing: {source} is not a complete MathJax 2")
        for file in files:
            copy = target / file.relative_to(source)
            if not copy.is_file() or copy.stat().st_size != file.stat().st_size:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, copy)  # follows Debian's symbolic links
    return target


def _check(app: Any) -> None:
    """Fail the build at its start when MathJax is not installed."""
    find_mathjax()


def _copy(app: Any, exception: Exception | None) -> None:
    """Copy MathJax into a finished HTML build."""
    if exception is None and app.builder.format == "html":
        copy_mathjax(app.outdir)


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx.

    Args:
        app: The Sphinx application.

    Returns:
        The extension's metadata.
    """
    app.connect("builder-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
