"""Figure of "which difference matters": the fitted effect of each methodology field."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from norep.book.plots.style import FIRST_MODEL_COLOR


def field_effects_figure(tables: dict[str, pd.DataFrame]) -> Figure:
    """One panel per metric: each term's coefficient as a dot with its interval as a bar.

    Args:
        tables: Per metric label, a table indexed by term with columns ``estimate``,
            ``low`` and ``high``.

    Returns:
        The figure.

    Example:
        >>> t = pd.DataFrame({"estimate": [0.1, -0.2], "low": [0.0, -0.3], "high": [0.2, -0.1]},
        ...                  index=["seed", "architecture"])
        >>> fig = field_effects_figure({"kappa": t})
    """
    fig, axes = plt.subplots(1, len(tables), squeeze=False, layout="constrained",
                             figsize=(4.6 * len(tables), 0.45 * max(len(t) for t in tables.values()) + 1.4))
    for ax, (label, table) in zip(axes[0], tables.items()):
        rows = np.arange(len(table))[::-1]
        clear = (table["low"] > 0) | (table["high"] < 0)
        colors = [FIRST_MODEL_COLOR if c else "0.65" for c in clear]
        ax.hlines(rows, table["low"], table["high"], colors=colors, linewidth=2)
        ax.scatter(table["estimate"], rows, color=colors, zorder=3)
        ax.axvline(0, color="0.4", linewidth=0.8, linestyle="--")
        ax.set_yticks(rows, table.index)
        ax.set_xlabel(f"effect on {label}")
        ax.set_title(label, fontsize=10)
    fig.suptitle("Effect of each difference, other fields and accuracies held fixed "
                 "(dark: interval excludes 0)", fontsize=10)
    return fig
