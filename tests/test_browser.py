"""Open the built book in headless Chromium: every image loads, no page shows a traceback."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.webdriver.support.wait import WebDriverWait
from test_book_build import book_folder, build, make_profile

pytestmark = pytest.mark.browser
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


class QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without logging every request."""

    def log_message(self, format: str, *args) -> None:
        """Log nothing."""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built book served on 127.0.0.1; yields its base URL and HTML folder."""
    folder = book_folder(tmp_path_factory)
    html = build(make_profile(folder), folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium driven by chromedriver."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs the Debian packages chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
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
