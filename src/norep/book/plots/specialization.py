"""Figures of the specialization chapter: theta histograms, pair effects, who wins where, pair sets."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.book.plots.style import FIRST_MODEL_COLOR, group_color, group_legend


def theta_histograms(angles: pd.DataFrame, bins: int = 18) -> Figure:
    """Histograms of the confidence angle theta, one panel per pair, split by the right model.

    Each panel holds the examples on which exactly one model of a pair (a, b) is right,
    with theta = arctan(conf_b / conf_a) in degrees: left of 45 degrees a was the more
    confident, right of it b. The examples a gets right are drawn in dark gray, those
    b gets right in b's category color (seaborn step histograms). When the right model
    is also the confident one, the two histograms pull apart (the paper's Fig. 3).

    Args:
        angles: One row per (pair, example) with columns ``panel`` (the pair's title,
            panels in order of first appearance), ``group`` (b's category, a key of
            :data:`CATEGORY_COLORS`), ``theta`` (degrees), ``a_right`` (bool), ``name_a``
            and ``name_b`` (display names).
        bins: Number of bins over [0, 90] degrees.

    Returns:
        The figure.

    Example:
        >>> angles = pd.DataFrame({"panel": "base vs b", "group": "Dataset", "theta": [30.0, 60.0],
        ...                        "a_right": [True, False], "name_a": "base", "name_b": "b"})
        >>> fig = theta_histograms(angles)
    """
    panels = list(dict.fromkeys(angles["panel"]))
    edges = np.linspace(0, 90, bins + 1)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels) + 0.4, 3.9), sharey=True,
                             layout="constrained", squeeze=False)
    tallest = 1
    for ax, panel in zip(axes[0], panels):
        rows = angles[angles["panel"] == panel]
        a_right, first = rows["a_right"].to_numpy(bool), rows.iloc[0]
        sides = [f"only {first['name_a']} right ({a_right.sum()})",
                 f"only {first['name_b']} right ({(~a_right).sum()})"]
        sns.histplot(rows.assign(right=np.where(a_right, *sides)), x="theta", hue="right", hue_order=sides,
                     palette=[FIRST_MODEL_COLOR, group_color(first["group"])], bins=edges, element="step",
                     alpha=0.35, linewidth=1.6, ax=ax)
        tallest = max([tallest] + [np.histogram(rows["theta"][a_right == side], edges)[0].max() for side in (1, 0)])
        sns.move_legend(ax, "upper center", title=None, fontsize=7)
        ax.axvline(45, color="0.3", linestyle="--", linewidth=1)
        ax.set(xticks=[0, 15, 30, 45, 60, 75, 90], xlim=(0, 90), xlabel="theta (degrees)", ylabel="")
        ax.set_title(panel, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylim(0, 1.35 * tallest)  # room for the legends above the bars
    axes[0, 0].set_ylabel("examples with exactly one model right")
    fig.suptitle(r"confidence angle $\theta = \arctan(c_b / c_a)$ on the examples exactly one model gets right"
                 "\n(below 45°: the first model of the pair is the more confident; above: the second)", fontsize=10)
    return fig


def pair_effects(table: pd.DataFrame, xlabel: str, reference: float | None = None,
                 title: str | None = None) -> Figure:
    """Dot plot of one value per pair (or per ensemble) with its interval, colored by category.

    Args:
        table: One row per item in display order (top to bottom), with columns
            ``label``, ``group`` (a key of :data:`CATEGORY_COLORS`, or
            :data:`CONTROL_LABEL`), ``value``, ``low`` and ``high``; optionally
            ``in_band`` (bool: hollow markers are out of the band).
        xlabel: The x axis label (the value and its unit).
        reference: An x value to mark with a dashed line (e.g. 0 or 50), or None.
        title: Optional title.

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"label": ["b"], "group": ["Dataset"], "value": [60.0], "low": [55.0],
        ...                       "high": [65.0], "in_band": [True]})
        >>> fig = pair_effects(table, "confident-right share (%)", reference=50)
    """
    rows = np.arange(len(table))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(table) + 1.5), layout="constrained")
    if reference is not None:
        ax.axvline(reference, color="0.3", linestyle="--", linewidth=1)
    colors = [group_color(group) for group in table["group"]]
    inside = table["in_band"].to_numpy(bool) if "in_band" in table else np.ones(len(table), bool)
    ax.hlines(rows, table["low"], table["high"], colors=colors, linewidth=1.6)
    ax.scatter(table["value"], rows, s=40, zorder=3, edgecolors=colors, linewidths=1.6,
               facecolors=[c if keep else "white" for c, keep in zip(colors, inside)],
               marker="o")
    ax.set_yticks(rows, table["label"], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    handles = group_legend(list(table["group"]))
    if not inside.all():
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                              markeredgecolor="0.3", label="out of band"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    return fig


def subdomain_wins(table: pd.DataFrame, unit: str = "points") -> Figure:
    """Who wins where: accuracy differences per subdomain, one panel per pair.

    With at most 40 subdomains, panels sit side by side with the subdomains as rows (a
    forest plot); with more (e.g. 1,000 ImageNet classes) they are stacked with the
    subdomain's position on the x axis. Filled dark markers: the first model wins
    (interval above 0); filled colored: the second wins; hollow: neither.

    Args:
        table: One row per (pair, subdomain) with columns ``panel`` (the pair's title,
            panels in order of first appearance), ``group`` (the second model's
            category), ``subdomain``, ``difference``, ``low``, ``high`` (accuracy of
            the first model minus the second's, with its interval) and ``winner``
            (``"a"``, ``"b"`` or ``"neither"``).
        unit: The unit of the differences, for the axis label.

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"panel": "base vs b", "group": "Dataset", "subdomain": ["tops", "footwear"],
        ...                       "difference": [2.0, -1.0], "low": [1.0, -2.0], "high": [3.0, 0.5],
        ...                       "winner": ["a", "neither"]})
        >>> fig = subdomain_wins(table)
    """
    panels = list(dict.fromkeys(table["panel"]))
    subdomains = list(dict.fromkeys(table["subdomain"]))
    forest = len(subdomains) <= 40
    if forest:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels) + 1.5, 0.28 * len(subdomains) + 1.9),
                                 sharey=True, layout="constrained", squeeze=False)
    else:
        fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.3 * len(panels) + 0.6), sharex=True,
                                 layout="constrained", squeeze=False)
    position = {s: i for i, s in enumerate(subdomains)}
    for ax, panel in zip(axes.ravel(), panels):
        rows = table[table["panel"] == panel]
        where = np.array([position[s] for s in rows["subdomain"]], float)
        if forest:
            where = len(subdomains) - 1 - where
        b_color = group_color(rows["group"].iloc[0])
        colors = np.array([FIRST_MODEL_COLOR if w == "a" else b_color if w == "b" else "0.72"
                           for w in rows["winner"]], dtype=object)
        filled = (rows["winner"] != "neither").to_numpy()
        size = 28 if forest else 8
        if forest:
            ax.axvline(0, color="0.3", linewidth=1)
            ax.hlines(where, rows["low"], rows["high"], colors=list(colors), linewidth=1.4)
            ax.scatter(rows["difference"], where, s=size, zorder=3, edgecolors=list(colors), linewidths=1.4,
                       facecolors=[c if f else "white" for c, f in zip(colors, filled)])
            ax.set_xlabel(f"accuracy difference ({unit})", fontsize=8)
            ax.grid(axis="x", alpha=0.3)
        else:
            ax.axhline(0, color="0.3", linewidth=1)
            ax.vlines(where, rows["low"], rows["high"], colors=list(colors), linewidth=0.6, alpha=0.6)
            ax.scatter(where, rows["difference"], s=size, zorder=3, edgecolors=list(colors), linewidths=0.8,
                       facecolors=[c if f else "white" for c, f in zip(colors, filled)])
            ax.set_ylabel(f"difference ({unit})", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        ax.set_title(panel, fontsize=9)
    if forest:
        axes[0, 0].set_yticks(np.arange(len(subdomains))[::-1], [str(s) for s in subdomains], fontsize=8)
    else:
        axes[-1, 0].set_xlabel("subdomain (in order)")
    handles = [Line2D([], [], marker="o", ls="", color=FIRST_MODEL_COLOR, label="first model wins"),
               Line2D([], [], marker="o", ls="", color="0.5", label="second model wins (its category color)"),
               Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.72",
                      label="neither (interval includes 0)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


def pair_sets(pairs: pd.DataFrame, means: pd.DataFrame, xlabel: str, reference: str | None = None,
              highlight: tuple[str, str] | None = None, title: str | None = None) -> Figure:
    """Every pair's value by set of pairs, with each set's mean and its interval.

    One row per set (top to bottom in the order of ``means``): the pairs as jittered
    dots in the set's color (:func:`group_color`, or the Reinit color for the
    ``reference`` set), the mean as a black diamond with its interval below them, and a
    dashed line at the reference set's mean. The highlighted pair is ringed.

    Args:
        pairs: One row per pair with columns ``kind`` (its set), ``value``,
            ``model_a`` and ``model_b``.
        means: Indexed by set, with columns ``value``, ``low`` and ``high``.
        xlabel: The x axis label (the value and its unit).
        reference: The set the others are compared with (its mean is marked), or None.
        highlight: A pair (model_a, model_b) to ring, or None.
        title: Optional title.

    Returns:
        The figure.

    Example:
        >>> pairs = pd.DataFrame({"kind": ["seeds", "seeds", "Dataset"], "value": [4.0, 5.0, 6.0],
        ...                       "model_a": ["a", "a", "b"], "model_b": ["b", "c", "d"]})
        >>> means = pd.DataFrame({"value": [4.5, 6.0], "low": [4.0, 6.0], "high": [5.0, 6.0]},
        ...                      index=["seeds", "Dataset"])
        >>> fig = pair_sets(pairs, means, "class spread (points)", reference="seeds", highlight=("b", "d"))
    """
    rng = np.random.default_rng(0)
    kinds = list(means.index)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(kinds) + 1.6), layout="constrained")
    for row, kind in zip(range(len(kinds) - 1, -1, -1), kinds):
        inside = pairs[pairs["kind"] == kind]
        color = group_color("Reinit" if kind == reference else kind)
        ax.scatter(inside["value"], row + 0.12 + rng.uniform(-0.1, 0.1, len(inside)), s=14, color=color,
                   alpha=0.6, linewidths=0)
        mean = means.loc[kind]
        ax.hlines(row - 0.18, mean["low"], mean["high"], color="black", linewidth=1.6)
        ax.scatter([mean["value"]], [row - 0.18], marker="D", s=36, color="black", zorder=3)
        if highlight is not None:
            chosen = inside[(inside["model_a"] == highlight[0]) & (inside["model_b"] == highlight[1])]
            ax.scatter(chosen["value"], np.full(len(chosen), row + 0.12), s=110, facecolors="none",
                       edgecolors="crimson", linewidths=1.6, zorder=4)
    if reference is not None:
        ax.axvline(means.loc[reference, "value"], color="0.3", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(kinds) - 1, -1, -1), kinds, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    handles = [Line2D([], [], marker="o", ls="", color="0.5", alpha=0.6, label="one pair"),
               Line2D([], [], marker="D", color="black", label="mean, crossed interval")]
    if highlight is not None:
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="crimson",
                              markersize=10, label="the showcased pair"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    return fig
