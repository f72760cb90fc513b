"""The book's machinery without executing notebooks: pages, parameters, profiles, cache keys, checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import norep
from norep.book import build as book
from norep.book import mathjax
from norep.cli import main
from norep.errors import NorepError

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = '''# %% [markdown]
# # A chapter

# %% tags=["parameters"]
store = "runs/somewhere"  # a comment
base = "cnn-seed0"
n_bootstrap = 100

# %%
print(store, base, n_bootstrap)
'''


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    """A book folder with a markdown root, one chapter and a profile; the working directory."""
    (tmp_path / "_config.yml").write_text("title: tiny\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - chapters:\n      - file: book/chapters/one\n"
    )
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "book" / "chapters" / "one.py").write_text(CHAPTER)
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text("store: runs/elsewhere\nn_bootstrap: 10\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_pages_in_toc_order(tiny_book):
    pages = book.book_pages(tiny_book)
    assert [(p.docname, p.is_notebook) for p in pages] == [("book/intro", False), ("book/chapters/one", True)]


def test_missing_page_source_is_an_error(tiny_book):
    (tiny_book / "book" / "intro.md").unlink()
    with pytest.raises(NorepError, match="book/intro"):
        book.book_pages(tiny_book)


def test_real_toc_lists_existing_pages_with_parameters():
    pages = book.book_pages(ROOT)
    assert pages[0].docname == "book/intro"
    for page in pages:
        if page.docname.startswith("book/chapters/"):
            names = book.notebook_parameters(page.source)
            assert any(name == "store" or name.endswith("_store") for name in names), page.docname


def test_notebook_parameters_are_literals(tiny_book):
    chapter = tiny_book / "book" / "chapters" / "one.py"
    assert book.notebook_parameters(chapter) == {"store": "runs/somewhere", "base": "cnn-seed0", "n_bootstrap": 100}
    chapter.write_text(CHAPTER.replace("n_bootstrap = 100", "n_bootstrap = 10 * 10"))
    with pytest.raises(NorepError, match="'n_bootstrap' is not a literal"):
        book.notebook_parameters(chapter)
    chapter.write_text(CHAPTER.replace("n_bootstrap = 100", "import os"))
    with pytest.raises(NorepError, match="only `name = literal`"):
        book.notebook_parameters(chapter)
    chapter.write_text(CHAPTER.replace(' tags=["parameters"]', ""))
    with pytest.raises(NorepError, match="exactly one cell tagged 'parameters', it has 0"):
        book.notebook_parameters(chapter)


def test_profile_by_name_or_path(tiny_book):
    notebooks = [tiny_book / "book" / "chapters" / "one.py"]
    assert book.load_profile(None, tiny_book, notebooks) == ("default", {"store": "runs/elsewhere", "n_bootstrap": 10})
    path = tiny_book / "other.yaml"
    path.write_text("base: resnet\n")
    assert book.load_profile(str(path), tiny_book, notebooks) == ("other", {"base": "resnet"})


def test_profile_errors(tiny_book):
    notebooks = [tiny_book / "book" / "chapters" / "one.py"]
    with pytest.raises(NorepError, match=r"profile 'nope' not found.*\['default'\]"):
        book.load_profile("nope", tiny_book, notebooks)
    (tiny_book / "params" / "typo.yaml").write_text("n_bootstraps: 5\nbase: x\n")
    with pytest.raises(NorepError, match=r"no page takes parameter\(s\) \['n_bootstraps'\]"):
        book.load_profile("typo", tiny_book, notebooks)
    (tiny_book / "params" / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(NorepError, match="must map parameter names"):
        book.load_profile("list", tiny_book, notebooks)


def test_real_profiles_are_valid():
    notebooks = [page.source for page in book.book_pages(ROOT) if page.is_notebook]
    for name in ("default", "ci", "imagenet"):
        profile_name, values = book.load_profile(name, ROOT, notebooks)
        assert profile_name == name and {"store", "base", "seed", "n_bootstrap", "device"} <= set(values)


def test_overrides_are_yaml_literals_and_unknown_names_fail():
    declared = {"store": "x", "n_bootstrap": 1, "band": 0.01}
    parsed = book.parse_overrides([["n_bootstrap", "50"], ["band", "0.02"], ["store", "runs/x"]], declared, "zoo")
    assert parsed == {"n_bootstrap": 50, "band": 0.02, "store": "runs/x"}
    with pytest.raises(NorepError, match="zoo has no parameter 'seeds'; its parameters: store, n_bootstrap, band"):
        book.parse_overrides([["seeds", "1"]], declared, "zoo")


def test_run_chapter_rejects_unknown_parameter_before_running(tiny_book, tmp_path):
    with pytest.raises(NorepError, match="has no parameter 'nope'"):
        book.run_chapter("one", tmp_path / "out.ipynb", parameters=[["nope", "1"]])
    with pytest.raises(NorepError, match=r"no chapter 'two'.*chapters: \['one'\]"):
        book.run_chapter("two", tmp_path / "out.ipynb")
    assert not (tmp_path / "out.ipynb").exists()


def test_cli_reports_unknown_parameter_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["book", "run", "zoo", "-o", str(tmp_path / "zoo.ipynb"), "-p", "n_boot", "5"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("norep: error: zoo has no parameter 'n_boot'") and error.count("\n") == 1


def test_project_path_is_relative_to_the_book(tiny_book, monkeypatch):
    monkeypatch.chdir(tiny_book / "book" / "chapters")
    assert book.project_path("runs/x") == tiny_book.resolve() / "runs/x"
    assert book.project_path("/abs/store") == Path("/abs/store")


def test_package_change_changes_the_cache_key(tmp_path, tiny_book):
    package = tmp_path / "norep-copy"
    shutil.copytree(book.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    chapter = tiny_book / "book" / "chapters" / "one.py"
    parameters = {"store": "runs/elsewhere", "n_bootstrap": 10}
    before = book.tree_digest(package)
    key = book.cache_key(chapter, parameters, before)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "junk.pyc").write_bytes(b"x")
    assert book.tree_digest(package) == before
    (package / "metrics_extra.py").write_text("X = 1\n")
    assert book.tree_digest(package) != before
    (package / "metrics_extra.py").unlink()
    (package / "store" / "store.py").write_text((package / "store" / "store.py").read_text() + "\n# edited\n")
    after = book.tree_digest(package)
    assert after != before and book.cache_key(chapter, parameters, after) != key
    assert book.cache_key(chapter, parameters, before) == key


def test_cache_key_follows_parameters_source_and_store(tiny_book):
    chapter = tiny_book / "book" / "chapters" / "one.py"
    parameters = {"store": "runs/elsewhere", "n_bootstrap": 10}
    key = book.cache_key(chapter, parameters, "digest")
    assert book.cache_key(chapter, {**parameters, "n_bootstrap": 11}, "digest") != key
    (tiny_book / "runs" / "elsewhere").mkdir(parents=True)
    (tiny_book / "runs" / "elsewhere" / "manifest.json").write_text('{"models": ["a"]}')
    with_store = book.cache_key(chapter, parameters, "digest")
    assert with_store != key
    (tiny_book / "runs" / "elsewhere" / "manifest.json").write_text('{"models": ["a", "b"]}')
    assert book.cache_key(chapter, parameters, "digest") != with_store
    chapter.write_text(CHAPTER + "\n# %%\nprint(1)\n")
    assert book.cache_key(chapter, parameters, "digest") not in (key, with_store)


def test_cache_key_follows_every_store_in_a_folder_of_stores(tiny_book):
    chapter = tiny_book / "book" / "chapters" / "one.py"
    parameters = {"humans_store": "runs/humans"}
    nested = tiny_book / "runs" / "humans" / "sketch"
    nested.mkdir(parents=True)
    (nested / "manifest.json").write_text('{"models": ["a"]}')
    key = book.cache_key(chapter, parameters, "digest")
    (nested / "manifest.json").write_text('{"models": ["a", "b"]}')
    assert book.cache_key(chapter, parameters, "digest") != key


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def write_site(html: Path, chapter_body: str, figure: bool = True) -> Path:
    """Write a tiny built book: an index and one chapter page."""
    (html / "book" / "chapters").mkdir(parents=True)
    (html / "_images").mkdir()
    (html / "index.html").write_text("<html><body><p>Intro</p></body></html>")
    if figure:
        (html / "_images" / "fig.png").write_bytes(PNG)
    (html / "book" / "chapters" / "zoo.html").write_text(f"<html><body>{chapter_body}</body></html>")
    return html


VERDICT = "<h2>Paper vs this book</h2><table><tr><td>claim</td></tr></table>"


def test_check_build_accepts_a_page_with_its_figure(tmp_path):
    book.check_build(write_site(tmp_path, '<img src="../../_images/fig.png" alt="">' + VERDICT))


@pytest.mark.parametrize("body, figure, problem", [
    ("<p>no outputs at all</p>" + VERDICT, True, "zoo.html: no figure"),
    ('<img src="../../_images/fig.png"><table></table><h2>Paper vs this book</h2>', True,
     "zoo.html: no 'Paper vs this book' table"),
    ('<img src="../../_images/fig.png">', False, "image ../../_images/fig.png is missing"),
    ('<img src="../../_images/fig.png"><div class="output traceback"><pre>KeyError</pre></div>', True,
     "shows an error output or a traceback"),
    ('<img src="../../_images/fig.png"><pre>Traceback (most recent call last):\n  File</pre>', True,
     "shows an error output or a traceback"),
])
def test_check_build_names_each_problem(tmp_path, body, figure, problem):
    with pytest.raises(NorepError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        book.check_build(write_site(tmp_path, body, figure))


def test_check_build_needs_a_built_book(tmp_path):
    with pytest.raises(NorepError, match="no built book"):
        book.check_build(tmp_path)
    (tmp_path / "index.html").write_text("<html></html>")
    with pytest.raises(NorepError, match="no chapter pages"):
        book.check_build(tmp_path)


def notebook_with(parameters: str, injected: str | None):
    """A notebook with a parameters cell and, when given, papermill's injected cell."""
    import nbformat.v4 as nbf

    cells = [nbf.new_markdown_cell("# Title"),
             nbf.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    if injected is not None:
        cells.append(nbf.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    return nbf.new_notebook(cells=cells + [nbf.new_code_cell("print(store)")])


def test_parameters_are_shown_once_with_the_values_the_page_ran_with():
    parameters = ('store = "runs/x"  # the store\nbands = [\n    0.01,\n    0.02,\n]  # list\n'
                  "seed = 0\n")
    injected = '# Parameters\nstore = "runs/ci"\nbands = [0.5]\nextra = {"a": 1}\n'
    notebook = notebook_with(parameters, injected)
    book.show_parameters_once(notebook)
    assert notebook.cells[1].source == ('store = "runs/ci"  # the store\nbands = [0.5]  # list\n'
                                        'seed = 0\nextra = {"a": 1}')
    assert notebook.cells[2].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert notebook.cells[2].source == injected  # still executed as papermill wrote it
    book.show_parameters_once(notebook)
    assert notebook.cells[2].metadata["tags"] == ["injected-parameters", "remove-cell"]


def test_a_notebook_without_injected_values_is_left_alone():
    notebook = notebook_with("seed = 0  # default\n", None)
    book.show_parameters_once(notebook)
    assert notebook.cells[1].source == "seed = 0  # default\n"


def test_build_without_mathjax_fails_first_in_one_line(tiny_book, monkeypatch):
    monkeypatch.setenv("NOREP_MATHJAX", str(tiny_book / "no-mathjax"))
    with pytest.raises(NorepError, match="MathJax 2 not found in .*no-mathjax.*libjs-mathjax") as error:
        book.build_book(output=tiny_book / "_build")
    assert "\n" not in str(error.value)
    assert not (tiny_book / "_build").exists()  # nothing executed


@pytest.mark.skipif(not (mathjax.MATHJAX_DIR / "MathJax.js").is_file(), reason="needs libjs-mathjax")
def test_copy_mathjax_copies_what_the_configuration_loads_once(tmp_path, monkeypatch):
    monkeypatch.delenv("NOREP_MATHJAX", raising=False)
    target = mathjax.copy_mathjax(tmp_path)
    assert target == tmp_path / "_static" / "mathjax"
    for part in ("MathJax.js", "config/TeX-AMS_CHTML.js", "jax/output/CommonHTML/jax.js",
                 "fonts/HTML-CSS/TeX/woff/MathJax_Main-Regular.woff", "extensions/TeX/AMSmath.js"):
        assert (target / part).stat().st_size == (mathjax.MATHJAX_DIR / part).stat().st_size, part
    assert not (target / "unpacked").exists() and not (target / "jax" / "output" / "SVG").exists()
    stamp = (target / "MathJax.js").stat().st_mtime_ns
    mathjax.copy_mathjax(tmp_path)
    assert (target / "MathJax.js").stat().st_mtime_ns == stamp


def test_config_points_mathjax_at_the_local_copy():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    assert "norep.book.mathjax" in config["extra_extensions"]
    path = config["config"]["mathjax_path"]
    assert path.split("?")[0] == (mathjax.TARGET.relative_to("_static") / "MathJax.js").as_posix()
    assert "math" in config["config"]["mathjax2_config"]["tex2jax"]["processClass"].split("|")


def test_check_build_refuses_mathjax_from_the_internet(tmp_path):
    body = ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
            '<img src="../../_images/fig.png">' + VERDICT)
    with pytest.raises(NorepError, match="zoo.html: loads MathJax from https://cdn.jsdelivr.net"):
        book.check_build(write_site(tmp_path, body))


def test_cli_version_and_data_path(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"norep {norep.__version__}"
    assert main(["data", "path", "--data", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"norep: error: {tmp_path} does not hold") and error.count("\n") == 1
