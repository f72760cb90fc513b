"""Downloads into the user cache, exercised on local file:// URLs (never the network)."""

from __future__ import annotations

import hashlib

import pytest

from norep.datasets import download
from norep.datasets.download import cache_dir, fetch, fetch_files
from norep.errors import NorepError

CONTENT = b"file_name,label\nILSVRC2012_val_00000001.JPEG,65\n" * 1000
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "upstream" / "labels.csv"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


def test_fetch_verifies_and_leaves_no_partial_file(tmp_path, source):
    target = tmp_path / "cache" / "sub" / "labels.csv"
    assert fetch(source.as_uri(), target, SHA256) == target
    assert target.read_bytes() == CONTENT
    assert sorted(p.name for p in target.parent.iterdir()) == ["labels.csv"]


def test_checksum_mismatch_deletes_the_download(tmp_path, source):
    target = tmp_path / "cache" / "labels.csv"
    with pytest.raises(NorepError, match="sha256") as error:
        fetch(source.as_uri(), target, "0" * 64)
    assert "\n" not in str(error.value)
    assert list(target.parent.iterdir()) == []


def test_verified_copy_is_not_downloaded_again(tmp_path, source, monkeypatch):
    target = tmp_path / "labels.csv"
    target.write_bytes(CONTENT)

    def offline(*args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    assert fetch("https://example.invalid/labels.csv", target, SHA256) == target


def test_corrupt_copy_is_replaced(tmp_path, source):
    target = tmp_path / "labels.csv"
    target.write_bytes(CONTENT[:100])
    fetch(source.as_uri(), target, SHA256)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == SHA256


def test_unreachable_url_is_one_clear_line(tmp_path):
    with pytest.raises(NorepError, match="cannot download .*pass local copies as PATH") as error:
        fetch((tmp_path / "missing.csv").as_uri(), tmp_path / "out.csv", SHA256)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_files_fills_the_cache_named_by_the_environment(tmp_path, source, monkeypatch):
    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    folder = fetch_files("demo", {"a/labels.csv": (source.as_uri(), SHA256)})
    assert folder == tmp_path / "cache" / "demo"
    assert (folder / "a" / "labels.csv").read_bytes() == CONTENT


def test_default_cache_is_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NOREP_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "norep"
