"""Who is who in a store relative to a chosen base: names, roles, categories, the band."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from norep.errors import NorepError
from norep.store import Store, read_outcomes
from norep.zoo.methodology import CATEGORIES, Methodology, divergence_category

BASE_LABEL = "Base"  #: the group of the base model (also the plots' color key)
CONTROL_LABEL = "Accuracy control"  #: the group of the accuracy controls
SAME_SEED_LABEL = "Same seed"  #: the group of the same-seed lesson (hyper-parameters, the base's seed)
DATA_ONLY_LABEL = "Data only"  #: the group of the base's recipe on other training data
ROLE_LABELS = {"accuracy-control": CONTROL_LABEL, "same-seed": SAME_SEED_LABEL, "data-only": DATA_ONLY_LABEL}
"""The plotting group of each role that is kept out of the categories."""
UNDECIDABLE_LABEL = "undecidable"  #: the group of members whose category cannot be decided


@dataclass(frozen=True)
class Roster:
    """The models of a store seen from one base model.

    Attributes:
        base: The base model id.
        band: Half-width of the accuracy band around the base (a fraction).
        band_split: The split whose accuracy decides the band ("calibration" when the
            store has one, so that the test split is never used to choose pairs).
        table: One row per model (store order) with columns ``name``, ``role``
            ("member", "accuracy-control", "same-seed" or "data-only"; see
            :data:`norep.zoo.spec.ROLES`), ``category`` (relative to the base; None for
            the base and when undecidable), ``group`` (the category for members, else
            the base's, the role's (:data:`ROLE_LABELS`) or the undecidable label),
            ``accuracy`` (on ``band_split``), ``in_band`` and ``has_logits``.
        methodologies: Each model's methodology, for categories of pairs without the base.
    """

    base: str
    band: float
    band_split: str
    table: pd.DataFrame
    methodologies: dict[str, Methodology]

    @property
    def names(self) -> dict[str, str]:
        """Display name of each model (its id when the store has none)."""
        return self.table["name"].to_dict()

    @property
    def members(self) -> list[str]:
        """Every model with role member but the base (undecidable ones included)."""
        t = self.table
        return list(t.index[(t["role"] == "member") & (t.index != self.base)])

    def role(self, role: str) -> list[str]:
        """The models of one role, e.g. "same-seed" or "data-only" (store order)."""
        return list(self.table.index[self.table["role"] == role])

    def pair_category(self, a: str, b: str) -> str | None:
        """The divergence category of the pair (a, b).

        A pair with the base takes the roster's category (the store's column when it was
        computed for this base); any other pair is derived from the two methodologies.

        Example:
            >>> roster.pair_category("cnn-seed0", "mlp-seed0")  # doctest: +SKIP
            'Architecture'
        """
        if a == self.base or b == self.base:
            return self.table.loc[b if a == self.base else a, "category"]
        return divergence_category(self.methodologies[a], self.methodologies[b])

    def pair_group(self, a: str, b: str) -> str:
        """The plotting group of model b seen from a: its role's label, the pair's category or undecidable."""
        if self.table.loc[b, "role"] in ROLE_LABELS:
            return ROLE_LABELS[self.table.loc[b, "role"]]
        return self.pair_category(a, b) or UNDECIDABLE_LABEL

    @property
    def partners(self) -> list[str]:
        """Members with a decided category, ordered from Reinit to Dataset."""
        rank = {c: i for i, c in enumerate(CATEGORIES)}
        members = self.table[(self.table["role"] == "member") & self.table["category"].notna()]
        return sorted(members.index, key=lambda m: rank[members.loc[m, "category"]])

    def in_category(self, category: str) -> list[str]:
        """The partners of one category, e.g. the Reinit partners (other seeds of the base's recipe)."""
        return [m for m in self.partners if self.table.loc[m, "category"] == category]

    @property
    def controls(self) -> list[str]:
        """Accuracy controls: the base's recipe family made weaker."""
        return self.role("accuracy-control")

    @property
    def undecidable(self) -> list[str]:
        """Members whose category the store's metadata cannot decide."""
        t = self.table
        return list(t.index[(t["role"] == "member") & t["category"].isna() & (t.index != self.base)])


def make_roster(store: Store, base: str, band: float) -> Roster:
    """Return the roster of a store relative to ``base``.

    Categories come from the store's ``category`` column when it was computed against
    the same base, else they are derived from the methodology columns.

    Args:
        store: The prediction store.
        base: The base model id.
        band: Half-width of the accuracy band around the base's accuracy.

    Returns:
        The roster.

    Example:
        >>> roster = make_roster(Store("runs/fashion_mnist"), "cnn-seed0", 0.01)  # doctest: +SKIP
        >>> roster.table.loc[roster.partners, ["category", "in_band"]]           # doctest: +SKIP
    """
    models = store.models.set_index("model_id").loc[store.model_ids]
    if base not in models.index:
        raise NorepError(f"base {base!r} is not in {store.path}; its models include {store.model_ids[:5]}")
    column = lambda name, default: (models[name] if name in models else pd.Series(default, models.index))
    names = pd.Series([name if isinstance(name, str) else model_id
                       for model_id, name in column("display_name", None).items()], models.index)
    roles = column("role", "member").fillna("member")
    methods = {m: Methodology.from_meta(row) for m, row in models.iterrows()}
    if "category" in models and column("base", None).eq(base).all():
        category = models["category"].where(models.index != base)
    else:
        category = pd.Series({m: None if m == base else divergence_category(methods[base], methods[m])
                              for m in models.index})
    category = category.astype(object).where(category.notna(), None)
    group = [BASE_LABEL if m == base else ROLE_LABELS.get(roles[m]) or category[m] or UNDECIDABLE_LABEL
             for m in models.index]
    band_split = "calibration" if "calibration" in set(store.examples["split"]) else "test"
    accuracy = pd.Series(read_outcomes(store, band_split, list(models.index)).accuracy, index=models.index)
    table = pd.DataFrame({
        "name": names, "role": roles, "category": category, "group": group, "accuracy": accuracy,
        "in_band": (accuracy - accuracy[base]).abs() <= band + 1e-12,
        "has_logits": [store.has_array(m, "logits") for m in models.index],
    })
    return Roster(base=base, band=band, band_split=band_split, table=table, methodologies=methods)
