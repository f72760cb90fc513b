"""Exercises, solutions and student notebooks (norep.book.student, `norep book student`)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
import yaml
from notebook_checks import assert_no_error_or_stderr

from norep.book import install, student
from norep.book.build import read_notebook
from norep.cli import main
from norep.errors import NorepError

ROOT = Path(__file__).resolve().parents[1]
CORE = ("zoo", "error_inconsistency", "ensembles", "specialization", "low_accuracy", "feature_overlap")
CI_STORE = ROOT / "runs" / "fashion_mnist_ci"


def chapter(name: str):
    return read_notebook(ROOT / "book" / "chapters" / f"{name}.py")


def hand_notebook():
    """An exercise with a three-cell solution, then one with a one-cell solution."""
    return nbf.new_notebook(cells=[
        nbf.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbf.new_markdown_cell("```{exercise} One\n:label: one\n\nWhat is x + 1?\n```"),
        nbf.new_code_cell("x"),
        nbf.new_markdown_cell("````{solution-start} one\n:class: dropdown\n````\n\nAdd one:"),
        nbf.new_code_cell("secret_answer = x + 1"),
        nbf.new_markdown_cell("````{solution-end}\n````"),
        nbf.new_markdown_cell("```{exercise} Two\n:label: two\n\nAnd x + 2?\n```"),
        nbf.new_markdown_cell("```{solution} two\n:class: dropdown\n\nThree.\n```"),
        nbf.new_markdown_cell("The end."),
    ])


def test_solution_cells_follow_the_directives():
    notebook = hand_notebook()
    assert student.solution_cells(notebook) == [3, 4, 5, 7]
    assert student.first_exercise(notebook) == 1
    notebook.cells.pop(5)  # the solution-end
    with pytest.raises(NorepError, match="without its"):
        student.solution_cells(notebook)


def test_student_notebook_replaces_each_solution_by_one_answer_cell():
    made = student.student_notebook(hand_notebook())
    sources = [cell.source for cell in made.cells]
    assert sources == ["x = 1", hand_notebook().cells[1].source, "x", student.ANSWER_SOURCE,
                       hand_notebook().cells[6].source, student.ANSWER_SOURCE, "The end."]
    assert all("secret_answer" not in source for source in sources)


def test_student_notebook_starts_with_the_install_cell_of_the_url():
    url = "https://example.org/fork/norep"
    made = student.student_notebook(hand_notebook(), url)
    assert install.INSTALL_TAG in made.cells[0].metadata["tags"]
    assert made.cells[0].source == install.install_source(url) and url in made.cells[0].source
    assert [c.source for c in made.cells[1:]] == [c.source for c in student.student_notebook(hand_notebook()).cells]


@pytest.mark.parametrize("name", CORE)
def test_core_chapters_have_exercises_each_with_a_folded_solution(name):
    notebook = chapter(name)
    labels = [re.search(r":label: (\S+)", c.source).group(1) for c in notebook.cells
              if "exercise" in student.directives(c)]
    starts = [c.source for c in notebook.cells if "solution-start" in student.directives(c)]
    assert len(labels) >= 2 and len(set(labels)) == len(labels)
    assert [re.search(r"\{solution-start\} (\S+)", s).group(1) for s in starts] == labels
    assert all(":class: dropdown" in s for s in starts)
    exercises = [i for i, c in enumerate(notebook.cells) if c.source.startswith("## Exercises")]
    assert exercises and exercises[0] < student.first_exercise(notebook), "the exercises close the chapter"


def run_install_cell(source: str, cwd: Path, monkeypatch) -> list[list[str]]:
    """Execute an install cell in ``cwd`` with subprocess.run and os.chdir recorded, not run."""
    calls = []
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append(command))
    monkeypatch.setattr(os, "chdir", lambda path: calls.append(["chdir", path]))
    exec(compile(source, "install", "exec"), {})
    return calls


def test_install_cell_is_a_no_op_inside_the_repository(monkeypatch):
    source = install.install_source(install.repository_url(ROOT))
    assert run_install_cell(source, ROOT / "book" / "chapters", monkeypatch) == []


def test_install_cell_installs_outside_the_repository(tmp_path, monkeypatch):
    url = install.repository_url(ROOT)
    calls = run_install_cell(install.install_source(url), tmp_path, monkeypatch)
    assert calls[0][:2] == ["git", "clone"] and url in calls[0]
    assert ["chdir", "norep"] in calls
    assert ["norep", "zoo", "train", "zoos/fashion_mnist_ci.yaml", "--store", "runs/fashion_mnist_ci"] in calls


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    """`norep book student OUT` with the course profile."""
    out = tmp_path_factory.mktemp("students")
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        assert main(["book", "student", str(out)]) == 0
    finally:
        os.chdir(cwd)
    return {name: nbformat.read(out / "book" / "chapters" / f"{name}.ipynb", as_version=4) for name in CORE}


def code_lines(cells) -> set[str]:
    return {line.strip() for c in cells if c.cell_type == "code" for line in c.source.splitlines() if line.strip()}


@pytest.mark.parametrize("name", CORE)
def test_student_notebooks_leak_no_solution(students, name):
    source, made = chapter(name), students[name]
    solutions = student.solution_cells(source)
    kept = [c for i, c in enumerate(source.cells) if i not in solutions]
    only_in_solutions = code_lines(source.cells[i] for i in solutions) - code_lines(kept)
    assert only_in_solutions, "each chapter's solutions compute something the chapter does not"
    text = "\n".join(c.source for c in made.cells)
    leaked = [line for line in only_in_solutions if line in text]
    assert not leaked, f"solution code in the student notebook: {leaked}"
    assert not any(d.startswith("solution") for c in made.cells for d in student.directives(c))
    answers = [c for c in made.cells if student.ANSWER_TAG in c.metadata.get("tags", [])]
    assert len(answers) == sum("exercise" in student.directives(c) for c in made.cells)


def test_student_notebooks_take_the_course_profile_and_the_repository(students):
    course = yaml.safe_load((ROOT / "params" / "course.yaml").read_text())
    url = install.repository_url(ROOT)
    for made in students.values():
        parameters = next(c for c in made.cells if "parameters" in c.metadata.get("tags", []))
        assert f"store = {course['store']!r}" in parameters.source
        assert f"n_bootstrap = {course['n_bootstrap']!r}" in parameters.source
        first = next(c for c in made.cells if c.cell_type == "code")
        assert install.INSTALL_TAG in first.metadata["tags"] and first.source == install.install_source(url)
        assert f"repository = {url!r}" in first.source
        assert all(not c.get("outputs") for c in made.cells if c.cell_type == "code")


@pytest.mark.notebooks
@pytest.mark.skipif(not (CI_STORE / "manifest.json").is_file(), reason="needs the CI store")
@pytest.mark.parametrize("name", CORE)
def test_student_notebooks_execute_up_to_their_first_exercise(students, name, tmp_path):
    import papermill

    made = students[name]
    made.cells = made.cells[:student.first_exercise(made)]
    executed = papermill.execute_notebook(made, str(tmp_path / f"{name}.ipynb"), kernel_name="python3",
                                          progress_bar=False, cwd=str(ROOT),
                                          extra_arguments=["--IPKernelApp.log_level=ERROR"])
    assert_no_error_or_stderr(executed)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
