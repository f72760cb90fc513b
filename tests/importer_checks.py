"""Checks shared by the importer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from norep.errors import NorepError
from norep.producers.importers import import_predictions


def assert_refused(kind: str, path: Path | None, store: Path, message: str) -> None:
    """Assert that importing ``path`` fails with one line matching ``message`` and writes nothing.

    Args:
        kind: The importer.
        path: What to import.
        store: The store directory, which must not exist afterwards.
        message: A regular expression the error message must contain.
    """
    with pytest.raises(NorepError, match=message) as error:
        import_predictions(kind, None if path is None else str(path), str(store))
    assert "\n" not in str(error.value)
    assert not store.exists()
