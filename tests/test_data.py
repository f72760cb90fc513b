"""Fashion-MNIST loading: IDX parsing, search order, checksums, splits."""

import gzip
import hashlib

import numpy as np
import pytest

from norep.datasets import fashion_mnist as data
from norep.errors import NorepError


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an unsigned-byte array as an IDX file, independently of the reader."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def small_release(tmp_path, monkeypatch):
    """Write a tiny Fashion-MNIST look-alike (gzipped like the release) and trust its checksums."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (120, 28, 28)), "train_labels": np.arange(120) % 10,
        "test_images": rng.integers(0, 256, (30, 28, 28)), "test_labels": np.arange(30) % 10,
    }
    folder = tmp_path / "fmnist"
    folder.mkdir()
    files = {}
    for key, (stem, _) in data.FILES.items():
        raw = idx_bytes(arrays[key])
        (folder / (stem + ".gz")).write_bytes(gzip.compress(raw))
        files[key] = (stem, hashlib.sha256(raw).hexdigest())
    monkeypatch.setattr(data, "FILES", files)
    monkeypatch.delenv("NOREP_DATA", raising=False)
    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_PATH", tmp_path / "no-debian")
    return folder, arrays


def test_read_idx_round_trips_gzipped_and_plain(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(idx_bytes(array))
    (tmp_path / "packed").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("plain", "packed"):
        np.testing.assert_array_equal(data.read_idx(tmp_path / name), array)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 5)))[:-3])
    with pytest.raises(NorepError, match="truncated"):
        data.read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(NorepError, match="magic"):
        data.read_idx(tmp_path / "png")


def test_loads_from_explicit_path_and_verifies(small_release):
    folder, arrays = small_release
    loaded = data.load_fashion_mnist(folder)
    np.testing.assert_array_equal(loaded.train_images, arrays["train_images"])
    np.testing.assert_array_equal(loaded.test_labels, arrays["test_labels"])


def test_search_order_env_then_debian_then_cache(small_release, monkeypatch, tmp_path):
    folder, _ = small_release
    monkeypatch.setenv("NOREP_DATA", str(folder))
    assert data.find_fashion_mnist() == folder
    monkeypatch.delenv("NOREP_DATA")
    monkeypatch.setattr(data, "DEBIAN_PATH", folder)
    assert data.find_fashion_mnist() == folder
    monkeypatch.setattr(data, "DEBIAN_PATH", tmp_path / "none")
    cache = tmp_path / "cache" / "fashion-mnist"
    cache.parent.mkdir()
    folder.rename(cache)
    assert data.find_fashion_mnist() == cache


def test_missing_data_names_every_place_and_the_fixes(small_release, tmp_path):
    folder, _ = small_release
    folder.rename(tmp_path / "moved")
    with pytest.raises(NorepError) as error:
        data.find_fashion_mnist()
    message = str(error.value)
    for place in ("--data", "$NOREP_DATA", "dataset-fashion-mnist", "user cache", "norep data download"):
        assert place in message
    assert "\n" not in message


def test_explicit_path_without_files_is_an_error(tmp_path):
    with pytest.raises(NorepError, match="does not hold the four"):
        data.find_fashion_mnist(tmp_path)


def test_edited_file_fails_its_checksum(small_release):
    folder, arrays = small_release
    stem = data.FILES["test_labels"][0]
    edited = arrays["test_labels"].copy()
    edited[0] = 9
    (folder / (stem + ".gz")).write_bytes(gzip.compress(idx_bytes(edited)))
    with pytest.raises(NorepError, match="sha256 mismatch"):
        data.load_fashion_mnist(folder)


def test_splits_are_seeded_disjoint_and_capped():
    settings = {"seed": 3, "calibration": 100, "probe": 50, "subsets": ["train-A", "train-B"],
                "subset_size": 300, "test": 40}
    splits = data.make_splits(1000, 200, settings)
    again = data.make_splits(1000, 200, settings)
    np.testing.assert_array_equal(splits.subsets["train-B"], again.subsets["train-B"])
    a, b, calibration = splits.subsets["train-A"], splits.subsets["train-B"], splits.calibration
    assert len(a) == len(b) == 300 and len(calibration) == 100 and splits.n_test == 40
    assert not set(a) & set(b) and not (set(a) | set(b)) & set(calibration)
    assert not set(splits.probe) & set(calibration)
    other = data.make_splits(1000, 200, {**settings, "seed": 4})
    assert not np.array_equal(other.calibration, calibration)
    with pytest.raises(NorepError, match="unknown split setting"):
        data.make_splits(1000, 200, {"calibrate": 5})


def test_examples_table_aligns_with_images(small_release):
    folder, arrays = small_release
    loaded = data.load_fashion_mnist(folder)
    splits = data.make_splits(120, 30, {"calibration": 20, "probe": 10})
    table = data.examples_table(loaded, splits)
    images = data.store_images(loaded, splits)
    assert len(table) == len(images) == 20 + 10 + 30
    assert list(table["split"].unique()) == ["calibration", "probe", "test"]
    row = table.index[table["example_id"] == "test-7"][0]
    np.testing.assert_array_equal(images[row], arrays["test_images"][7])
    assert table.loc[row, "label"] == arrays["test_labels"][7]
    footwear = table[table["superclass"] == "footwear"]["class_name"].unique()
    assert set(footwear) <= {"Sandal", "Sneaker", "Ankle boot"}


def test_download_fills_the_cache_and_rejects_a_bad_copy(small_release, monkeypatch, tmp_path):
    folder, arrays = small_release
    monkeypatch.setattr(data, "RELEASE_URL", folder.as_uri() + "/")
    cached = data.download_fashion_mnist()
    assert cached == tmp_path / "cache" / "fashion-mnist"
    np.testing.assert_array_equal(data.load_fashion_mnist(cached).test_images, arrays["test_images"])

    stem = data.FILES["train_labels"][0]
    (cached / (stem + ".gz")).unlink()
    (folder / (stem + ".gz")).write_bytes(gzip.compress(idx_bytes(np.zeros(120))))
    with pytest.raises(NorepError, match="failed its checksum"):
        data.download_fashion_mnist()
    assert not (cached / (stem + ".gz")).exists()
