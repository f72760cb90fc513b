"""Reading the outputs of executed chapter notebooks in tests."""


def outputs(notebook):
    """Every output of every code cell, in order."""
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def closing_output(notebook):
    """The last output before the chapter's exercises (its "Paper vs this book" table)."""
    ends = [i for i, cell in enumerate(notebook.cells) if cell.source.startswith("## Exercises")]
    cells = notebook.cells[:ends[0]] if ends else notebook.cells
    return [output for cell in cells if cell.cell_type == "code" for output in cell.get("outputs", [])][-1]


def output_text(notebook) -> str:
    """The text, Markdown and HTML of every output, joined."""
    parts = []
    for output in outputs(notebook):
        if output.output_type == "stream":
            parts.append(output.text)
        for kind in ("text/plain", "text/markdown", "text/html"):
            parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def assert_no_error_or_stderr(notebook) -> None:
    """Fail on an error output or on anything written to stderr (a warning in the book build)."""
    errors = [output for output in outputs(notebook) if output.output_type == "error"]
    assert not errors, f"{errors[0].ename}: {errors[0].evalue}"
    stderr = [o.text for o in outputs(notebook) if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"the chapter writes to stderr (a Sphinx warning in the book build): {stderr[0][:300]}"


def execute_chapter(chapter: str, output, **parameters):
    """Execute a chapter with the CI profile and parameter overrides, from the book's folder.

    Args:
        chapter: The chapter's name (``"zoo"``) or ``.py`` path.
        output: The executed notebook to write.
        **parameters: Parameter values (written as YAML literals).

    Returns:
        The executed notebook.
    """
    import contextlib
    from pathlib import Path

    import nbformat

    from norep.book.build import run_chapter

    overrides = [[name, str(value)] for name, value in parameters.items()]
    with contextlib.chdir(Path(__file__).resolve().parents[1]):
        path = run_chapter(chapter, output, profile="ci", parameters=overrides)
    return nbformat.read(path, as_version=4)
