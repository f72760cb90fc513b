"""Run the book: execute its notebooks with papermill, build the HTML, check the result.

The pages are the files listed in ``_toc.yml``; a page whose source is a ``.py`` file
is a jupytext percent notebook whose ``parameters`` cell holds literals only. A
profile (``params/<name>.yaml``) gives values to parameters by name; each notebook
takes the ones its parameters cell declares. A notebook that reads a prediction store
names its path ``store``.

:func:`build_book` executes every notebook into ``<output>/executed/<profile>/``,
skipping a notebook whose cache key (its source, its parameters, every file of this
package, and the manifest of its store) is unchanged; stages a copy of the book with
the executed notebooks in ``<output>/stage`` (each shows the parameters it ran with
once: :func:`show_parameters_once`; a chapter starts with the install cell of
:mod:`norep.book.install`, for its download); turns its ``_config.yml`` into a
``conf.py`` with ``jupyter-book config sphinx`` and builds it with ``sphinx-build -W
--keep-going`` (every warning an error) into ``<output>/html``; and checks the HTML
with :func:`check_build`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

import yaml

from norep.book.install import add_install_cell, repository_url
from norep.book.mathjax import find_mathjax
from norep.errors import NorepError
from norep.runtime import resolve_jobs

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/norep: every module keys the cache
PROFILE_DIR = "params"
DEFAULT_PROFILE = "default"
CHAPTER_DIR = "book/chapters"
KERNEL = "python3"
FIGURE_SUFFIXES = (".png", ".svg")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
INJECTED_TAG = "injected-parameters"
"""The tag papermill gives the cell of parameter values it inserts."""


@dataclass(frozen=True)
class Page:
    """One page of the book's table of contents.

    Attributes:
        docname: The page's name in ``_toc.yml``, e.g. ``"book/chapters/zoo"``.
        source: Its source file (``.md``, or ``.py`` for a notebook).
    """

    docname: str
    source: Path

    @property
    def is_notebook(self) -> bool:
        """Whether the page is a jupytext notebook executed with papermill."""
        return self.source.suffix == ".py"


def project_root(start: Path | None = None) -> Path:
    """Return the book's folder: the nearest one at or above ``start`` with ``_toc.yml``.

    Args:
        start: Where to look from; the working directory by default.

    Returns:
        The folder holding ``_toc.yml`` and ``_config.yml``.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise NorepError(f"no _toc.yml and _config.yml in {start} or above; run this in the book's folder")


def project_path(path: str | os.PathLike) -> Path:
    """Resolve a path given in a parameters cell.

    A relative path is relative to the book's folder when the notebook runs inside it
    (papermill runs at the top, Jupyter Book in the chapter's folder), else to the
    working directory.

    Args:
        path: An absolute path, or a path relative to the book's folder.

    Returns:
        The resolved path.
    """
    path = Path(path)
    if path.is_absolute():
        return path
    try:
        return project_root() / path
    except NorepError:
        return Path.cwd() / path


def book_pages(root: Path) -> list[Page]:
    """Return the pages of ``root/_toc.yml`` in reading order.

    Args:
        root: The book's folder.

    Returns:
        One :class:`Page` per ``file`` entry; a missing source is an error.
    """
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docnames = [toc["root"]]

    def collect(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                docnames.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                collect(entry.get(key, []))

    collect([toc])
    pages = []
    for docname in docnames:
        sources = [root / f"{docname}{suffix}" for suffix in (".md", ".py")]
        found = [source for source in sources if source.is_file()]
        if len(found) != 1:
            raise NorepError(
                f"_toc.yml lists {docname!r}: expected exactly one of {docname}.md or {docname}.py"
            )
        pages.append(Page(docname, found[0]))
    return pages


def read_notebook(source: Path):
    """Return the notebook of a jupytext percent ``.py`` file, with this package's kernel.

    Args:
        source: The ``.py`` file.

    Returns:
        An ``nbformat`` notebook.
    """
    import jupytext

    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return notebook


def notebook_parameters(source: Path) -> dict[str, object]:
    """Return the literals of a notebook's one ``parameters`` cell, by name.

    Args:
        source: The notebook's ``.py`` file.

    Returns:
        The parameter names and their default values, in cell order.
    """
    cells = [c for c in read_notebook(source).cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise NorepError(f"{source} must have exactly one cell tagged 'parameters', it has {len(cells)}")
    parameters = {}
    for statement in ast.parse(cells[0].source).body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise NorepError(
                f"{source}, parameters cell line {statement.lineno}: only `name = literal` lines belong there"
            )
        name = statement.targets[0].id
        try:
            parameters[name] = ast.literal_eval(statement.value)
        except ValueError:
            raise NorepError(
                f"{source}: parameter {name!r} is not a literal; derive it in the next cell"
            ) from None
    return parameters


def load_profile(
    profile: str | os.PathLike | None, root: Path, notebooks: list[Path]
) -> tuple[str, dict]:
    """Read a parameter profile and check that each of its keys is used by some notebook.

    Args:
        profile: A profile name (``"ci"`` for ``params/ci.yaml``), a YAML path, or None
            for ``params/default.yaml``.
        root: The book's folder.
        notebooks: The notebooks whose parameters the profile may set.

    Returns:
        The profile's name (the file's stem) and its values.
    """
    profile = DEFAULT_PROFILE if profile is None else str(profile)
    is_path = profile.endswith((".yaml", ".yml"))
    path = Path(profile) if is_path else root / PROFILE_DIR / f"{profile}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in (root / PROFILE_DIR).glob("*.yaml"))
        raise NorepError(f"profile {profile!r} not found ({path}); profiles: {names}, or a YAML path")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        raise NorepError(f"profile {path} is not valid YAML; fix its syntax") from None
    if not isinstance(values, dict):
        raise NorepError(f"profile {path} must map parameter names to values")
    declared = set().union(*(notebook_parameters(source) for source in notebooks))
    unused = sorted(set(values) - declared)
    if unused:
        raise NorepError(
            f"profile {path}: no page takes parameter(s) {unused}; the pages take {sorted(declared)}"
        )
    return path.stem, values


def parse_overrides(
    pairs: list[list[str]], declared: dict[str, object], where: str
) -> dict[str, object]:
    """Parse ``NAME VALUE`` pairs from the command line, values as YAML literals.

    Args:
        pairs: ``[[name, value], ...]``.
        declared: The notebook's parameters (from :func:`notebook_parameters`).
        where: The notebook's name, for messages.

    Returns:
        The parsed values by name; an unknown name is an error naming the known ones.
    """
    overrides = {}
    for name, text in pairs:
        if name not in declared:
            raise NorepError(f"{where} has no parameter {name!r}; its parameters: {', '.join(declared)}")
        try:
            overrides[name] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise NorepError(f"value {text!r} of parameter {name!r} is not a YAML literal") from None
    return overrides


def tree_digest(directory: Path) -> str:
    """Return the sha256 of every file under ``directory`` (names and contents, no caches).

    Args:
        directory: The folder, e.g. this package's source folder.

    Returns:
        A hex digest that changes when any file is added, removed, renamed or edited.
    """
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(source: Path, parameters: dict, package_digest: str) -> str:
    """Return the cache key of one executed notebook.

    Args:
        source: The notebook's ``.py`` file.
        parameters: Every parameter value the notebook runs with (defaults included).
        package_digest: :func:`tree_digest` of this package's source folder.

    Returns:
        The sha256 of the source, the parameters, the package digest, and every store
        manifest under the folders named by ``store`` and ``*_store`` parameters (a
        folder of stores, such as one per model-vs-human dataset, included).
    """
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(package_digest.encode())
    for name, value in sorted(parameters.items()):
        if (name == "store" or name.endswith("_store")) and isinstance(value, str):
            folder = project_path(value)
            for manifest in sorted(folder.rglob("manifest.json")) if folder.is_dir() else []:
                digest.update(manifest.relative_to(folder).as_posix().encode() + manifest.read_bytes())
    return digest.hexdigest()


def show_parameters_once(notebook) -> None:
    """Show the parameter values a notebook ran with in its ``parameters`` cell, once.

    papermill inserts a cell tagged ``injected-parameters`` right after the
    ``parameters`` cell, so the page would show the parameters twice. Each value it
    injected replaces the default on the parameter's line (comments kept; a name the
    cell lacks is added at its end) and the injected cell is tagged ``remove-cell``,
    which the book leaves out. A notebook without injected values is left as it is.

    Args:
        notebook: An executed ``nbformat`` notebook, changed in place.

    Example:
        >>> import nbformat.v4 as nbf
        >>> nb = nbf.new_notebook(cells=[
        ...     nbf.new_code_cell("band = 0.01  # half-width", metadata={"tags": ["parameters"]}),
        ...     nbf.new_code_cell("# Parameters\\nband = 0.02\\n", metadata={"tags": [INJECTED_TAG]})])
        >>> show_parameters_once(nb)
        >>> nb.cells[0].source, nb.cells[1].metadata["tags"]
        ('band = 0.02  # half-width', ['injected-parameters', 'remove-cell'])
    """
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    injected = [cell for cell, cell_tags in zip(notebook.cells, tags) if INJECTED_TAG in cell_tags]
    target = [cell for cell, cell_tags in zip(notebook.cells, tags) if "parameters" in cell_tags]
    if not injected or not target:
        return
    values = {}
    for cell in injected:
        for statement in ast.parse(cell.source).body:
            if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
                values[statement.targets[0].id] = ast.get_source_segment(cell.source, statement.value)
        if "remove-cell" not in cell.metadata["tags"]:
            cell.metadata["tags"] = [*cell.metadata["tags"], "remove-cell"]
    lines = target[0].source.splitlines()
    for statement in reversed(ast.parse(target[0].source).body):
        name = statement.targets[0].id if isinstance(statement, ast.Assign) else None
        if name in values:
            rest = lines[statement.end_lineno - 1][statement.end_col_offset:]
            lines[statement.lineno - 1:statement.end_lineno] = [f"{name} = {values.pop(name)}{rest}"]
    lines += [f"{name} = {value}" for name, value in values.items()]
    target[0].source = "\n".join(lines)


def execute_notebook(
    source: Path, output: Path, injected: dict, root: Path, metadata: Callable[[], dict] | None = None
) -> float:
    """Execute a notebook with papermill at the book's folder and write it to ``output``.

    Args:
        source: The notebook's ``.py`` file.
        output: The executed ``.ipynb`` to write (also written while it runs).
        injected: Parameter values to inject after the parameters cell.
        root: The book's folder (the working directory of the kernel).
        metadata: Called once the notebook succeeded; what it returns is stored under
            the notebook's ``norep`` metadata (so it sees what the notebook created).

    Returns:
        The execution time in seconds. A failing cell is one error line naming the
        notebook, the cell and its exception; the notebook with the traceback stays at
        ``output`` and carries no cache key.
    """
    import nbformat
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        notebook = papermill.execute_notebook(
            read_notebook(source), str(output), parameters=injected, kernel_name=KERNEL,
            progress_bar=False, cwd=str(root), extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except papermill.PapermillExecutionError as error:
        message = (error.evalue or "").strip().splitlines()
        page = source.resolve()
        page = page.relative_to(root) if page.is_relative_to(root) else page
        raise NorepError(
            f"{page}: cell {error.exec_count} raised {error.ename}: {message[0] if message else ''} "
            f"(traceback in {output})"
        ) from None
    notebook.metadata["norep"] = metadata() if metadata else {}
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    nbformat.write(notebook, tmp)
    os.replace(tmp, output)
    return time.perf_counter() - start


def run_chapter(chapter: str, output: str | os.PathLike, profile: str | os.PathLike | None = None,
                parameters: list[list[str]] | None = None) -> Path:
    """Execute one chapter with a profile and parameter overrides.

    Args:
        chapter: A chapter name (``"zoo"`` for ``book/chapters/zoo.py``) or a ``.py`` path.
        output: The executed notebook to write (``.ipynb``).
        profile: A profile name or YAML path; ``params/default.yaml`` when None. Keys the
            chapter does not take are left out.
        parameters: ``[[name, value], ...]`` overrides, values as YAML literals; a name the
            chapter's parameters cell lacks is an error.

    Returns:
        The executed notebook's path.

    Example:
        >>> run_chapter("zoo", "zoo.ipynb", profile="ci", parameters=[["seed", "1"]])  # doctest: +SKIP
    """
    root = project_root()
    source = Path(chapter) if chapter.endswith(".py") else root / CHAPTER_DIR / f"{chapter}.py"
    if not source.is_file():
        names = sorted(p.stem for p in (root / CHAPTER_DIR).glob("*.py"))
        raise NorepError(f"no chapter {chapter!r} ({source}); chapters: {names}, or a .py path")
    declared = notebook_parameters(source)
    notebooks = [page.source for page in book_pages(root) if page.is_notebook] + [source]
    _, values = load_profile(profile, root, notebooks)
    injected = {name: value for name, value in values.items() if name in declared}
    injected.update(parse_overrides(parameters or [], declared, source.stem))
    output = Path(output).resolve()
    seconds = execute_notebook(source, output, injected, root)
    print(f"{chapter}: executed in {seconds:.1f} s -> {output}")
    return output


def build_book(profile: str | os.PathLike | None = None, output: str | os.PathLike = "_build",
               jobs: int | None = None) -> Path:
    """Execute every notebook of the book (cached), build the HTML, check it.

    Args:
        profile: A profile name or YAML path; ``params/default.yaml`` when None.
        output: The build folder: executed notebooks in ``executed/<profile>/``, the
            staged book in ``stage/``, the HTML in ``html/``.
        jobs: Pages executed side by side (default: one per CPU core), each kernel on
            one thread when more than one runs.

    Returns:
        The HTML folder.
    """
    root = project_root()
    find_mathjax()  # before the notebooks run: without it the Sphinx build would fail
    output = Path(output).resolve()
    notebooks = [page for page in book_pages(root) if page.is_notebook]
    name, values = load_profile(profile, root, [page.source for page in notebooks])
    package_digest = tree_digest(PACKAGE_DIR)
    executed, todo = {}, []
    for page in notebooks:
        declared = notebook_parameters(page.source)
        injected = {key: value for key, value in values.items() if key in declared}
        parameters = {**declared, **injected}
        target = output / "executed" / name / f"{page.docname}.ipynb"
        if _cached_key(target) == cache_key(page.source, parameters, package_digest):
            print(f"{page.docname}: unchanged, cached")
        else:
            todo.append((page, target, injected, partial(_page_metadata, page.source, parameters, package_digest,
                                                         name)))
        executed[page.docname] = target
    _execute_pages(todo, root, resolve_jobs(jobs), f"executing ({name})")
    stage = _stage(root, executed, output)
    html = output / "html"
    _sphinx(stage, html, output / "doctrees")
    check_build(html)
    print(f"book built with profile {name!r}: {html / 'index.html'}")
    return html


def _page_metadata(source: Path, parameters: dict, package_digest: str, profile: str) -> dict:
    """The metadata of an executed page, keyed after the run: a page may fill its own store as it runs."""
    return {"cache_key": cache_key(source, parameters, package_digest), "profile": profile}


def _one_thread_each() -> None:
    """Give the kernels of a page process one thread, so that pages run side by side without contention."""
    os.environ.update({variable: "1" for variable in THREAD_VARIABLES})


def _execute_pages(todo: list[tuple[Page, Path, dict, Callable]], root: Path, jobs: int, desc: str) -> None:
    """Execute pages ``jobs`` at a time, in the table of contents' order; the first failure stops the rest."""
    from tqdm.auto import tqdm

    if not todo:
        return
    jobs = min(jobs, len(todo))
    context = multiprocessing.get_context("spawn")
    with tqdm(total=len(todo), desc=desc, unit="page") as bar, ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_one_thread_each if jobs > 1 else None) as pool:
        futures = {pool.submit(execute_notebook, page.source, target, injected, root, metadata): page
                   for page, target, injected, metadata in todo}
        try:
            for future in as_completed(futures):
                bar.write(f"{futures[future].docname}: executed in {future.result():.1f} s")
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _cached_key(executed: Path) -> str | None:
    """Return the cache key an executed notebook was stored with (None when absent or partial)."""
    try:
        return json.loads(executed.read_text())["metadata"]["norep"]["cache_key"]
    except (OSError, ValueError, KeyError):
        return None


def _stage(root: Path, executed: dict[str, Path], output: Path) -> Path:
    """Mirror ``book/`` into ``output/stage`` with executed notebooks in place of ``.py`` files.

    The staged ``_config.yml`` reads notebooks from the Jupyter cache (``cache`` mode)
    that :func:`_record_executions` fills, and points sphinx-autoapi at the package.
    """
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"] = {**config.get("execute", {}), "execute_notebooks": "cache",
                         "cache": str(output / "jupyter_cache")}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["autoapi_dirs"] = [str(root / d) for d in sphinx_config.get("autoapi_dirs", [])]
    files = {"_config.yml": yaml.safe_dump(config, sort_keys=False).encode(),
             "_toc.yml": (root / "_toc.yml").read_bytes()}
    for path in (root / "book").rglob("*"):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    url = repository_url(root)
    files.update({f"{docname}.ipynb": _staged_notebook(path, url if docname.startswith(CHAPTER_DIR) else None)
                  for docname, path in executed.items()})
    stage = output / "stage"
    _mirror(files, stage, keep={"conf.py"})
    _record_executions(stage, list(executed), output / "jupyter_cache")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    _run([jupyter_book, "config", "sphinx", stage], "jupyter-book config")
    return stage


def _staged_notebook(path: Path, url: str | None) -> bytes:
    """Return an executed notebook as the book shows it: parameters once, and (for a chapter,
    with ``url`` set) the install cell cloning ``url``, so that the page's download runs anywhere."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    show_parameters_once(notebook)
    add_install_cell(notebook, url)
    return nbformat.writes(notebook).encode()


def _mirror(files: dict[str, bytes], folder: Path, keep: set[str]) -> None:
    """Make ``folder`` hold exactly ``files`` (and ``keep``), rewriting only changed files.

    Sphinx rereads a source whose modification time is newer than its last read, so an
    unchanged file must keep its time.
    """
    for path in folder.rglob("*") if folder.is_dir() else []:
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative not in files and relative not in keep:
            path.unlink()
    for relative, content in files.items():
        path = folder / relative
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def _record_executions(stage: Path, docnames: list[str], cache_path: Path) -> None:
    """Put the staged notebooks in MyST-NB's Jupyter cache, with papermill's run times.

    MyST-NB then takes their outputs from the cache, and ``{nb-exec-table}`` reports
    the executions papermill made.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    for docname in docnames:
        path = stage / f"{docname}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            seconds = notebook.metadata.get("papermill", {}).get("duration")
            bundle = CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds})
            cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)


def _sphinx(stage: Path, html: Path, doctrees: Path) -> None:
    """Build the staged book with Sphinx, every warning an error."""
    _run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
          "-d", doctrees, stage, html], "the Sphinx build (autoapi/ pages come from docstrings in src/norep)")


def _run(command: list, what: str) -> None:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        problems = [line for line in lines if "WARNING" in line or "ERROR" in line] or lines[-1:]
        print("\n".join(problems), file=sys.stderr)
        raise NorepError(f"{what} failed ({len(problems)} warning(s) or error(s) above); first: "
                         f"{problems[0] if problems else f'exit code {result.returncode}'}")


VERDICT_HEADING = "Paper vs this book"
REMOTE = ("http:", "https:", "//")


class _PageParser(HTMLParser):
    """Collect the images, the remote MathJax scripts, the traceback outputs and the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.remote_mathjax: list[str] = []
        self.tracebacks = 0
        self.text: list[str] = []
        self.verdict_heading = False
        self.verdict_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])
        source = attributes.get("src") or ""
        if tag == "script" and source.startswith(REMOTE) and "mathjax" in source.lower():
            self.remote_mathjax.append(source)
        if tag == "table" and self.verdict_heading:
            self.verdict_table = True
        classes = (attributes.get("class") or "").split()
        if "output" in classes and ("traceback" in classes or "error" in classes):
            self.tracebacks += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.verdict_heading = self.verdict_heading or VERDICT_HEADING in data


def check_build(html_dir: str | os.PathLike) -> None:
    """Check a built book: every chapter page shows a figure, no page shows an error.

    Cached ``.py`` notebooks can silently lose their outputs (MyST-NB issue 617), so
    the HTML itself is checked: every page under ``book/chapters/`` has an ``img`` whose
    PNG or SVG file exists and a table after its "Paper vs this book" heading; no page
    has an error output or a Python traceback; every local image exists; no page loads
    MathJax from the internet (the book ships its own copy, see :mod:`norep.book.mathjax`).

    Args:
        html_dir: The HTML folder, e.g. ``_build/html``.
    """
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise NorepError(f"{html_dir} holds no built book (no index.html); run `norep book build`")
    chapters = sorted((html_dir / CHAPTER_DIR).glob("*.html"))
    if not chapters:
        raise NorepError(f"{html_dir} has no chapter pages under {CHAPTER_DIR}/")
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _PageParser()
        parser.feed(page.read_text(encoding="utf-8"))
        name = page.relative_to(html_dir).as_posix()
        local = [src for src in parser.images if not src.startswith(("http:", "https:", "data:"))]
        missing = [src for src in local if not (page.parent / src.split("#")[0].split("?")[0]).is_file()]
        problems += [f"{name}: image {src} is missing" for src in missing]
        problems += [f"{name}: loads MathJax from {src} (set mathjax_path to the local copy)"
                     for src in parser.remote_mathjax]
        if parser.tracebacks or "Traceback (most recent call last)" in "".join(parser.text):
            problems.append(f"{name}: shows an error output or a traceback")
        figures = [src for src in local if src.lower().endswith(FIGURE_SUFFIXES) and src not in missing]
        if page in chapters and not figures:
            problems.append(f"{name}: no figure (outputs lost or never produced)")
        if page in chapters and not parser.verdict_table:
            problems.append(f"{name}: no '{VERDICT_HEADING}' table")
    if problems:
        raise NorepError(f"{len(problems)} problem(s) in {html_dir}: " + "; ".join(problems))
    print(f"{html_dir}: {len(chapters)} chapter page(s) with figures, no error output")
