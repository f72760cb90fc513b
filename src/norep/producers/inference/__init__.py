"""Inference: fill a prediction store with pretrained timm and open_clip models on image folders.

Modules: ``catalog`` (the YAML zoo catalogs and canonical ids), ``models``
(:func:`load_model`), ``batches`` (data loading and forward passes), ``chunks``
(resumable per-model work), ``runner`` (:func:`predict_zoo`, :func:`zoo_status`,
shards), ``slurm`` (:func:`submit_slurm`).
"""

from norep.producers.inference.catalog import (
    Catalog,
    CatalogEntry,
    load_catalog,
    parse_model_id,
)
from norep.producers.inference.models import load_model
from norep.producers.inference.runner import parse_shard, predict_zoo, zoo_status
from norep.producers.inference.slurm import submit_slurm

__all__ = [
    "Catalog", "CatalogEntry", "load_catalog", "load_model", "parse_model_id", "parse_shard",
    "predict_zoo", "submit_slurm", "zoo_status",
]
