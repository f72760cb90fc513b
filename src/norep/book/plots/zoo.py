"""Figures of the zoo chapter: each model's accuracy against the band."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.book.plots.style import CATEGORY_COLORS
from norep.zoo.roster import BASE_LABEL


def accuracy_band(table: pd.DataFrame, band: float) -> Figure:
    """Plot every model's accuracy against the band around the base's accuracy.

    Left panel: calibration accuracy, on which the band is decided, with the band
    shaded. Right panel: test accuracy with its bootstrap interval. Filled markers are
    in the band, hollow ones are not.

    Args:
        table: One row per model in display order, with columns ``label``, ``group``
            (a key of :data:`CATEGORY_COLORS`; the base's group is :data:`BASE_LABEL`),
            ``in_band`` (bool), ``calibration``, ``test``, ``test_low`` and ``test_high``
            (accuracies as fractions).
        band: Half-width of the band around the base's calibration accuracy.

    Returns:
        The figure.
    """
    base = table[table["group"] == BASE_LABEL].iloc[0]
    rows = np.arange(len(table))[::-1]
    height = 0.28 * len(table) + 1.6
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(10, height), layout="constrained")
    for ax, split in zip(axes, ("calibration", "test")):
        ax.axvline(100 * base[split], color="0.3", linestyle="--", linewidth=1)
        if split == "calibration":
            ax.axvspan(100 * (base[split] - band), 100 * (base[split] + band), color="0.85", zorder=0)
        else:
            ax.hlines(rows, 100 * table["test_low"], 100 * table["test_high"], color="0.5", lw=1.5)
        colors = [CATEGORY_COLORS[group] for group in table["group"]]
        ax.scatter(100 * table[split], rows, s=36, zorder=3, edgecolors=colors, linewidths=1.5,
                   facecolors=[c if inside else "white" for c, inside in zip(colors, table["in_band"])])
        ax.set_xlabel(f"{split} accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(rows, table["label"], fontsize=8)
    axes[0].set_title(f"calibration: band = base $\\pm$ {100 * band:g} pt", fontsize=10)
    axes[1].set_title("test: 95% bootstrap intervals", fontsize=10)
    groups = [group for group in CATEGORY_COLORS if group in set(table["group"])]
    handles = [Line2D([], [], marker="o", ls="", color=CATEGORY_COLORS[g], label=g) for g in groups]
    handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                          markeredgecolor="0.3", label="out of band"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    return fig

