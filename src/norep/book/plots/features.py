"""Figures of the feature-overlap chapter: mixed embeddings and compression curves (Fig 6)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from norep.book.plots.style import CATEGORY_COLORS, group_legend


def mixed_embeddings(curves: pd.DataFrame, gains: pd.DataFrame, title: str | None = None) -> Figure:
    """Probe accuracy against the base's share of a mix, and the gain of the 50/50 mix (Fig 6).

    Args:
        curves: One row per (partner, share): ``partner``, ``category``, ``share``
            (fraction) and ``accuracy`` (fraction), drawn as thin lines per partner
            and a thick category mean.
        gains: One row per category (the index, Reinit to Dataset) with ``gain``,
            ``gain_low`` and ``gain_high`` (fractions), drawn as points with intervals.
        title: The figure's title.

    Returns:
        The figure.

    Example:
        >>> curves = pd.DataFrame({"partner": ["a", "a"], "category": ["Reinit"] * 2,
        ...                        "share": [0.0, 1.0], "accuracy": [0.8, 0.82]})
        >>> gains = pd.DataFrame({"gain": [0.01], "gain_low": [0.0], "gain_high": [0.02]},
        ...                      index=["Reinit"])
        >>> fig = mixed_embeddings(curves, gains)
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
    data = curves.assign(share=100 * curves["share"], accuracy=100 * curves["accuracy"])
    palette = {c: CATEGORY_COLORS[c] for c in data["category"].unique()}
    sns.lineplot(data, x="share", y="accuracy", hue="category", units="partner", estimator=None,
                 palette=palette, alpha=0.3, linewidth=0.8, legend=False, ax=left)
    sns.lineplot(data, x="share", y="accuracy", hue="category", errorbar=None, palette=palette,
                 linewidth=2.5, marker="o", legend=False, ax=left)
    left.set(xlabel="share of the base's dimensions in the mix (%)", ylabel="probe test accuracy (%)",
             title="Mixed embeddings (thin: each partner; thick: category mean)")
    for x, (category, row) in enumerate(gains.iterrows()):
        right.errorbar([x], [100 * row["gain"]], yerr=[[100 * (row["gain"] - row["gain_low"])],
                                                        [100 * (row["gain_high"] - row["gain"])]],
                       fmt="D", color=CATEGORY_COLORS[category], capsize=4)
    right.axhline(0, color="0.5", linestyle="--", linewidth=1)
    right.set_xticks(range(len(gains)), gains.index)
    right.set(ylabel="50/50 mix − better model alone (points)", title="Gain of the 50/50 mix")
    fig.legend(handles=group_legend(list(gains.index)), loc="outside right center")
    if title:
        fig.suptitle(title)
    return fig


def compression_curves(curves: pd.DataFrame, target: float, title: str | None = None) -> Figure:
    """Probe accuracy of the top-k diverse dimensions against k, one line per pair (Fig 6 right).

    Args:
        curves: One row per (partner, k): ``partner``, ``category``, ``k`` and
            ``accuracy`` (fraction).
        target: The target accuracy (fraction), drawn as a dashed line.
        title: The figure's title.

    Returns:
        The figure.

    Example:
        >>> curves = pd.DataFrame({"partner": ["a", "a"], "category": ["Dataset"] * 2,
        ...                        "k": [8, 16], "accuracy": [0.7, 0.8]})
        >>> fig = compression_curves(curves, 0.75)
    """
    fig, ax = plt.subplots(figsize=(7, 4.3), layout="constrained")
    data = curves.assign(accuracy=100 * curves["accuracy"])
    palette = {c: CATEGORY_COLORS[c] for c in data["category"].unique()}
    sns.lineplot(data, x="k", y="accuracy", hue="category", units="partner", estimator=None,
                 palette=palette, marker="o", alpha=0.6, ax=ax)
    ax.axhline(100 * target, color="0.3", linestyle="--", linewidth=1, label="target")
    ax.set(xlabel="top-k dimensions of base + partner, by diversity", ylabel="probe test accuracy (%)",
           title=title or "Compression")
    ax.legend(loc="lower right")
    return fig
