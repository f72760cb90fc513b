"""Seeding and device selection, resolved once for the whole package."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch, and make torch deterministic on the CPU.

    Args:
        seed: The seed.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(requested: str | None = None) -> str:
    """Return the torch device to use: ``requested``, else ``$NOREP_DEVICE``, else cuda if present.

    Args:
        requested: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or None/``"auto"``.

    Returns:
        A device string for ``torch.device``.
    """
    import torch

    requested = requested or os.environ.get("NOREP_DEVICE") or "auto"
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        from norep.errors import NorepError

        raise NorepError(f"device {requested!r} was asked for but no CUDA GPU is visible; use 'cpu'")
    return requested
