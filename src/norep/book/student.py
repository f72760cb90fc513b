"""Student notebooks: the chapters without their solutions, with the install cell.

**One source of truth.** Exercises and their solutions live in the chapters themselves
(jupytext ``.py`` files). The convention that marks a solution is the directive of
sphinx-exercise, nothing else (no cell tag to forget):

- an exercise is a markdown cell with an ``{exercise}`` directive (``:label:`` set);
- its solution starts with a markdown cell whose directive is ``{solution-start} LABEL``
  (``:class: dropdown``: the book folds it behind a toggle) and ends with the markdown
  cell holding ``{solution-end}``; every cell from the first to the second, both
  included, is a **solution cell** (its prose and its code);
- a one-cell solution is a markdown cell with a ``{solution}`` directive.

:func:`student_notebook` removes the solution cells and leaves in their place one empty
code cell tagged ``answer``; :func:`write_student_notebooks` (``norep book student
OUT``) writes every chapter that way, with the parameter values of a profile (by
default ``params/course.yaml``) in its parameters cell.

Each student notebook starts with the install cell of :mod:`norep.book.install`
(the chapter sources do not carry it), cloning ``_config.yml``'s ``repository.url``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from norep.book.build import (
    CHAPTER_DIR,
    INJECTED_TAG,
    book_pages,
    load_profile,
    notebook_parameters,
    project_root,
    read_notebook,
    show_parameters_once,
)
from norep.book.install import add_install_cell, repository_url
from norep.errors import NorepError

ANSWER_TAG = "answer"
"""The tag of the empty code cell a student notebook has in place of a solution."""
COURSE_PROFILE = "course"
"""The profile student notebooks take their parameter values from by default."""
ANSWER_SOURCE = "# Your answer here."
"""The source of that cell."""

_DIRECTIVE = re.compile(r"^\s*`{3,}\s*\{(exercise|solution|solution-start|solution-end)\}", re.MULTILINE)


def directives(cell) -> list[str]:
    """The sphinx-exercise directives a markdown cell opens, in order (none for code cells).

    Example:
        >>> import nbformat.v4 as nbf
        >>> directives(nbf.new_markdown_cell("````{solution-start} zoo-seed\\n:class: dropdown\\n````"))
        ['solution-start']
    """
    return _DIRECTIVE.findall(cell.source) if cell.cell_type == "markdown" else []


def solution_cells(notebook) -> list[int]:
    """The indices of a notebook's solution cells (the convention of this module).

    Args:
        notebook: An ``nbformat`` notebook.

    Returns:
        Sorted cell indices; a ``{solution-start}`` without its ``{solution-end}`` (or
        the reverse) is an error naming the cell.
    """
    found, start = [], None
    for index, cell in enumerate(notebook.cells):
        for name in directives(cell):
            if name == "solution-start":
                if start is not None:
                    raise NorepError(f"cell {index}: a solution starts inside the solution of cell {start}; "
                                     "end that one first with a {solution-end} cell")
                start = index
            elif name == "solution-end":
                if start is None:
                    raise NorepError(f"cell {index}: {{solution-end}} without a {{solution-start}} before it; "
                                     "open the solution with a {solution-start} cell")
                found += range(start, index + 1)
                start = None
            elif name == "solution":
                found.append(index)
    if start is not None:
        raise NorepError(f"cell {start}: {{solution-start}} without its {{solution-end}}; close it with a "
                         "markdown cell holding the {solution-end} directive")
    return sorted(set(found))


def first_exercise(notebook) -> int | None:
    """The index of the first cell with an ``{exercise}`` directive (None without one)."""
    return next((i for i, cell in enumerate(notebook.cells) if "exercise" in directives(cell)), None)


def set_parameters(notebook, values: dict) -> None:
    """Write parameter values into a notebook's ``parameters`` cell, comments kept (in place).

    Args:
        notebook: An ``nbformat`` notebook with one cell tagged ``parameters``.
        values: Values by name (Python literals: numbers, strings, lists, None).
    """
    import nbformat.v4 as nbf

    if not values:
        return
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbf.new_code_cell("\n".join(f"{name} = {value!r}" for name, value in values.items()),
                                 metadata={"tags": [INJECTED_TAG]})
    notebook.cells.insert(index + 1, injected)
    show_parameters_once(notebook)
    notebook.cells.remove(injected)


def student_notebook(notebook, url: str | None = None):
    """Return a copy of a chapter for students: no solution cells, no outputs, the install cell.

    Args:
        notebook: The chapter (an ``nbformat`` notebook).
        url: The repository URL the install cell clones (None: no install cell, see
            :func:`norep.book.install.add_install_cell`).

    Returns:
        The new notebook: the install cell before its first code cell, each solution
        replaced by one empty code cell tagged :data:`ANSWER_TAG`, outputs and
        execution counts cleared.
    """
    import copy

    import nbformat.v4 as nbf

    student = copy.deepcopy(notebook)
    removed = set(solution_cells(notebook))
    cells = []
    for index, cell in enumerate(student.cells):
        if index in removed:
            if index - 1 not in removed:
                cells.append(nbf.new_code_cell(ANSWER_SOURCE, metadata={"tags": [ANSWER_TAG]}))
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    student.cells = cells
    student.metadata.pop("papermill", None)
    student.metadata.pop("norep", None)
    add_install_cell(student, url)
    return student


def write_student_notebooks(output: str | os.PathLike, profile: str | os.PathLike | None = COURSE_PROFILE,
                            root: Path | None = None) -> list[Path]:
    """Write a student notebook of every chapter with exercises (``norep book student OUT``).

    Args:
        output: The folder to write into; each notebook keeps its path in the book
            (``OUT/book/chapters/zoo.ipynb``), as the launch buttons expect.
        profile: The profile whose values go into each parameters cell (a name or a
            YAML path); None keeps the chapters' defaults.
        root: The book's folder; found from the working directory by default.

    Returns:
        The notebooks written.

    Example:
        >>> write_student_notebooks("students")   # doctest: +SKIP
        [PosixPath('students/book/chapters/zoo.ipynb'), ...]
    """
    import nbformat

    root = root or project_root()
    notebooks = [page for page in book_pages(root) if page.is_notebook]
    chapters = [page for page in notebooks if page.docname.startswith(CHAPTER_DIR)]
    values = {}
    if profile is not None:
        _, values = load_profile(profile, root, [page.source for page in notebooks])
    url, output, written = repository_url(root), Path(output), []
    for page in chapters:
        notebook = read_notebook(page.source)
        if first_exercise(notebook) is None:
            continue
        declared = notebook_parameters(page.source)
        set_parameters(notebook, {name: value for name, value in values.items() if name in declared})
        path = output / f"{page.docname}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(notebook, url), path)
        written.append(path)
    return written
