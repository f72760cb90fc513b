"""Open the built book in headless Chromium without network: every image loads, math
renders from the book's own MathJax, no page shows a traceback."""

from __future__ import annotations

import contextlib
import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.support.wait import WebDriverWait
from test_book_build import ROOT, book_folder, build, make_profile

from norep.book import build as book

pytestmark = pytest.mark.browser
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


class QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without logging every request; remember the paths not found."""

    not_found: list[str] = []

    def log_message(self, format: str, *args) -> None:
        """Log nothing."""

    def send_error(self, code: int, *args, **kwargs) -> None:
        """Remember a missing file (but a favicon) before answering."""
        if code == 404 and not self.path.endswith("favicon.ico"):
            self.not_found.append(self.path)
        super().send_error(code, *args, **kwargs)


@contextlib.contextmanager
def serve(html: Path):
    """Serve ``html`` on 127.0.0.1; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built book served on 127.0.0.1; yields its base URL and HTML folder (the book
    test_book_build built in this session's shared folder, else built here)."""
    folder = book_folder(tmp_path_factory)
    html = folder / "build" / "html"
    if not (html / "index.html").is_file():
        html = build(make_profile(folder), folder)
    with serve(html) as url:
        yield url, html


MATH_PAGE = r"""# Intro

Inline $p_a + p_b$ and display math:

$$\kappa = \frac{c_\mathrm{obs} - c_\mathrm{exp}}{1 - c_\mathrm{exp}}$$

\begin{align}
a &= b + c
\end{align}
"""
MATH_CHAPTER = r'''# %% [markdown]
# # Math
#
# Inline $|p_a - p_b|$ and display math:
#
# $$b_0 + b_1 \frac{p_a + p_b}{2}$$

# %% tags=["parameters"]
n = 3  # points in the figure
label = "default"  # shown in the output

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown

plt.plot(range(n))
plt.show()
Markdown(f"An output with math, $x^{n}$, for {label}")

# %% [markdown]
# ## Paper vs this book

# %%
import pandas as pd

pd.DataFrame({"claim": ["math renders"]})
'''


@pytest.fixture(scope="module")
def math_site(tmp_path_factory):
    """A two-page book with the real _config.yml (but the API pages) built by build_book."""
    folder = tmp_path_factory.mktemp("math-book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["extra_extensions"].remove("autoapi.extension")
    config["sphinx"]["config"] = {key: value for key, value in config["sphinx"]["config"].items()
                                  if not key.startswith("autoapi")}
    files = {"_config.yml": yaml.safe_dump(config), "book/intro.md": MATH_PAGE,
             "_toc.yml": "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/chapters/math\n",
             "book/chapters/math.py": MATH_CHAPTER, "params/default.yaml": "n: 5\nlabel: injected\n"}
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with contextlib.chdir(folder):
        html = book.build_book(output=folder / "_build")
    with serve(html) as url:
        yield url, html


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium driven by chromedriver."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs the Debian packages chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No network: every host name but 127.0.0.1 fails to resolve.
    for argument in ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def book_pages(html: Path) -> list[str]:
    """The index and every page of the book's own content (chapters and appendix)."""
    return ["index.html"] + sorted(path.relative_to(html).as_posix() for path in (html / "book").rglob("*.html"))


SHOWN = "return document.readyState === 'complete' && document.body && document.body.innerText.trim().length > 0"
IMAGES = """
const images = Array.from(document.images);
images.forEach(image => { image.loading = "eager"; image.scrollIntoView(); });
return Promise.all(images.map(image => image.decode().catch(() => null)))
    .then(() => images.map(image => [image.getAttribute("src"), image.naturalWidth]));
"""


def test_every_image_loads_and_no_traceback(browser, site):
    base_url, html = site
    pages = book_pages(html)
    assert any(page.startswith("book/chapters/") for page in pages)
    for page in pages:
        browser.get(f"{base_url}/{page}")
        WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(SHOWN))
        images = browser.execute_script(IMAGES)
        broken = [src for src, width in images if width == 0]
        assert not broken, f"{page}: images that did not load: {broken}"
        if page.startswith("book/chapters/"):
            assert images, f"{page}: no image at all"
        text = browser.find_element("tag name", "body").text
        assert "Traceback" not in text, f"{page} shows a traceback"
        assert browser.title, f"{page} has no title"


RENDERED = """
const done = arguments[arguments.length - 1];
if (!(window.MathJax && MathJax.Hub)) { done(null); return; }
MathJax.Hub.Queue(() => done({rendered: document.querySelectorAll(".MathJax_CHTML").length,
                              math: document.querySelectorAll(".math").length,
                              text: document.body.innerText}));
"""
RAW_TEX = ("\\(", "\\)", "\\[", "$$", "\\begin", "\\frac", "Math Processing Error")


def rendered_math(browser, url: str) -> dict:
    """Open a page and wait for MathJax; return its rendered and math element counts, its text."""
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(SHOWN))
    browser.set_script_timeout(60)
    result = browser.execute_async_script(RENDERED)
    assert result is not None, f"{url}: MathJax did not load"
    return result


def test_math_renders_offline_from_the_local_mathjax(browser, math_site):
    base_url, html = math_site
    QuietHandler.not_found.clear()
    for page, count in (("book/intro.html", 3), ("book/chapters/math.html", 3)):
        result = rendered_math(browser, f"{base_url}/{page}")
        assert result["math"] == count and result["rendered"] == count, (page, result)
        assert [raw for raw in RAW_TEX if raw in result["text"]] == [], page
    assert QuietHandler.not_found == []  # MathJax found every file it loads in the copy
    assert (html / "_static" / "mathjax" / "MathJax.js").is_file()


def test_the_parameters_are_shown_once_with_the_profiles_values(browser, math_site):
    base_url, _ = math_site
    browser.get(f"{base_url}/book/chapters/math.html")
    WebDriverWait(browser, 60).until(lambda driver: driver.execute_script(SHOWN))
    text = browser.find_element("tag name", "body").text
    assert text.count("n = ") == 1 and 'label = "injected"  # shown in the output' in text
    assert "n = 5  # points in the figure" in text and "# Parameters" not in text
    assert "An output with math" in text and "for injected" in text


def test_error_inconsistency_page_has_rendered_math(browser, site):
    base_url, _ = site
    result = rendered_math(browser, f"{base_url}/book/chapters/error_inconsistency.html")
    assert result["math"] > 0 and result["rendered"] == result["math"], result["math"]
    assert [raw for raw in RAW_TEX if raw in result["text"]] == []


def test_solutions_are_hidden_until_their_toggle_is_clicked(browser, site):
    base_url, _ = site
    browser.get(f"{base_url}/book/chapters/zoo.html")
    toggles = ".solution.dropdown button.toggle-button"  # sphinx-togglebutton adds the buttons
    WebDriverWait(browser, 60).until(lambda driver: driver.find_elements("css selector", toggles))
    solutions = browser.find_elements("css selector", ".solution.dropdown")
    exercises = browser.find_elements("css selector", ".exercise")
    assert len(solutions) == len(exercises) >= 2
    solution = solutions[0]
    content = solution.find_element("css selector", "section")
    assert not content.is_displayed(), "a solution shows before its toggle is clicked"
    assert "answers=True" not in browser.find_element("tag name", "body").text
    button = solution.find_element("css selector", "button.toggle-button")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    WebDriverWait(browser, 10).until(lambda driver: content.is_displayed())
    assert "answers=True" in solution.text  # the solution's code, and its output table
    assert solution.find_elements("css selector", "table")
