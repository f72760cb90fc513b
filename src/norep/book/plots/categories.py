"""Figures of pair metrics by divergence category (Figs 1 and 2) and all-pairs heatmaps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.book.plots.style import (
    CATEGORY_COLORS,
    SUMMARY_MARKERS,
    group_color,
    group_legend,
)
from norep.zoo import CATEGORIES


def category_metrics(pairs: pd.DataFrame, summaries: dict[str, pd.DataFrame], metrics: dict[str, str],
                     references: dict[str, list[tuple[float, str]]] | None = None,
                     title: str | None = None, percent: bool = False) -> Figure:
    """Pair metrics per divergence category, one panel per metric (Figs 1 and 2).

    Each pair (base, partner) is a dot in the column of its category, filled when the
    partner is in the accuracy band, hollow when not, with its interval as a thin line
    when given. Beside the dots, each summary (e.g. the category mean over all partners,
    and over the partners in the band) is a black marker with its interval.

    Args:
        pairs: One row per pair with columns ``category`` (a name of
            :data:`norep.zoo.CATEGORIES`), ``in_band`` (bool) and one column per metric;
            optional ``{metric}_low`` and ``{metric}_high`` columns give its interval.
        summaries: Per-category summaries by legend label, each indexed by category with
            columns ``{metric}``, ``{metric}_low`` and ``{metric}_high``; categories
            missing from a summary are not drawn.
        metrics: Axis label by metric column: one panel each, in this order.
        references: Horizontal dashed lines by metric column, as (value, label) pairs
            (e.g. the base paired with an accuracy control: what accuracy alone does).
        title: The figure's title.
        percent: Draw values times 100 (for accuracies and rates given as fractions).

    Returns:
        The figure.

    Example:
        >>> pairs = pd.DataFrame({"category": ["Reinit", "Dataset"], "in_band": [True, False],
        ...                       "kappa": [0.6, 0.3]})
        >>> fig = category_metrics(pairs, {}, {"kappa": "error consistency kappa"})
    """
    scale = 100.0 if percent else 1.0
    categories = [c for c in CATEGORIES if c in set(pairs["category"])]
    position = {c: i for i, c in enumerate(categories)}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 4.2), layout="constrained",
                             squeeze=False)
    offsets = 0.12 + 0.14 * np.arange(len(summaries))
    for ax, (metric, label) in zip(axes[0], metrics.items()):
        for category in categories:
            rows = pairs[pairs["category"] == category]
            spread = np.linspace(-0.12, 0.12, len(rows)) if len(rows) > 1 else np.zeros(1)
            x = position[category] - 0.22 + spread[:len(rows)]
            color = CATEGORY_COLORS[category]
            if f"{metric}_low" in rows:
                ax.vlines(x, scale * rows[f"{metric}_low"], scale * rows[f"{metric}_high"], color=color,
                          linewidth=1, alpha=0.6)
            ax.scatter(x, scale * rows[metric], s=30, zorder=3, edgecolors=color, linewidths=1.3,
                       facecolors=[color if inside else "white" for inside in rows["in_band"]])
        for (name, summary), offset, marker in zip(summaries.items(), offsets, SUMMARY_MARKERS):
            shown = summary.reindex([c for c in categories if c in summary.index]).dropna(subset=[metric])
            x = np.array([position[c] for c in shown.index]) + offset
            low, high = scale * shown[f"{metric}_low"], scale * shown[f"{metric}_high"]
            y = scale * shown[metric]
            ax.errorbar(x, y, yerr=[y - low, high - y], fmt=marker, color="black", markersize=5, capsize=3,
                        linewidth=1.2, zorder=4, label=name)
        for value, text in (references or {}).get(metric, []):
            ax.axhline(scale * value, color="0.45", linestyle="--", linewidth=1, zorder=1)
            ax.annotate(text, (1, scale * value), xycoords=("axes fraction", "data"), xytext=(-3, 3),
                        textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.3",
                        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        ax.set_xticks(range(len(categories)), categories, rotation=20, ha="right")
        for tick, category in zip(ax.get_xticklabels(), categories):
            tick.set_color(CATEGORY_COLORS[category])
        ax.set_xlim(-0.6, len(categories) - 0.4)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    handles = [Line2D([], [], marker=m, linestyle="-", color="black", markersize=5, label=name)
               for name, m in zip(summaries, SUMMARY_MARKERS)]
    handles += [Line2D([], [], marker="o", linestyle="", color="0.3", label="one pair, partner in the band"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                       label="one pair, partner out of the band")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def pair_heatmap(matrices: dict[str, np.ndarray], labels: list[str], groups: list,
                 cmaps: dict[str, str] | None = None, title: str | None = None,
                 annotate: bool | None = None) -> Figure:
    """All-pairs heatmaps of a zoo ordered by group (Fig 1, all pairs), drawn with seaborn.

    Models are drawn in the given order (e.g. the base, then by divergence category);
    tick labels take their group's color and thin lines separate consecutive groups.

    Args:
        matrices: N x N matrix by panel title (NaN cells, e.g. the diagonal, are blank).
        labels: Model names, in the matrices' order.
        groups: Each model's group (a key of :data:`GROUP_COLORS`, or anything else,
            drawn grey), in the same order.
        cmaps: Colormap name by panel title; ``viridis`` by default.
        title: The figure's title.
        annotate: Write each cell's value; by default when there are at most 14 models.

    Returns:
        The figure.

    Example:
        >>> m = np.array([[np.nan, 0.1], [0.1, np.nan]])
        >>> fig = pair_heatmap({"error inconsistency": m}, ["a", "b"], ["Base", "Reinit"])
    """
    n = len(labels)
    side = max(3.6, 0.34 * n + 1.6)
    fig, axes = plt.subplots(1, len(matrices), figsize=(side * len(matrices) + 1.2, side + 0.9),
                             layout="constrained", squeeze=False)
    bounds = [k for k in range(1, n) if groups[k] != groups[k - 1]]
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        values = np.asarray(matrix, dtype=float)
        empty = not np.isfinite(values).any()  # e.g. kappa of models that are never right
        sns.heatmap(values, ax=ax, cmap=(cmaps or {}).get(name, "viridis"), vmin=0 if empty else None,
                    vmax=1 if empty else None, annot=n <= 14 if annotate is None else annotate, fmt=".2f",
                    annot_kws={"fontsize": 6}, xticklabels=labels, yticklabels=labels,
                    cbar_kws={"shrink": 0.75, "label": name})
        ax.hlines(bounds, 0, n, color="white", linewidth=2)
        ax.vlines(bounds, 0, n, color="white", linewidth=2)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", labelrotation=90)
        ax.tick_params(axis="y", labelrotation=0)
        for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for tick, group in zip(tick_labels, groups):
                tick.set_color(group_color(group))
        ax.set_title(name, fontsize=10)
    fig.legend(handles=group_legend(list(groups)), loc="outside lower center", ncol=7, fontsize=8,
               frameon=False, title="tick colors: group of the model")
    if title:
        fig.suptitle(title)
    return fig
