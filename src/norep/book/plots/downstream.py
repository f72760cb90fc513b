"""Figures of the chapter "Downstream transfer" (Fig 7): single and stacked embeddings."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from norep.book.plots.style import group_color, group_legend


def pair_accuracy_heatmaps(matrices: dict[str, pd.DataFrame], title: str,
                           labels: dict[str, str] | None = None) -> Figure:
    """One heatmap per downstream set: test score (%) of every pair, singles on the diagonal.

    Args:
        matrices: Per downstream set, a square table indexed by model names.
        title: The figure's title.
        labels: Per downstream set, its colour bar's label (default "test accuracy (%)";
            e.g. "test 11-point mAP (%)" for a multi-label set).

    Returns:
        The figure.

    Example:
        >>> m = pd.DataFrame([[90.0, 92.0], [92.0, 89.0]], ["a", "b"], ["a", "b"])
        >>> fig = pair_accuracy_heatmaps({"digits": m}, "two models")
    """
    size = max(len(m) for m in matrices.values())
    fig, axes = plt.subplots(1, len(matrices), squeeze=False, layout="constrained",
                             figsize=(5.5 * len(matrices), 5.0 if size <= 12 else 6.5))
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        sns.heatmap(matrix, annot=size <= 12, fmt=".1f", cmap="viridis", square=True, ax=ax,
                    cbar_kws={"shrink": 0.7, "label": (labels or {}).get(name, "test accuracy (%)")},
                    annot_kws={"fontsize": 7})
        ax.tick_params(labelsize=7)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    return fig


def upstream_vs_downstream(table: pd.DataFrame, title: str, labels: dict[str, str] | None = None) -> Figure:
    """Downstream against upstream test score of each model, one panel per downstream set.

    Args:
        table: One row per (model, set) with columns ``set``, ``model``, ``group``,
            ``upstream`` and ``downstream`` (scores in %).
        title: The figure's title.
        labels: Per downstream set, its y axis label (default "downstream test accuracy (%)").

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"set": "digits", "model": ["a", "b"], "group": "Reinit",
        ...                       "upstream": [88.0, 87.0], "downstream": [90.0, 91.0]})
        >>> fig = upstream_vs_downstream(table, "two models")
    """
    sets = list(dict.fromkeys(table["set"]))
    fig, axes = plt.subplots(1, len(sets), squeeze=False, figsize=(5 * len(sets), 4.2),
                             layout="constrained")
    groups = list(dict.fromkeys(table["group"]))
    for ax, name in zip(axes[0], sets):
        rows = table[table["set"] == name]
        sns.scatterplot(rows, x="upstream", y="downstream", hue="group", legend=False, s=50,
                        palette={g: group_color(g) for g in groups}, ax=ax)
        best = rows.loc[rows["upstream"].idxmax()]
        ax.annotate(best["model"], (best["upstream"], best["downstream"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
        ax.set(title=name, xlabel="upstream test accuracy (%)",
               ylabel=(labels or {}).get(name, "downstream test accuracy (%)"))
        ax.grid(alpha=0.3)
    fig.legend(handles=group_legend(groups), loc="outside lower center", ncol=len(groups),
               fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig
