"""The one methodology vocabulary: how a model was trained, and divergence categories.

A pair (base, other) belongs to the highest level at which the two methodologies
differ (PAPER.md): Reinit < Hyper-parameters < Architecture < Framework < Dataset.
Trained, imported and inferred models all describe themselves with the fields of
:class:`Methodology` and the objective names of :data:`OBJECTIVES`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

CATEGORIES = ("Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset")
"""Divergence categories from least to most divergent."""

FIELDS = ("training_data", "objective", "architecture", "hyperparameters", "seed")
"""The methodology fields, from the one deciding the most divergent category down."""

_LEVELS = tuple(zip(FIELDS, reversed(CATEGORIES)))

OBJECTIVES = {
    "cross-entropy": "supervised: softmax cross-entropy on the labels",
    "distillation": "supervised by a teacher's softened outputs (knowledge distillation)",
    "nt-xent": "self-supervised contrastive pre-training (SimCLR's NT-Xent), then a linear head",
    "dino": "self-distillation without labels (DINO), then a linear head",
    "weakly-supervised": "weakly supervised pre-training (hashtag prediction), then supervised fine-tuning",
    "semi-supervised": "self-training on unlabelled images with a teacher's pseudo-labels, then supervised fine-tuning",
    "masked-image-modeling": "self-supervised masked-image reconstruction pre-training, then supervised fine-tuning",
    "adversarial": "supervised cross-entropy on adversarially perturbed images (adversarial training)",
    "contrastive-image-text": "contrastive image-text pre-training (CLIP), used zero-shot through class-name prompts",
    "gini-impurity": "a random forest's splits, chosen by Gini impurity",
    "hinge": "the multi-class hinge loss (a support vector machine's, or a network's multi-margin loss)",
    "nearest-neighbours": "no training: the labels of the nearest training images",
}
"""Objective names shared by trained, imported and inferred models, with what each means."""


@dataclass(frozen=True)
class Methodology:
    """How a model was trained: the fields that define divergence categories."""

    architecture: str | None
    objective: str | None
    training_data: str | None
    seed: int | None = None
    hyperparameters: dict = field(default_factory=dict)

    def as_meta(self) -> dict:
        """Return the fields as flat store metadata, keyed by :data:`FIELDS`."""
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_meta(cls, meta: dict) -> "Methodology":
        """Return the methodology recorded in store metadata (a dict or a models-table row).

        Missing fields become None; ``hyperparameters`` may be a dict or a JSON string.
        """
        def get(key):
            value = meta.get(key)
            return None if value is None or (isinstance(value, float) and value != value) else value

        hyperparameters = get("hyperparameters")
        if isinstance(hyperparameters, str):
            hyperparameters = json.loads(hyperparameters)
        seed = get("seed")
        return cls(
            architecture=get("architecture"),
            objective=get("objective"),
            training_data=get("training_data"),
            seed=None if seed is None else int(seed),
            hyperparameters=hyperparameters,
        )


def divergence_category(base: Methodology, other: Methodology) -> str | None:
    """Return the category of the pair (base, other), or None when it is undecidable.

    Args:
        base: The base model's methodology.
        other: The other model's methodology.

    Returns:
        The highest level at which the methodologies differ; None when they are
        identical or when a field that would decide is unknown (None) on either side.

    Example:
        >>> a = Methodology("cnn", "cross-entropy", "train-A", seed=0)
        >>> divergence_category(a, Methodology("cnn", "cross-entropy", "train-A", seed=1))
        'Reinit'
    """
    for name, category in _LEVELS:
        mine, theirs = getattr(base, name), getattr(other, name)
        if mine is None or theirs is None:
            return None
        if mine != theirs:
            return category
    return None


