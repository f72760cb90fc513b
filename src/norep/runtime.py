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


def resolve_jobs(jobs: int | None) -> int:
    """Return how many processes to run side by side: ``jobs``, else one per CPU core.

    Args:
        jobs: A positive count, or None.

    Returns:
        The count; a count under 1 raises a one-line NorepError.
    """
    if jobs is None:
        return len(os.sched_getaffinity(0))
    if jobs < 1:
        from norep.errors import NorepError

        raise NorepError(f"--jobs must be at least 1, got {jobs}; leave it out for one per CPU core")
    return jobs
