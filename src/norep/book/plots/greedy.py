"""Figures of the low-accuracy chapter: greedy ensemble curves and ensemble gains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.book.plots.style import group_color, group_legend
from norep.zoo.roster import BASE_LABEL


def greedy_curves(steps: pd.DataFrame, cap: float | None = None, ncols: int = 3) -> Figure:
    """Greedy ensembles: test accuracy as members are added, one panel per run (Fig. 5).

    A line joins the ensemble's accuracy after each addition, with its interval as a
    band; each added member's marker is colored by its category relative to the anchor
    and labeled with its name; a hollow marker below shows the member's own accuracy.

    Args:
        steps: One row per (run, step) with columns ``panel`` (the run's title, panels
            in order of first appearance), ``size`` (members so far, 1 = the anchor
            alone), ``name`` (the member added), ``group`` (its category relative to
            the anchor; :data:`BASE_LABEL` for the anchor itself), ``member_accuracy``,
            ``ensemble_accuracy``, and optionally ``low`` and ``high``; accuracies in
            percent.
        cap: The accuracy cap of the candidates (percent), drawn as a dotted line.
        ncols: Panels per row.

    Returns:
        The figure.

    Example:
        >>> steps = pd.DataFrame({"panel": "anchor A", "size": [1, 2], "name": ["A", "b"],
        ...                       "group": [BASE_LABEL, "Dataset"], "member_accuracy": [90.0, 85.0],
        ...                       "ensemble_accuracy": [90.0, 91.0]})
        >>> fig = greedy_curves(steps)
    """
    panels = list(dict.fromkeys(steps["panel"]))
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols + 1.8, 3.9 * nrows), sharey=True,
                             layout="constrained", squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.ravel(), panels):
        rows = steps[steps["panel"] == panel].sort_values("size")
        colors = [group_color(g) for g in rows["group"]]
        if {"low", "high"} <= set(rows.columns):
            ax.fill_between(rows["size"], rows["low"], rows["high"], color="0.85", zorder=0)
        ax.plot(rows["size"], rows["ensemble_accuracy"], color="0.3", zorder=1)
        ax.scatter(rows["size"], rows["ensemble_accuracy"], c=colors, s=45, zorder=3)
        added = rows["size"] > 1
        ax.scatter(rows["size"][added], rows["member_accuracy"][added], facecolors="white",
                   edgecolors=[c for c, a in zip(colors, added) if a], s=30, zorder=3, linewidths=1.4)
        for size, name, value in zip(rows["size"], rows["name"], rows["ensemble_accuracy"]):
            ax.annotate(name, (size, value), xytext=(3, 6), textcoords="offset points", fontsize=7.5, rotation=20)
        if cap is not None:
            ax.axhline(cap, color="0.4", linestyle=":", linewidth=1)
        ax.set_xticks(rows["size"])
        ax.set_xlim(0.7, rows["size"].max() + 0.9)
        ax.set_xlabel("members in the ensemble")
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    handles = group_legend(list(steps["group"]))
    for handle in handles:
        group = handle.get_label()
        handle.set_label("anchor" if group == BASE_LABEL else f"added: {group}")
    handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.3",
                          label="the added member alone"))
    if cap is not None:
        handles.append(Line2D([], [], color="0.4", linestyle=":", label="candidates' accuracy cap"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    return fig


def ensemble_gains(table: pd.DataFrame, max_labels: int | None = None) -> Figure:
    """Two-member ensembles of an anchor with each weaker model: gain against the partner's accuracy.

    One panel per anchor; the points are a seaborn scatter colored by group, each with
    its interval as a vertical line.

    Args:
        table: One row per (anchor, partner) with columns ``panel`` (the anchor's
            title, panels in order of first appearance), ``accuracy`` (the partner's
            test accuracy, percent), ``gain`` (ensemble accuracy minus the anchor's,
            points), ``low`` and ``high`` (its interval), ``group`` (the partner's
            category relative to the anchor, or :data:`CONTROL_LABEL`); optionally
            ``label`` (a name written next to the point).
        max_labels: Write the labels only when the table has at most this many rows
            (None: always; 0: never).

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"panel": "anchor A", "accuracy": [85.0], "gain": [0.5], "low": [0.2],
        ...                       "high": [0.8], "group": ["Dataset"], "label": ["b"]})
        >>> fig = ensemble_gains(table)
    """
    panels = list(dict.fromkeys(table["panel"]))
    labeled = "label" in table and (max_labels is None or len(table) <= max_labels)
    palette = {group: group_color(group) for group in table["group"]}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels) + 1.8, 4.0), sharey=True,
                             layout="constrained", squeeze=False)
    for ax, panel in zip(axes[0], panels):
        rows = table[table["panel"] == panel]
        ax.axhline(0, color="0.3", linewidth=1)
        ax.vlines(rows["accuracy"], rows["low"], rows["high"], linewidth=1.3,
                  colors=[palette[g] for g in rows["group"]])
        sns.scatterplot(rows, x="accuracy", y="gain", hue="group", palette=palette, s=36,
                        linewidth=0, legend=False, zorder=3, ax=ax)
        for x, y, label in zip(rows["accuracy"], rows["gain"], rows["label"]) if labeled else ():
            ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
        ax.set(xlabel="partner's test accuracy (%)", ylabel="")
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("ensemble minus anchor (points)")
    fig.legend(handles=group_legend(list(table["group"])), loc="outside right center", fontsize=8, frameon=False)
    return fig
