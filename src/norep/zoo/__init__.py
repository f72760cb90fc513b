"""Zoos: the methodology vocabulary, divergence categories, zoo specs and rosters."""

from norep.zoo.methodology import (
    CATEGORIES,
    FIELDS,
    OBJECTIVES,
    Methodology,
    divergence_category,
)

__all__ = ["CATEGORIES", "FIELDS", "OBJECTIVES", "Methodology", "divergence_category"]
