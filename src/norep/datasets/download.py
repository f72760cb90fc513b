"""Downloads of public files into the user cache: atomic, checksum-verified, with progress.

The cache is ``$NOREP_CACHE`` when set, else ``~/.cache/norep``. A file is written to a
temporary name beside its target, checked, then renamed, so the cache never holds a
partial or unverified file under its final name.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from norep.errors import NorepError
from norep.store import sha256_file

CHUNK_SIZE = 1 << 20
TIMEOUT_S = 60


def cache_dir() -> Path:
    """Return the user cache of norep (``$NOREP_CACHE``, else ``~/.cache/norep``)."""
    return Path(os.environ.get("NOREP_CACHE", Path.home() / ".cache" / "norep"))


def fetch(url: str, target: str | os.PathLike, sha256: str | None = None) -> Path:
    """Download ``url`` to ``target`` unless a verified copy is already there.

    Args:
        url: What to download (``https://``, ``file://``, ...).
        target: Where the file goes; parent folders are created.
        sha256: Expected hex sha256; a mismatch deletes the download and raises.

    Returns:
        The target path.

    Example:
        >>> fetch("https://example.org/a.csv", "/tmp/a.csv", sha256="...")  # doctest: +SKIP
    """
    target = Path(target)
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(partial, "wb") as out:
            size = response.headers.get("Content-Length")
            with tqdm(total=int(size) if size else None, unit="B", unit_scale=True,
                      desc=target.name, leave=False, disable=None) as progress:
                while chunk := response.read(CHUNK_SIZE):
                    out.write(chunk)
                    progress.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        got = sha256_file(partial)
        if sha256 is not None and got != sha256:
            raise NorepError(
                f"{url} gave a file with sha256 {got[:16]}..., expected {sha256[:16]}...; "
                "the upstream file changed or the transfer was damaged: retry, or pass local copies as PATH"
            )
        os.replace(partial, target)
    except OSError as error:
        reason = getattr(error, "reason", None) or error.strerror or error
        raise NorepError(
            f"cannot download {url} ({reason}); check the network, or pass local copies as PATH"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def fetch_files(folder: str, files: Mapping[str, tuple[str, str]]) -> Path:
    """Fill ``cache_dir()/folder`` with verified copies of public files.

    Args:
        folder: Sub-folder of the cache, e.g. ``"imagenet-x"``.
        files: Relative path in the folder -> (url, sha256).

    Returns:
        The cache folder, holding every file under its relative path.

    Example:
        >>> fetch_files("demo", {"a.csv": ("https://example.org/a.csv", "...")})  # doctest: +SKIP
    """
    root = cache_dir() / folder
    for relpath, (url, sha256) in files.items():
        fetch(url, root / relpath, sha256)
    return root
