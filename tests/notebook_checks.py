"""Reading the outputs of executed chapter notebooks in tests."""


def outputs(notebook):
    """Every output of every code cell, in order."""
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def output_text(notebook) -> str:
    """The text, Markdown and HTML of every output, joined."""
    parts = []
    for output in outputs(notebook):
        if output.output_type == "stream":
            parts.append(output.text)
        for kind in ("text/plain", "text/markdown", "text/html"):
            parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)
