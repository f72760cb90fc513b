"""What every chapter shares: its zoo opened in one call, and its closing verdict table.

A chapter's first code cell calls :func:`open_zoo` with its parameters and shows
:meth:`ChapterZoo.intro`; its last one shows :func:`paper_vs_book`, the table the book
check looks for under the heading "Paper vs this book".
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from IPython.display import Markdown

from norep.book.build import project_path
from norep.errors import NorepError
from norep.store import Store, read_outcomes
from norep.zoo.roster import Roster, make_roster

PAPER_VS_BOOK_COLUMNS = ("", "paper", "this book", "reproduces?")
"""Columns of every chapter's closing table; the first names the claim."""


@dataclass(frozen=True)
class ChapterZoo:
    """A chapter's store and the roster of its models relative to the base.

    Attributes:
        store: The prediction store.
        roster: Names, roles, categories and the accuracy band, relative to the base.
        label: The store as the chapter's parameter names it.
    """

    store: Store
    roster: Roster
    label: str

    @property
    def names(self) -> dict[str, str]:
        """Display name of each model."""
        return self.roster.names

    def intro(self) -> Markdown:
        """One paragraph: the store, the base, the partners by category, the band (and the
        base's test accuracy when the band is decided on another split)."""
        roster, table = self.roster, self.roster.table
        partners = roster.partners
        undecidable = roster.undecidable
        return Markdown(
            f"Store `{self.label}`: **{self.store.manifest['dataset']['name']}**, "
            f"{len(self.store.model_ids)} models, base "
            f"**{self.names[roster.base]}**, partners: {len(partners)}, in "
            f"{len({table.loc[m, 'category'] for m in partners})} of the 5 categories; accuracy "
            f"controls: {len(roster.controls)}"
            + (f"; left out because their category is undecidable: "
               f"{', '.join(self.names[m] for m in undecidable)}" if undecidable else "")
            + f". The band: {roster.band_split} accuracy within ± {100 * roster.band:g} points of "
            f"the base's {100 * table.loc[roster.base, 'accuracy']:.1f}%"
            + ("" if roster.band_split == "test" else f" (test: {100 * self.base_test_accuracy():.1f}%)")
            + f"; partners in it: {int(table.loc[partners, 'in_band'].sum())}."
        )

    def base_test_accuracy(self) -> float:
        """The base model's accuracy on the test split."""
        return float(read_outcomes(self.store, "test", [self.roster.base]).accuracy[0])


def open_zoo(store: str, base: str, band: float) -> ChapterZoo:
    """Open a chapter's store and make its roster: the one set-up call of a chapter.

    Args:
        store: The store's path; a relative one is relative to the book's folder (found
            from the working directory), else to the working directory.
        base: The base model id.
        band: Half-width of the accuracy band around the base (a fraction).

    Returns:
        The chapter's zoo.

    Example:
        >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)   # doctest: +SKIP
        >>> zoo.intro()                                               # doctest: +SKIP
    """
    path = project_path(store)
    if not path.exists():
        raise NorepError(
            f"no store at {path}: a relative store path is read from the book's folder (the "
            "one with _toc.yml, found from the working directory); run from the repository "
            "or pass an absolute path"
        )
    opened = Store(path)
    return ChapterZoo(store=opened, roster=make_roster(opened, base, band), label=store)


def paper_vs_book(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Return a chapter's closing table: one row per claim of the paper.

    Args:
        rows: (claim, what the paper reports, what this book computes, verdict) tuples.

    Returns:
        The table, indexed by claim.

    Example:
        >>> paper_vs_book([("Fig 1", "monotone", "0.07, 0.09", "yes")]).columns.tolist()
        ['paper', 'this book', 'reproduces?']
    """
    return pd.DataFrame(rows, columns=list(PAPER_VS_BOOK_COLUMNS)).set_index("")
