"""The prediction store: on-disk format, manifest and checksums, and the one reader."""

from norep.store.files import sha256_file
from norep.store.reader import (
    RULES,
    Outcomes,
    Scores,
    read_embeddings,
    read_outcomes,
    read_scores,
    scaled_scores,
    softmax,
    top1,
)
from norep.store.store import MANIFEST, Store, check_model_id, model_dirname

__all__ = [
    "MANIFEST", "RULES", "Outcomes", "Scores", "Store", "check_model_id", "model_dirname", "read_embeddings",
    "read_outcomes", "read_scores", "scaled_scores", "sha256_file", "softmax", "top1",
]
