"""Zoo catalogs for inference: YAML lists of public pretrained models and their methodology.

A catalog (``zoos/imagenet_paper.yaml``) names each model by its canonical id,
``timm/<architecture>.<tag>`` or ``open_clip/<name>:<pretrained>``, and describes it with
the methodology fields of :mod:`norep.zoo.methodology` (the vocabulary of the mini zoo),
so that divergence categories relative to the base are derived, never written. Keys::

    name, dataset, base, target_accuracy, band    as in a mini-zoo spec
    splits: {calibration: 0.2, seed: 0}            share of the images held out for fitting
    unavailable: {Reinit: why}                     categories no public model covers
    defaults: {...}                                entry fields shared by every model
    models: [{id, display_name, architecture, objective, training_data,
              hyperparameters, seed, reported_accuracy, accuracy_source,
              stand_in_for, why, checkpoint, notes}, ...]

``reported_accuracy`` is the top-1 its source publishes (null when not recorded here);
``stand_in_for`` and ``why`` say which non-public model of the paper an entry replaces;
``checkpoint`` is a local weights file (relative to the catalog) used instead of a download.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from norep.errors import NorepError
from norep.store import check_model_id
from norep.zoo import CATEGORIES, OBJECTIVES, Methodology, divergence_category
from norep.zoo.validation import check_ids, fraction, read_zoo_file, reject_unknown

SOURCES = ("timm", "open_clip")
_ENTRY_KEYS = {
    "id", "display_name", "architecture", "objective", "training_data", "hyperparameters", "seed",
    "reported_accuracy", "accuracy_source", "stand_in_for", "why", "checkpoint", "notes",
}
_CATALOG_KEYS = {
    "name", "dataset", "base", "target_accuracy", "band", "splits", "unavailable", "defaults",
    "models", "notes",
}
_REQUIRED = ("architecture", "objective", "training_data")


@dataclass(frozen=True)
class ModelRef:
    """Where a canonical model id points: its source library, name and pretrained tag."""

    source: str
    name: str
    pretrained: str | None


def parse_model_id(model_id: str) -> ModelRef:
    """Split a canonical id into source, name and pretrained tag.

    Args:
        model_id: ``timm/<architecture>[.<tag>]`` or ``open_clip/<name>[:<pretrained>]``.

    Returns:
        The reference; for timm the name keeps its tag (``resnet50.tv_in1k``).

    Example:
        >>> parse_model_id("open_clip/ViT-B-32:openai")
        ModelRef(source='open_clip', name='ViT-B-32', pretrained='openai')
        >>> parse_model_id("timm/resnet50.a1_in1k").pretrained
        'a1_in1k'
    """
    source, _, name = model_id.partition("/")
    if source not in SOURCES or not name:
        raise NorepError(
            f"model id {model_id!r} has an unknown source {source!r}; write "
            "timm/<architecture>.<tag> or open_clip/<name>:<pretrained>"
        )
    if source == "timm":
        return ModelRef(source, name, name.partition(".")[2] or None)
    name, _, pretrained = name.partition(":")
    return ModelRef(source, name, pretrained or None)


@dataclass(frozen=True)
class CatalogEntry:
    """One model of a catalog: its id, methodology and provenance."""

    id: str
    methodology: Methodology
    display_name: str
    reported_accuracy: float | None = None
    accuracy_source: str = ""
    stand_in_for: str = ""
    why: str = ""
    checkpoint: Path | None = None
    notes: str = ""

    @property
    def ref(self) -> ModelRef:
        """The source, name and pretrained tag of the id."""
        return parse_model_id(self.id)

    def as_meta(self) -> dict:
        """Return the entry as flat store metadata (methodology fields included)."""
        return {
            "display_name": self.display_name,
            **self.methodology.as_meta(),
            "source": self.ref.source,
            "reported_accuracy": self.reported_accuracy,
            "accuracy_source": self.accuracy_source,
            "stand_in_for": self.stand_in_for,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Catalog:
    """A validated catalog: a base model, its partners and the shared settings."""

    name: str
    dataset: str
    base: str
    target_accuracy: float
    band: float
    calibration: float
    split_seed: int
    entries: tuple[CatalogEntry, ...]
    unavailable: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def ids(self) -> list[str]:
        """Model ids in catalog order."""
        return [entry.id for entry in self.entries]

    def entry(self, model_id: str) -> CatalogEntry:
        """Return the entry of ``model_id``; an unknown id is an error naming close ids."""
        for entry in self.entries:
            if entry.id == model_id:
                return entry
        close = difflib.get_close_matches(model_id, self.ids, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; it has {len(self.ids)} models"
        raise NorepError(f"model {model_id!r} is not in the catalog {self.name}{hint}")

    def select(self, model_ids: list[str] | None) -> list[CatalogEntry]:
        """Return the entries of ``model_ids`` in catalog order (all entries for None)."""
        if model_ids is None:
            return list(self.entries)
        wanted = {self.entry(model_id).id for model_id in model_ids}
        return [entry for entry in self.entries if entry.id in wanted]

    def category(self, model_id: str) -> str | None:
        """Return the divergence category of an entry relative to the base (None for the base)."""
        if model_id == self.base:
            return None
        return divergence_category(self.entry(self.base).methodology, self.entry(model_id).methodology)


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a YAML catalog.

    Args:
        path: The YAML file (see the module docstring for its keys).

    Returns:
        The catalog; each entry's fields override ``defaults`` and its
        ``hyperparameters`` are merged key by key into theirs.

    Example:
        >>> catalog = load_catalog("zoos/imagenet_paper.yaml")      # doctest: +SKIP
        >>> catalog.category("open_clip/ViT-L-14:openai")            # doctest: +SKIP
        'Dataset'
    """
    path = Path(path)
    where = f"zoo catalog {path}"
    raw = read_zoo_file(path, where, "zoos/imagenet_paper.yaml", _CATALOG_KEYS)
    defaults = raw.get("defaults") or {}
    reject_unknown(defaults, _ENTRY_KEYS - {"id"}, f"{where}: defaults")
    entries = tuple(_entry(item, defaults, path, index) for index, item in enumerate(raw["models"]))
    check_ids([entry.id for entry in entries], raw["base"], where)
    unavailable = raw.get("unavailable") or {}
    reject_unknown(unavailable, set(CATEGORIES), f"{where}: unavailable")
    splits = raw.get("splits") or {}
    reject_unknown(splits, {"calibration", "seed"}, f"{where}: splits")
    return Catalog(
        name=str(raw["name"]),
        dataset=str(raw["dataset"]),
        base=raw["base"],
        target_accuracy=fraction(raw["target_accuracy"], f"{where}: target_accuracy"),
        band=fraction(raw.get("band", 0.02), f"{where}: band"),
        calibration=fraction(splits.get("calibration", 0.2), f"{where}: splits.calibration"),
        split_seed=int(splits.get("seed", 0)),
        entries=entries,
        unavailable={str(k): str(v) for k, v in unavailable.items()},
        path=path,
    )


def _entry(item: object, defaults: dict, path: Path, index: int) -> CatalogEntry:
    if not isinstance(item, dict) or "id" not in item:
        raise NorepError(f"zoo catalog {path}: models[{index}] must be a mapping with at least an 'id'")
    where = f"zoo catalog {path}: model {item['id']!r}"
    reject_unknown(item, _ENTRY_KEYS, where)
    check_model_id(item["id"])
    try:
        parse_model_id(item["id"])
    except NorepError as error:
        raise NorepError(f"{where}: {error}") from None
    fields = {**defaults, **item}
    for key in _REQUIRED:
        if not fields.get(key):
            raise NorepError(f"{where} lacks {key!r} (set it there or in 'defaults')")
    if fields["objective"] not in OBJECTIVES:
        raise NorepError(f"{where}: objective {fields['objective']!r} is not one of {sorted(OBJECTIVES)}")
    hyperparameters = {**(defaults.get("hyperparameters") or {}), **(item.get("hyperparameters") or {})}
    seed = fields.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise NorepError(f"{where}: seed must be an integer or null, got {seed!r}")
    accuracy = fields.get("reported_accuracy")
    checkpoint = fields.get("checkpoint")
    return CatalogEntry(
        id=item["id"],
        methodology=Methodology(
            architecture=str(fields["architecture"]),
            objective=str(fields["objective"]),
            training_data=str(fields["training_data"]),
            seed=seed,
            hyperparameters=hyperparameters,
        ),
        display_name=str(item.get("display_name", item["id"])),
        reported_accuracy=None if accuracy is None else fraction(accuracy, f"{where}: reported_accuracy"),
        accuracy_source=str(fields.get("accuracy_source") or ""),
        stand_in_for=str(item.get("stand_in_for") or ""),
        why=str(item.get("why") or ""),
        checkpoint=None if checkpoint is None else path.parent / Path(checkpoint).expanduser(),
        notes=str(item.get("notes") or ""),
    )
