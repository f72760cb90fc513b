"""Build the real book (every page of _toc.yml) with papermill and Sphinx, then check it.

The profile points at the CI mini zoo (runs/fashion_mnist_ci) when it exists, else at a
synthetic store with the mini zoo's metadata columns, made here.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from conftest import make_synthetic_store
from notebook_checks import assert_no_error_or_stderr, output_text

from norep.book import build as book
from norep.book import install
from norep.errors import NorepError

pytestmark = pytest.mark.notebooks
ROOT = Path(__file__).resolve().parents[1]
CI_STORE = ROOT / "runs" / "fashion_mnist_ci"


def book_folder(tmp_path_factory) -> Path:
    """The session's folder for the test book: shared, so later builds reuse its cache."""
    folder = tmp_path_factory.getbasetemp() / "book"
    folder.mkdir(exist_ok=True)
    return folder


def make_profile(folder: Path) -> Path:
    """Return a profile YAML for the CI store, or for a synthetic store made in ``folder``."""
    if (CI_STORE / "manifest.json").is_file():
        return ROOT / "params" / "ci.yaml"
    profile = folder / "synthetic.yaml"
    if not profile.is_file():
        store = make_synthetic_store(folder / "store")
        for model_id in store.model_ids:
            meta = store.meta(model_id)
            meta["role"] = "accuracy-control" if model_id == "hyper" else "member"
            store.add_model(model_id, meta, {"logits": np.array(store.logits(model_id))})
        profile.write_text(json.dumps({"store": str(store.path), "base": "base", "band": 0.03,
                                       "n_bootstrap": 50, "seed": 0, "device": "cpu"}))
    return profile


def build(profile: Path, folder: Path) -> Path:
    """Build the book with ``profile`` into ``folder/build`` from the book's folder; return the HTML."""
    with contextlib.chdir(ROOT):
        return book.build_book(profile=profile, output=folder / "build")


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    """The profile the tests build with."""
    return make_profile(book_folder(tmp_path_factory))


@pytest.fixture(scope="module")
def frozen_package(tmp_path_factory):
    """Key the cache on a snapshot of src/norep, which others may edit while the tests run."""
    snapshot = tmp_path_factory.mktemp("norep-snapshot") / "norep"
    shutil.copytree(book.PACKAGE_DIR, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "PACKAGE_DIR", snapshot)
        yield


@pytest.fixture(scope="module")
def built(profile, tmp_path_factory, frozen_package) -> Path:
    """The HTML folder of the built book."""
    return build(profile, book_folder(tmp_path_factory))


def test_every_page_is_built_and_checked(built):
    pages = book.book_pages(ROOT)
    for page in pages:
        assert (built / f"{page.docname}.html").is_file(), page.docname
    for page in pages:
        if page.is_notebook:
            [notebook_path] = (built.parent / "executed").glob(f"*/{page.docname}.ipynb")
            notebook = nbformat.read(notebook_path, as_version=4)
            assert notebook.metadata["norep"]["cache_key"]
            assert not any(output.output_type == "error" for cell in notebook.cells
                           for output in cell.get("outputs", []))
    book.check_build(built)
    table = (built / "book" / "appendix" / "reproducibility.html").read_text()
    assert "book/chapters/zoo" in table and "cache" in table


def test_unchanged_pages_are_not_executed_again(built, profile, tmp_path_factory, capsys):
    executed = sorted((built.parent / "executed").rglob("*.ipynb"))
    stamps = [path.stat().st_mtime_ns for path in executed]
    build(profile, book_folder(tmp_path_factory))
    assert [path.stat().st_mtime_ns for path in executed] == stamps
    assert capsys.readouterr().out.count("unchanged, cached") == len(executed)


def test_run_chapter_with_profile_and_override(profile, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    output = book.run_chapter("zoo", tmp_path / "zoo.ipynb", profile=profile, parameters=[["band", "0.5"]])
    notebook = nbformat.read(output, as_version=4)
    [injected] = [cell for cell in notebook.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    assert "band = 0.5" in injected.source
    assert notebook.metadata["papermill"]["exception"] is None


def test_failing_cell_is_one_line_naming_page_and_exception(profile, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(NorepError, match=r"zoo\.py: cell \d+ raised NorepError: base 'no-such-model' is not in") as error:
        book.run_chapter("zoo", tmp_path / "zoo.ipynb", profile=profile, parameters=[["base", "no-such-model"]])
    assert "\n" not in str(error.value)


def test_pages_show_their_parameters_once(built, profile):
    """papermill's injected cell is left out; the parameters cell shows the profile's values."""
    values = yaml.safe_load(profile.read_text())
    [staged] = (built.parent / "stage").glob("book/chapters/zoo.ipynb")
    notebook = nbformat.read(staged, as_version=4)
    [injected] = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "remove-cell" in injected.metadata["tags"]
    [parameters] = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert f"store = {values['store']!r}".replace("'", '"') in parameters.source
    page = (built / "book" / "chapters" / "zoo.html").read_text()
    assert "tag_injected-parameters" not in page and page.count("tag_parameters") == 1
    url = install.repository_url(ROOT)
    for page in book.book_pages(ROOT):
        if page.is_notebook:  # the chapters' downloads install norep; the appendix pages have no such cell
            cells = nbformat.read(built.parent / "stage" / f"{page.docname}.ipynb", as_version=4).cells
            first = next(cell for cell in cells if cell.cell_type == "code")
            is_install = first.source == install.install_source(url)
            assert is_install == page.docname.startswith(book.CHAPTER_DIR), page.docname


def test_staged_chapter_starts_with_the_install_cell_and_still_executes(profile, tmp_path, monkeypatch):
    """The page's download: the install cell first; run again in the repository, the cell does nothing."""
    import papermill

    monkeypatch.chdir(ROOT)
    executed = book.run_chapter("zoo", tmp_path / "zoo.ipynb", profile=profile, parameters=[["n_bootstrap", "20"]])
    url = install.repository_url(ROOT)
    staged = nbformat.reads(book._staged_notebook(executed, url).decode(), as_version=4)
    code = [cell for cell in staged.cells if cell.cell_type == "code"]
    assert install.INSTALL_TAG in code[0].metadata["tags"] and code[0].source == install.install_source(url)
    assert "parameters" in code[1].metadata["tags"]
    assert not any(install.INSTALL_TAG in cell.metadata.get("tags", []) for cell in code[1:])
    rerun = papermill.execute_notebook(staged, str(tmp_path / "download.ipynb"), kernel_name="python3",
                                       progress_bar=False, cwd=str(ROOT),
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
    assert_no_error_or_stderr(rerun)
    assert not rerun.cells[staged.cells.index(code[0])].outputs
    assert output_text(rerun) == output_text(nbformat.read(executed, as_version=4))


def plain_papermill(chapter: Path, output: Path, cwd: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run the README's recipe: jupytext converts to .ipynb on stdout, papermill executes it."""
    tools = Path(sys.executable).parent
    command = (f"{tools}/jupytext --to ipynb -o - {shlex.quote(str(chapter))} | {tools}/papermill - "
               f"{shlex.quote(str(output))} " + " ".join(shlex.quote(a) for a in arguments))
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_plain_papermill_runs_a_chapter(profile, tmp_path):
    output = tmp_path / "zoo.ipynb"
    done = plain_papermill(ROOT / "book" / "chapters" / "zoo.py", output, ROOT, "-f", str(profile),
                           "-p", "n_bootstrap", "20")
    assert done.returncode == 0, done.stderr[-2000:]
    notebook = nbformat.read(output, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["papermill"]["parameters"]["n_bootstrap"] == 20
    assert_no_error_or_stderr(notebook)
    store = yaml.safe_load(profile.read_text())["store"]
    assert store in output_text(notebook) or Path(store).name in output_text(notebook)


WHERE = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
store = "runs/somewhere"  # relative to the book's folder

# %%
from norep.book.chapter import open_zoo

print(open_zoo(store, "base", 0.05).store.path)
'''


@pytest.fixture
def where_book(tmp_path):
    """A book folder with a store at runs/s and a chapter that opens it and prints its path."""
    folder = tmp_path / "book-folder"
    (folder / "book" / "chapters").mkdir(parents=True)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: book/chapters/where\n")
    (folder / "_config.yml").write_text("title: where\n")
    (folder / "book" / "chapters" / "where.py").write_text(WHERE)
    (folder / "params").mkdir()
    (folder / "params" / "default.yaml").write_text("store: runs/s\n")
    make_synthetic_store(folder / "runs" / "s", n_calibration=20, n_test=20)
    return folder


def test_relative_store_resolves_alike_under_norep_and_plain_papermill(where_book, tmp_path, monkeypatch):
    chapter = where_book / "book" / "chapters" / "where.py"
    expected = str((where_book / "runs" / "s").resolve())
    printed = []
    for cwd in (where_book, where_book / "book" / "chapters"):  # papermill's, Jupyter Book's
        output = tmp_path / f"plain-{len(printed)}.ipynb"
        done = plain_papermill(chapter, output, cwd, "-p", "store", "runs/s")
        assert done.returncode == 0, done.stderr[-2000:]
        printed.append(output_text(nbformat.read(output, as_version=4)).strip())
    monkeypatch.chdir(where_book)
    output = book.run_chapter("where", tmp_path / "norep.ipynb")
    printed.append(output_text(nbformat.read(output, as_version=4)).strip())
    assert printed == [expected] * 3
    # Outside the book's folder the error says how relative paths are read.
    done = plain_papermill(chapter, tmp_path / "outside.ipynb", tmp_path, "-p", "store", "runs/s")
    assert done.returncode != 0
    assert "a relative store path is read from the book's folder" in done.stderr


def test_pages_run_side_by_side_on_one_thread_each_and_a_failure_is_one_line(tmp_path):
    (tmp_path / "threads.py").write_text('# %%\nimport os\nprint("threads", os.environ["OMP_NUM_THREADS"])\n')
    (tmp_path / "broken.py").write_text('# %%\nraise ValueError("no such model")\n')
    todo = [(book.Page(name, tmp_path / f"{name}.py"), tmp_path / f"{name}.ipynb", {}, None)
            for name in ("threads", "broken")]
    with pytest.raises(NorepError, match=r"broken.py: cell 1 raised ValueError: no such model") as error:
        book._execute_pages(todo, tmp_path, jobs=2, desc="executing")
    assert "\n" not in str(error.value)
    notebook = nbformat.read(tmp_path / "threads.ipynb", as_version=4)
    assert notebook.cells[0].outputs[0]["text"] == "threads 1\n"
