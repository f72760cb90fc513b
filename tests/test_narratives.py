"""Every notebook page reads as a narrative: short code cells, set-up collapsed, a verdict table."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

from norep.book.build import book_pages
from norep.book.install import INSTALL_BODY, INSTALL_TAG

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [page for page in book_pages(ROOT) if page.is_notebook]
MAX_LINES, MAX_COLUMNS = 15, 88


def test_the_book_has_its_notebook_pages():
    names = {page.source.stem for page in NOTEBOOKS}
    assert {"zoo", "error_inconsistency", "ensembles", "specialization", "low_accuracy",
            "real_models", "reproducibility", "performance"} <= names


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda page: page.source.stem)
def test_code_cells_are_short_and_narrow(page):
    notebook = jupytext.read(page.source)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    too_long = [cell.source.splitlines()[0] for cell in code if len(cell.source.splitlines()) > MAX_LINES]
    assert not too_long, f"code cells over {MAX_LINES} lines start with {too_long}"
    wide = [line for line in page.source.read_text().splitlines() if len(line) > MAX_COLUMNS]
    assert not wide, f"lines over {MAX_COLUMNS} columns: {wide[:3]}"


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda page: page.source.stem)
def test_set_up_is_collapsed_and_kernel_declared(page):
    notebook = jupytext.read(page.source)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "hide-input" in code[1].metadata.get("tags", []), "the set-up cell after the parameters"


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda page: page.source.stem)
def test_sources_carry_no_install_cell(page):
    """The install cell is inserted where notebooks leave the repository (norep.book.install)."""
    notebook = jupytext.read(page.source)
    assert not [cell for cell in notebook.cells if INSTALL_TAG in cell.metadata.get("tags", [])]
    assert INSTALL_BODY.splitlines()[0] not in page.source.read_text()


@pytest.mark.parametrize("page", [p for p in NOTEBOOKS if p.docname.startswith("book/chapters/")],
                         ids=lambda page: page.source.stem)
def test_chapters_end_with_their_verdict_table(page):
    cells = jupytext.read(page.source).cells
    exercises = [i for i, cell in enumerate(cells) if cell.source.startswith("## Exercises")]
    cells = cells[:exercises[0]] if exercises else cells  # the exercises follow the verdict table
    headings = [cell.source for cell in cells if cell.cell_type == "markdown"]
    assert headings[-1].startswith("## Paper vs this book")
    assert "paper_vs_book(" in cells[-1].source
