"""Zoo specs: declarative YAML zoos whose members are described by their methodology."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from norep.errors import NorepError
from norep.store import check_model_id
from norep.zoo.methodology import FIELDS, OBJECTIVES, Methodology, divergence_category
from norep.zoo.validation import check_ids, fraction, read_zoo_file, reject_unknown

_MEMBER_KEYS = {"id", "display_name", "role", "notes", *FIELDS}
_SPEC_KEYS = {"name", "dataset", "base", "target_accuracy", "band", "splits", "defaults", "models", "notes"}
ROLES = {
    "member": "counted in its divergence category",
    "accuracy-control": "the base's recipe family made weaker (less data, a shorter schedule): "
                        "what accuracy alone does",
    "same-seed": "a hyper-parameter variant that shares the base's seed: a lesson, never in a category",
    "data-only": "the base's recipe on other training data, and nothing else: reported on its own",
}
"""Roles of zoo members and what each means; only members enter the category means."""


@dataclass(frozen=True)
class Member:
    """One model of a zoo spec, with its methodology made explicit."""

    id: str
    methodology: Methodology
    display_name: str
    role: str = "member"
    notes: str = ""

    def as_meta(self) -> dict:
        """Return the member's fields as flat store metadata."""
        return {
            "display_name": self.display_name,
            **self.methodology.as_meta(),
            "role": self.role,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class ZooSpec:
    """A declarative zoo: a base model, its partners and the shared settings."""

    name: str
    dataset: str
    base: str
    target_accuracy: float
    band: float
    splits: dict
    members: tuple[Member, ...]
    path: Path | None = None

    def member(self, model_id: str) -> Member:
        """Return the member with id ``model_id``."""
        for member in self.members:
            if member.id == model_id:
                return member
        raise NorepError(f"no model {model_id!r} in zoo spec {self.name}")

    def category(self, model_id: str) -> str | None:
        """Return the divergence category of a member relative to the base."""
        if model_id == self.base:
            return None
        return divergence_category(
            self.member(self.base).methodology, self.member(model_id).methodology
        )

    def subset(self, model_ids: list[str]) -> "ZooSpec":
        """Return the spec restricted to ``model_ids`` (in spec order), base included."""
        unknown = set(model_ids) - {m.id for m in self.members}
        if unknown:
            raise NorepError(f"no model(s) {sorted(unknown)} in zoo spec {self.name}")
        keep = set(model_ids) | {self.base}
        return ZooSpec(
            self.name, self.dataset, self.base, self.target_accuracy, self.band, self.splits,
            tuple(m for m in self.members if m.id in keep), self.path,
        )


def load_spec(path: str | Path) -> ZooSpec:
    """Read and validate a YAML zoo spec.

    Each entry of ``models`` overrides ``defaults``; ``hyperparameters`` are merged
    key by key. Categories are never written in a spec: they are derived.

    Args:
        path: The YAML file.

    Returns:
        The validated spec.
    """
    path = Path(path)
    where = f"zoo spec {path}"
    raw = read_zoo_file(path, where, "zoos/fashion_mnist.yaml", _SPEC_KEYS)
    defaults = raw.get("defaults") or {}
    reject_unknown(defaults, _MEMBER_KEYS - {"id", "seed"}, f"{where}: defaults (every model sets its own seed)")
    members = tuple(_member(entry, defaults, path, index) for index, entry in enumerate(raw["models"]))
    check_ids([m.id for m in members], raw["base"], where)
    spec = ZooSpec(
        name=str(raw["name"]),
        dataset=str(raw["dataset"]),
        base=raw["base"],
        target_accuracy=fraction(raw["target_accuracy"], f"zoo spec {path}: target_accuracy"),
        band=fraction(raw.get("band", 0.01), f"zoo spec {path}: band"),
        splits=dict(raw.get("splits") or {}),
        members=members,
        path=path,
    )
    check_roles(spec)
    check_seeds(spec)
    return spec


def check_seeds(spec: ZooSpec) -> None:
    """Raise a NorepError unless every model trains from its own seed.

    Only a ``same-seed`` member may share a seed, and it must share the base's: sharing
    a seed by accident would make two models start from one initialization and see one
    data order, which is not what their categories claim.
    """
    base = spec.member(spec.base).methodology.seed
    owners: dict[int, str] = {}
    for member in spec.members:
        seed = member.methodology.seed
        where = f"zoo spec {spec.path}: model {member.id!r}"
        if member.role == "same-seed":
            if seed != base:
                raise NorepError(f"{where} has role same-seed but seed {seed}; give it the base's seed {base}")
        elif seed in owners:
            raise NorepError(f"{where} shares seed {seed} with {owners[seed]!r}; give it a seed of its own "
                             "(or role same-seed to share the base's on purpose)")
        else:
            owners[seed] = member.id


def check_roles(spec: ZooSpec) -> None:
    """Raise a NorepError for a member whose methodology does not fit its role.

    Every partner must differ from the base; a ``same-seed`` member differs in
    hyper-parameters only; a ``data-only`` member in training data only (and its seed).
    """
    base = spec.member(spec.base).methodology
    expected = {"same-seed": "Hyper-parameters", "data-only": "Dataset"}
    for member in spec.members:
        if member.id == spec.base:
            continue
        where = f"zoo spec {spec.path}: model {member.id!r}"
        method = member.methodology
        category = divergence_category(base, method)
        if category is None:
            raise NorepError(f"{where} has the same methodology as the base; change its seed or another field")
        if member.role not in expected:
            continue
        same_otherwise = (member.role != "data-only" or (
            (method.architecture, method.objective, method.hyperparameters)
            == (base.architecture, base.objective, base.hyperparameters)))
        if category != expected[member.role] or not same_otherwise:
            what = "hyper-parameters" if member.role == "same-seed" else "training_data (and seed)"
            raise NorepError(f"{where} has role {member.role} and must differ from the base in {what} only")


def _member(entry: object, defaults: dict, path: Path, index: int) -> Member:
    where = f"zoo spec {path}: models[{index}]"
    if not isinstance(entry, dict) or "id" not in entry:
        raise NorepError(f"{where} must be a mapping with at least an 'id'")
    where = f"zoo spec {path}: model {entry['id']!r}"
    reject_unknown(entry, _MEMBER_KEYS, where)
    check_model_id(entry["id"])
    fields = {**defaults, **entry}
    hyperparameters = {**(defaults.get("hyperparameters") or {}), **(entry.get("hyperparameters") or {})}
    for key in FIELDS:
        if key != "hyperparameters" and fields.get(key) is None:
            place = "its own entry" if key == "seed" else "there or in 'defaults'"
            raise NorepError(f"{where} lacks {key!r} (set it in {place})")
    if fields["objective"] not in OBJECTIVES:
        raise NorepError(f"{where}: objective {fields['objective']!r} is not one of {sorted(OBJECTIVES)}")
    if not isinstance(fields["seed"], int):
        raise NorepError(f"{where}: seed must be an integer, got {fields['seed']!r}")
    role = fields.get("role", "member")
    if role not in ROLES:
        raise NorepError(f"{where}: role {role!r} is not one of {sorted(ROLES)}")
    return Member(
        id=entry["id"],
        methodology=Methodology(
            architecture=str(fields["architecture"]),
            objective=str(fields["objective"]),
            training_data=str(fields["training_data"]),
            seed=fields["seed"],
            hyperparameters=hyperparameters,
        ),
        display_name=str(entry.get("display_name", entry["id"])),
        role=role,
        notes=str(entry.get("notes", "")),
    )
