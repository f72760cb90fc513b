"""Figures of the chapter "Real models, real errors": ImageNet-X and model-vs-human.

The confidence-angle histograms of that chapter are
:func:`norep.book.plots.specialization.theta_histograms`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from norep.book.plots.style import group_color, group_legend

PAIR_PANELS = {
    "error_inconsistency": ("error inconsistency (higher = more different errors)", "viridis"),
    "kappa": ("error consistency kappa (lower = more different errors)", "viridis_r"),
}
"""Title and color map of each pair metric's heatmap."""

RANGE_COLORS = {"nature": "tab:green", "anthropogenic": "tab:purple"}
"""A color per class range."""

GROUP_STYLES = {"model-vs-model": ("s", "tab:blue"), "human-vs-human": ("^", "tab:orange"),
                "model-vs-human": ("o", "tab:green")}
"""Marker and color of each kind of observer pair."""


def _intervals(ax: Axes, values, low, high, y, color, size: float = 36, **scatter) -> None:
    """Draw values as dots on rows ``y`` with their intervals as horizontal lines."""
    ax.hlines(y, low, high, color=color, linewidth=scatter.pop("linewidth", 2))
    ax.scatter(values, y, color=color, s=size, zorder=3, **scatter)


def pair_heatmaps(matrices: dict[str, tuple[pd.DataFrame, pd.DataFrame]], title: str) -> Figure:
    """One annotated heatmap per pair metric, all pairs of a few models.

    Args:
        matrices: Per metric (a key of :data:`PAIR_PANELS`): the symmetric values (NaN
            on the diagonal) and the text of each cell, indexed by model names.
        title: The figure's title.

    Returns:
        The figure.

    Example:
        >>> values = pd.DataFrame([[np.nan, 0.1], [0.1, np.nan]], ["a", "b"], ["a", "b"])
        >>> text = pd.DataFrame([["", "0.1"], ["0.1", ""]], ["a", "b"], ["a", "b"])
        >>> fig = pair_heatmaps({"kappa": (values, text)}, "two models")
    """
    fig, axes = plt.subplots(1, len(matrices), figsize=(10, 4.6), layout="constrained",
                             squeeze=False)
    for ax, (metric, (values, text)) in zip(axes[0], matrices.items()):
        panel, cmap = PAIR_PANELS[metric]
        sns.heatmap(values, annot=text, fmt="", cmap=cmap, cbar=False, square=True, ax=ax,
                    annot_kws={"fontsize": 9})
        ax.tick_params(axis="x", labelrotation=0)
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_title(panel, fontsize=10)
    fig.suptitle(title)
    return fig


def pair_ranking(table: pd.DataFrame) -> Figure:
    """Error inconsistency and kappa of every pair, with what the accuracies alone give.

    Args:
        table: One row per pair, most different first, with columns ``pair``,
            ``divergence``, ``category`` (None when undecidable), ``error_inconsistency``,
            ``kappa`` (each with ``_low`` and ``_high``), ``floor`` and ``independent``
            (error inconsistency at the least the accuracies allow, and under
            independent errors).

    Returns:
        The figure, the most different pair on top.

    Example:
        >>> table = pd.DataFrame({"pair": ["a – b"], "divergence": ["Framework"],
        ...     "category": ["Framework"], "error_inconsistency": [0.2],
        ...     "error_inconsistency_low": [0.19], "error_inconsistency_high": [0.21],
        ...     "kappa": [0.5], "kappa_low": [0.49], "kappa_high": [0.51],
        ...     "floor": [0.05], "independent": [0.3]})
        >>> fig = pair_ranking(table)
    """
    shown = table.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(shown))
    groups = shown["category"].fillna("undecidable").tolist()
    colors = [group_color(g) for g in groups]
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(10, 0.6 * len(shown) + 2),
                             layout="constrained")
    for ax, metric, title in zip(axes, ("error_inconsistency", "kappa"),
                                 ("error inconsistency\n(share of images exactly one gets right)",
                                  "error consistency kappa\n(0 = independent errors)")):
        _intervals(ax, shown[metric], shown[f"{metric}_low"], shown[f"{metric}_high"], y,
                   colors, linewidth=3, size=45)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].scatter(shown["floor"], y, marker="|", s=120, color="0.2",
                    label="smallest possible given the accuracies")
    axes[0].scatter(shown["independent"], y, marker="x", s=40, color="0.2",
                    label="if errors were independent")
    axes[0].set_xlim(0, None)
    axes[0].set_yticks(y, [f"{p}\n{d}" for p, d in zip(shown["pair"], shown["divergence"])],
                       fontsize=8)
    handles = group_legend(groups) + axes[0].get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle("ImageNet-X pairs, most different errors on top (95% bootstrap intervals)")
    return fig


def range_differences(table: pd.DataFrame, specialized: list[str]) -> Figure:
    """Accuracy difference of every pair on each class range, with intervals.

    Args:
        table: One row per (pair, range) with columns ``pair``, ``group`` (a key of
            :data:`RANGE_COLORS`), ``n`` (images), ``difference``, ``low`` and ``high``
            (points, first model minus second).
        specialized: The pairs to mark as specialized.

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"pair": "a – b", "group": ["nature", "anthropogenic"],
        ...     "n": 10, "difference": [1.0, -1.0], "low": [0.5, -1.5], "high": [1.5, -0.5]})
        >>> fig = range_differences(table, ["a – b"])
    """
    pairs = sorted(set(table["pair"]))
    y = np.arange(len(pairs))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(pairs) + 1.8), layout="constrained")
    for offset, (group, color) in zip((0.15, -0.15), RANGE_COLORS.items()):
        rows = table[table["group"] == group].set_index("pair").loc[pairs]
        _intervals(ax, rows["difference"], rows["low"], rows["high"], y + offset, color,
                   label=f"{group} classes ({int(rows['n'].iloc[0])} images)")
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(y, [f"{p}{'  (specialized)' if p in specialized else ''}" for p in pairs])
    ax.set_xlabel("accuracy of the first model minus the second (percentage points)")
    ax.set_title("ImageNet-X: accuracy difference per class range (95% bootstrap intervals)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def part_differences(parts: dict[str, pd.DataFrame], overall: dict[str, float],
                     reference: str, min_images: int = 300) -> Figure:
    """Where the reference wins and loses: one panel per kind of part, one row per part.

    Args:
        parts: Per panel title, one row per (pair, part) with columns ``pair``,
            ``group`` (the part), ``n`` (its images), ``difference``, ``low`` and
            ``high`` (points, the reference minus the other model).
        overall: The overall difference of each pair (points), drawn dashed.
        reference: The reference's name, for the axis label and the title.
        min_images: Parts with fewer images are left out.

    Returns:
        The figure.

    Example:
        >>> part = pd.DataFrame({"pair": "a – b", "group": ["pose", "color"], "n": 400,
        ...     "difference": [1.0, -1.0], "low": [0.5, -1.5], "high": [1.5, -0.5]})
        >>> fig = part_differences({"factor": part}, {"a – b": 0.2}, "a")
    """
    pairs = list(overall)
    colors = dict(zip(pairs, plt.get_cmap("tab10").colors))
    fig, axes = plt.subplots(len(parts), 1, figsize=(8.5, 6 * len(parts)), layout="constrained",
                             squeeze=False)
    for ax, (title, table) in zip(axes[:, 0], parts.items()):
        sizes = table.drop_duplicates("group").set_index("group")["n"]
        shown = sizes[sizes >= min_images].sort_values().index
        y = np.arange(len(shown))
        for k, pair in enumerate(pairs):
            rows = table[table["pair"] == pair].set_index("group").loc[shown]
            _intervals(ax, rows["difference"], rows["low"], rows["high"],
                       y + 0.25 * (k - (len(pairs) - 1) / 2), colors[pair], size=20,
                       linewidth=1.5, label=pair)
            ax.axvline(overall[pair], color=colors[pair], linestyle="--", linewidth=1)
        ax.axvline(0, color="0.3", linewidth=1)
        ax.set_yticks(y, [f"{g} ({sizes[g]})" for g in shown], fontsize=9)
        ax.set_xlabel(f"accuracy of {reference} minus the other (points)")
        ax.set_title(f"by {title} (images in parentheses)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"ImageNet-X: where {reference} wins and loses "
                 "(95% bootstrap intervals; dashed: overall difference)")
    return fig


def consistency_by_set(consistency: pd.DataFrame, level: float = 0.95) -> Figure:
    """Mean kappa per kind of observer pair on every model-vs-human set.

    Args:
        consistency: One row per (set, kind of pair) with columns ``dataset``,
            ``group`` (a key of :data:`GROUP_STYLES`), ``kappa``, ``low`` and ``high``.
        level: Coverage of the intervals, for the title.

    Returns:
        The figure, sets sorted by their model-vs-human kappa.

    Example:
        >>> consistency = pd.DataFrame({"dataset": "sketch", "group": list(GROUP_STYLES),
        ...     "kappa": [0.3, 0.4, 0.1], "low": [0.2, 0.3, 0.0], "high": [0.4, 0.5, 0.2]})
        >>> fig = consistency_by_set(consistency)
    """
    kappa = consistency.pivot(index="dataset", columns="group", values="kappa")
    order = kappa["model-vs-human"].sort_values().index
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(order) + 1.8), layout="constrained")
    for offset, (group, (marker, color)) in zip((0.22, 0.0, -0.22), GROUP_STYLES.items()):
        rows = consistency[consistency["group"] == group].set_index("dataset").loc[order]
        _intervals(ax, rows["kappa"], rows["low"], rows["high"], y + offset, color,
                   marker=marker, label=f"{group} (mean {kappa[group].mean():.2f})")
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(y, order)
    ax.set_xlabel("error consistency kappa, mean over pairs (0 = independent errors, "
                  "1 = identical)")
    ax.set_title(f"model-vs-human: error consistency on {len(order)} out-of-distribution "
                 f"sets\n(kappa per condition, averaged over conditions; {level:.0%} "
                 "intervals: observers and images resampled)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig

