"""Figures of the book: one function per figure family, each returning a matplotlib Figure.

Every figure colors models and pairs by divergence category with :data:`CATEGORY_COLORS`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from norep.roster import BASE_LABEL, CONTROL_LABEL  # the group labels, defined once; re-exported here
from norep.zoo import CATEGORIES

CATEGORY_COLORS = {BASE_LABEL: "black", **dict(zip(CATEGORIES, plt.get_cmap("tab10").colors))}
"""A color for the base and one per divergence category."""


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


# -- error inconsistency and ensembles (Figs 1 and 2) -----------------------------------

GROUP_COLORS = {**CATEGORY_COLORS, CONTROL_LABEL: "0.6"}
""":data:`CATEGORY_COLORS` plus a grey for the accuracy controls."""
_SUMMARY_MARKERS = ("D", "s", "^", "v")


def _group_color(group: object) -> object:
    """The color of a group; a neutral grey for a group without one (e.g. undecidable)."""
    return GROUP_COLORS.get(group, "0.75")


def _group_legend(groups: list) -> list[Line2D]:
    """Legend handles for the groups present, in palette order."""
    present = [g for g in GROUP_COLORS if g in set(groups)]
    present += [g for g in dict.fromkeys(groups) if g not in GROUP_COLORS]
    return [Line2D([], [], marker="o", linestyle="", color=_group_color(g), label=str(g)) for g in present]


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
        for (name, summary), offset, marker in zip(summaries.items(), offsets, _SUMMARY_MARKERS):
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
               for name, m in zip(summaries, _SUMMARY_MARKERS)]
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
    """All-pairs heatmaps of a zoo ordered by group (Fig 1, all pairs).

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
    annotate = n <= 14 if annotate is None else annotate
    side = max(3.6, 0.34 * n + 1.6)
    fig, axes = plt.subplots(1, len(matrices), figsize=(side * len(matrices) + 1.2, side + 0.9),
                             layout="constrained", squeeze=False)
    bounds = [k for k in range(1, n) if groups[k] != groups[k - 1]]
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        matrix = np.asarray(matrix, dtype=float)
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=(cmaps or {}).get(name, "viridis"))
        fig.colorbar(image, ax=ax, shrink=0.75, label=name)
        if annotate:
            for a in range(n):
                for b in range(n):
                    if np.isfinite(matrix[a, b]):
                        shade = np.mean(image.cmap(image.norm(matrix[a, b]))[:3])
                        ax.text(b, a, f"{matrix[a, b]:.2f}", ha="center", va="center", fontsize=6,
                                color="black" if shade > 0.5 else "white")
        for k in bounds:
            ax.axhline(k - 0.5, color="white", linewidth=2)
            ax.axvline(k - 0.5, color="white", linewidth=2)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for tick, group in zip(tick_labels, groups):
                tick.set_color(_group_color(group))
        ax.set_title(name, fontsize=10)
    fig.legend(handles=_group_legend(list(groups)), loc="outside lower center", ncol=7, fontsize=8,
               frameon=False, title="tick colors: group of the model")
    if title:
        fig.suptitle(title)
    return fig


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
        colors = [_group_color(g) for g in table["group"]]
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
    handles = _group_legend(groups) + [Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
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
    colors = [_group_color(g) for g in calibration["group"]]
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
    axes[2].scatter(x, y, s=24, color=[_group_color(g) for g in ensembles["group"]], zorder=3)
    if len(x):
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        axes[2].plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="no change")
        axes[2].legend(fontsize=7, loc="upper left")
    axes[2].set_xlabel("ensemble accuracy, T = 1 (%)")
    axes[2].set_ylabel("ensemble accuracy, T fitted (%)")
    axes[2].set_title("per pair: two-model ensembles", fontsize=9)
    axes[2].grid(alpha=0.3)
    fig.legend(handles=_group_legend(list(calibration["group"]) + list(ensembles["group"])),
               loc="outside lower center", ncol=7, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


# -- specialization (Figs 3 and 4) and low-accuracy ensembles (Fig 5) ------------------

_FIRST_MODEL_COLOR = "0.25"
"""The first model of a pair (the base, or a greedy anchor): a dark grey."""


def theta_histograms(angles: pd.DataFrame, bins: int = 18) -> Figure:
    """Histograms of the confidence angle theta, one panel per pair, split by the right model.

    Each panel holds the examples on which exactly one model of a pair (a, b) is right,
    with theta = arctan(conf_b / conf_a) in degrees: left of 45 degrees a was the more
    confident, right of it b. The examples a gets right are drawn in dark gray, those
    b gets right in b's category color. When the right model is also the confident
    one, the two histograms pull apart (the paper's Fig. 3).

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
    for ax, panel in zip(axes[0], panels):
        rows = angles[angles["panel"] == panel]
        a_right = rows["a_right"].to_numpy(bool)
        first = rows.iloc[0]
        for mask, color, name in ((a_right, _FIRST_MODEL_COLOR, first["name_a"]),
                                  (~a_right, _group_color(first["group"]), first["name_b"])):
            ax.hist(rows["theta"][mask], bins=edges, color=color, alpha=0.35)
            ax.hist(rows["theta"][mask], bins=edges, color=color, histtype="step", linewidth=1.6,
                    label=f"only {name} right ({mask.sum()})")
        ax.axvline(45, color="0.3", linestyle="--", linewidth=1)
        ax.set_xticks([0, 15, 30, 45, 60, 75, 90])
        ax.set_xlim(0, 90)
        ax.set_xlabel("theta (degrees)")
        ax.set_title(panel, fontsize=9)
        ax.legend(fontsize=7, loc="upper center")
        ax.grid(axis="y", alpha=0.3)
    tallest = max(np.histogram(angles["theta"][(angles["panel"] == panel) & (angles["a_right"] == side)],
                               bins=edges)[0].max(initial=0) for panel in panels for side in (True, False))
    axes[0, 0].set_ylim(0, 1.35 * max(tallest, 1))  # room for the legends above the bars
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
    colors = [_group_color(group) for group in table["group"]]
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
    handles = _group_legend(list(table["group"]))
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
        b_color = _group_color(rows["group"].iloc[0])
        colors = np.array([_FIRST_MODEL_COLOR if w == "a" else b_color if w == "b" else "0.72"
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
    handles = [Line2D([], [], marker="o", ls="", color=_FIRST_MODEL_COLOR, label="first model wins"),
               Line2D([], [], marker="o", ls="", color="0.5", label="second model wins (its category color)"),
               Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.72",
                      label="neither (interval includes 0)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


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
        colors = [_group_color(g) for g in rows["group"]]
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
    handles = _group_legend(list(steps["group"]))
    for handle in handles:
        group = handle.get_label()
        handle.set_label("anchor" if group == BASE_LABEL else f"added: {group}")
    handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.3",
                          label="the added member alone"))
    if cap is not None:
        handles.append(Line2D([], [], color="0.4", linestyle=":", label="candidates' accuracy cap"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    return fig


def ensemble_gains(table: pd.DataFrame) -> Figure:
    """Two-member ensembles of an anchor with each weaker model: gain against the partner's accuracy.

    Args:
        table: One row per (anchor, partner) with columns ``panel`` (the anchor's
            title, panels in order of first appearance), ``accuracy`` (the partner's
            test accuracy, percent), ``gain`` (ensemble accuracy minus the anchor's,
            points), ``low`` and ``high`` (its interval), ``group`` (the partner's
            category relative to the anchor, or :data:`CONTROL_LABEL`); optionally
            ``label`` (a name written next to the point).

    Returns:
        The figure.

    Example:
        >>> table = pd.DataFrame({"panel": "anchor A", "accuracy": [85.0], "gain": [0.5], "low": [0.2],
        ...                       "high": [0.8], "group": ["Dataset"], "label": ["b"]})
        >>> fig = ensemble_gains(table)
    """
    panels = list(dict.fromkeys(table["panel"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels) + 1.8, 4.0), sharey=True,
                             layout="constrained", squeeze=False)
    for ax, panel in zip(axes[0], panels):
        rows = table[table["panel"] == panel]
        colors = [_group_color(g) for g in rows["group"]]
        ax.axhline(0, color="0.3", linewidth=1)
        ax.vlines(rows["accuracy"], rows["low"], rows["high"], colors=colors, linewidth=1.3)
        ax.scatter(rows["accuracy"], rows["gain"], c=colors, s=36, zorder=3)
        if "label" in rows:
            for x, y, label in zip(rows["accuracy"], rows["gain"], rows["label"]):
                ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
        ax.set_xlabel("partner's test accuracy (%)")
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("ensemble minus anchor (points)")
    fig.legend(handles=_group_legend(list(table["group"])), loc="outside right center", fontsize=8, frameon=False)
    return fig
