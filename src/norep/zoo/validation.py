"""Reading and checking the YAML zoo files (mini-zoo specs, inference catalogs).

Each check raises a :class:`~norep.errors.NorepError` of one line that says where the
problem is and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from norep.errors import NorepError

REQUIRED_KEYS = ("name", "dataset", "base", "target_accuracy", "models")
"""Keys every zoo file has."""


def read_zoo_file(path: Path, where: str, example: str, allowed: set) -> dict:
    """Read a YAML zoo file and check its top-level keys and its list of models.

    Args:
        path: The YAML file.
        where: How messages name it, e.g. ``"zoo spec zoos/x.yaml"``.
        example: A file to suggest when it does not exist.
        allowed: Its allowed top-level keys.

    Returns:
        The mapping, with at least :data:`REQUIRED_KEYS` and a non-empty ``models`` list.
    """
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise NorepError(f"{where} does not exist; pass a YAML file such as {example}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise NorepError(f"{where} is not valid YAML{line}; fix its syntax") from None
    if not isinstance(raw, dict):
        raise NorepError(f"{where} must be a mapping with keys {sorted(allowed)}")
    reject_unknown(raw, allowed, where)
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise NorepError(f"{where} lacks the key {key!r}")
    if not isinstance(raw["models"], list) or not raw["models"]:
        raise NorepError(f"{where}: 'models' must be a non-empty list")
    return raw


def reject_unknown(mapping: object, allowed: set, where: str) -> None:
    """Raise unless ``mapping`` is a mapping whose keys are all in ``allowed``."""
    if not isinstance(mapping, dict):
        raise NorepError(f"{where} must be a mapping")
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise NorepError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def fraction(value: object, where: str) -> float:
    """Return ``value`` as a float if it is a number in [0, 1], else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise NorepError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def check_ids(ids: list[str], base: str, where: str) -> None:
    """Raise when a model id appears twice or the base is not among the ids."""
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise NorepError(f"{where}: model id(s) {twice} appear more than once")
    if base not in ids:
        raise NorepError(f"{where}: base {base!r} is not one of its models")
