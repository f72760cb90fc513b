"""The book's palette and legends: every figure colors models by divergence category."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from norep.zoo import CATEGORIES
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, DATA_ONLY_LABEL, SAME_SEED_LABEL

CATEGORY_COLORS = {BASE_LABEL: "black", **dict(zip(CATEGORIES, plt.get_cmap("tab10").colors))}
"""A color for the base and one per divergence category."""


GROUP_COLORS = {**CATEGORY_COLORS, SAME_SEED_LABEL: plt.get_cmap("tab10").colors[6],
                DATA_ONLY_LABEL: plt.get_cmap("tab10").colors[5], CONTROL_LABEL: "0.6"}
""":data:`CATEGORY_COLORS` plus the same-seed lesson, the data-only subgroup and a grey for the
accuracy controls."""


SUMMARY_MARKERS = ("D", "s", "^", "v")


FIRST_MODEL_COLOR = "0.25"
"""The first model of a pair (the base, or a greedy anchor): a dark grey."""


def group_color(group: object) -> object:
    """The color of a group; a neutral grey for a group without one (e.g. undecidable)."""
    return GROUP_COLORS.get(group, "0.75")


def group_legend(groups: list) -> list[Line2D]:
    """Legend handles for the groups present, in palette order."""
    present = [g for g in GROUP_COLORS if g in set(groups)]
    present += [g for g in dict.fromkeys(groups) if g not in GROUP_COLORS]
    return [Line2D([], [], marker="o", linestyle="", color=group_color(g), label=str(g)) for g in present]
