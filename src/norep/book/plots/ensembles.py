"""Figures of the ensembles chapter: improvement vs error inconsistency, temperature scaling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.book.plots.style import group_color, group_legend


def improvement_vs_inconsistency(panels: dict[str, pd.DataFrame],
                                 fits: dict[str, dict[str, tuple[float, float, float]]] | None = None,
                                 title: str | None = None) -> Figure:
    """Relative ensemble improvement against error inconsistency, with fitted lines (Fig 2 left).

    Both axes in percentage points. Each pair is a dot colored by its group, filled
    when it is in the accuracy band, hollow when not.

    Args:
        panels: One DataFrame per panel title, one row per pair, with columns
            ``error_inconsistency`` and ``improvement`` (fractions), ``group`` (a key of
            :data:`GROUP_COLORS`) and ``in_band`` (bool).
        fits: Per panel title, lines by legend label as (slope, intercept, r) with
            intercept as a fraction: drawn over the range of the panel's dots, r shown in
            the legend. Solid for the first line of a panel, dashed for the others.
        title: The figure's title.

    Returns:
        The figure.

    Example:
        >>> pairs = pd.DataFrame({"error_inconsistency": [0.05, 0.1], "improvement": [0.0, 0.02],
        ...                       "group": ["Reinit", "Dataset"], "in_band": [True, True]})
        >>> fig = improvement_vs_inconsistency({"base pairs": pairs}, {"base pairs": {"fit": (0.4, -0.02, 1.0)}})
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), layout="constrained",
                             squeeze=False)
    groups = []
    for ax, (name, table) in zip(axes[0], panels.items()):
        x, y = 100 * table["error_inconsistency"], 100 * table["improvement"]
        colors = [group_color(g) for g in table["group"]]
        ax.scatter(x, y, s=30, zorder=3, edgecolors=colors, linewidths=1.3,
                   facecolors=[c if inside else "white" for c, inside in zip(colors, table["in_band"])])
        groups += list(table["group"])
        grid = np.linspace(x.min(), x.max(), 50) if len(x) else np.zeros(0)
        for k, (label, (slope, intercept, r)) in enumerate((fits or {}).get(name, {}).items()):
            ax.plot(grid, slope * grid + 100 * intercept, color="black", linewidth=1.2,
                    linestyle="-" if k == 0 else "--", label=f"{label}: slope {slope:.2f}, r = {r:.2f}")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel("error inconsistency (% of test examples)")
        ax.set_ylabel("ensemble accuracy − mean member accuracy (points)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if (fits or {}).get(name):
            ax.legend(fontsize=7, loc="upper left")
    handles = group_legend(groups) + [Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                                              markeredgecolor="0.3", label="out of the band")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def temperature_effect(calibration: pd.DataFrame, ensembles: pd.DataFrame, title: str | None = None) -> Figure:
    """What temperature scaling changes: NLL and ECE per model, ensemble accuracy per pair.

    Left and center: each model's test NLL and ECE before (hollow) and after (filled)
    scaling. Right: each pair's ensemble accuracy with temperature-scaled members
    against unscaled ones (T = 1), with the diagonal.

    Args:
        calibration: One row per model with columns ``label``, ``group`` (a key of
            :data:`GROUP_COLORS`), ``nll_before``, ``nll_after``, ``ece_before`` and
            ``ece_after``.
        ensembles: One row per pair with columns ``group``, ``accuracy_unscaled`` and
            ``accuracy_scaled`` (fractions).
        title: The figure's title.

    Returns:
        The figure.

    Example:
        >>> cal = pd.DataFrame({"label": ["a"], "group": ["Base"], "nll_before": [0.5], "nll_after": [0.4],
        ...                     "ece_before": [0.05], "ece_after": [0.01]})
        >>> ens = pd.DataFrame({"group": ["Reinit"], "accuracy_unscaled": [0.9], "accuracy_scaled": [0.91]})
        >>> fig = temperature_effect(cal, ens)
    """
    rows = np.arange(len(calibration))[::-1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.26 * len(calibration) + 2.8), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1.1]})
    colors = [group_color(g) for g in calibration["group"]]
    for ax, (metric, label, scale) in zip(axes[:2], (("nll", "test NLL (nats)", 1.0),
                                                     ("ece", "test ECE (%, 15 bins)", 100.0))):
        before, after = scale * calibration[f"{metric}_before"], scale * calibration[f"{metric}_after"]
        ax.hlines(rows, before, after, color="0.6", linewidth=1)
        ax.scatter(before, rows, s=30, facecolors="white", edgecolors=colors, linewidths=1.3, zorder=3)
        ax.scatter(after, rows, s=30, color=colors, zorder=3)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(rows, calibration["label"] if ax is axes[0] else [], fontsize=7)
    axes[0].set_title("per model: hollow T = 1, filled T fitted", fontsize=9)
    axes[1].set_title("expected calibration error", fontsize=9)
    x, y = 100 * ensembles["accuracy_unscaled"], 100 * ensembles["accuracy_scaled"]
    axes[2].scatter(x, y, s=24, color=[group_color(g) for g in ensembles["group"]], zorder=3)
    if len(x):
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        axes[2].plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="no change")
        axes[2].legend(fontsize=7, loc="upper left")
    axes[2].set_xlabel("ensemble accuracy, T = 1 (%)")
    axes[2].set_ylabel("ensemble accuracy, T fitted (%)")
    axes[2].set_title("per pair: two-model ensembles", fontsize=9)
    axes[2].grid(alpha=0.3)
    fig.legend(handles=group_legend(list(calibration["group"]) + list(ensembles["group"])),
               loc="outside lower center", ncol=7, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig

