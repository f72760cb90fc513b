"""Image folders: both ImageNet layouts, folders with a class list, corrupt and mismatched input."""

from __future__ import annotations

import numpy as np
import pytest
from inference_checks import (
    class_folder_layout,
    flat_devkit_layout,
    flat_loc_layout,
    imagenet_labels,
    val_name,
    write_images,
)

from norep.datasets.image_folders import (
    IMAGENET,
    imagenet_class_names,
    open_image_folder,
    without_unreadable,
)
from norep.datasets.imagenet import imagenet_classes
from norep.errors import NorepError

LABELS = imagenet_labels(12)


@pytest.mark.parametrize("layout", [class_folder_layout, flat_loc_layout, flat_devkit_layout])
def test_every_imagenet_layout_gives_the_same_examples(tmp_path, layout):
    images = open_image_folder(layout(tmp_path, LABELS))
    assert images.name == IMAGENET and len(images) == len(LABELS)
    assert images.example_ids == [val_name(k) for k in range(len(LABELS))]
    np.testing.assert_array_equal(images.labels, LABELS)
    assert all(images.path(i).is_file() for i in range(len(images)))
    wnids, _ = imagenet_classes()
    assert images.classes[0] == "tench" and wnids[0] == "n01440764" and len(images.classes) == 1000
    assert images.classes == imagenet_class_names()
    expected = np.where(LABELS < 300, "nature", np.where((LABELS >= 500) & (LABELS < 900), "anthropogenic", "other"))
    np.testing.assert_array_equal(images.subdomains()["class_range"], expected)


def test_fingerprints_agree_across_layouts(tmp_path):
    a = open_image_folder(class_folder_layout(tmp_path / "a", LABELS))
    b = open_image_folder(flat_loc_layout(tmp_path / "b", LABELS))
    assert a.fingerprint == b.fingerprint


def test_a_folder_with_a_class_list(tmp_path):
    write_images(tmp_path / "data", ["dog/a.jpg", "dog/b.jpg", "cat/c.png"])
    (tmp_path / "classes.txt").write_text("cat\ndog\nbird\n")
    images = open_image_folder(tmp_path / "data", class_list=tmp_path / "classes.txt")
    assert images.name == "data" and images.classes == ["cat", "dog", "bird"]
    assert images.example_ids == ["cat/c.png", "dog/a.jpg", "dog/b.jpg"]
    assert images.labels.tolist() == [0, 1, 1]
    assert images.subdomains().shape == (3, 0)


def test_missing_and_empty_folders_are_one_line_errors(tmp_path):
    with pytest.raises(NorepError, match="does not exist"):
        open_image_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NorepError, match="holds no images"):
        open_image_folder(tmp_path / "empty")
    (tmp_path / "classes" / "n01440764").mkdir(parents=True)
    with pytest.raises(NorepError, match="class folders of .* hold no images"):
        open_image_folder(tmp_path / "classes")


def test_labels_that_do_not_match_the_images(tmp_path):
    folder = flat_loc_layout(tmp_path, LABELS)
    write_images(folder, ["ILSVRC2012_val_00000099.JPEG"])
    with pytest.raises(NorepError) as error:
        open_image_folder(folder)
    assert "does not match the images" in str(error.value) and "1 of 13 images have no label" in str(error.value)
    assert "ILSVRC2012_val_00000099.JPEG" in str(error.value) and "\n" not in str(error.value)


def test_devkit_ground_truth_needs_meta_and_matching_lines(tmp_path):
    folder = flat_devkit_layout(tmp_path, LABELS)
    truth = folder / "ILSVRC2012_validation_ground_truth.txt"
    truth.write_text("\n".join(truth.read_text().split()[:-1]) + "\n")  # one line short
    with pytest.raises(NorepError, match="1 of 12 images have no label"):
        open_image_folder(folder)
    (folder / "meta.mat").unlink()
    with pytest.raises(NorepError, match="needs the devkit's meta.mat"):
        open_image_folder(folder)


def test_unlabelled_flat_folders_and_foreign_class_folders(tmp_path):
    write_images(tmp_path / "flat", ["a.jpg"])
    with pytest.raises(NorepError, match="without labels"):
        open_image_folder(tmp_path / "flat")
    write_images(tmp_path / "other", ["cats/a.jpg"])
    with pytest.raises(NorepError, match="not named by an ImageNet WordNet id"):
        open_image_folder(tmp_path / "other")
    (tmp_path / "classes.txt").write_text("dogs\n")
    with pytest.raises(NorepError, match="is not a class of"):
        open_image_folder(tmp_path / "other", class_list=tmp_path / "classes.txt")


def test_corrupt_images_are_named_or_skipped_and_counted(tmp_path):
    folder = class_folder_layout(tmp_path, LABELS)
    images = open_image_folder(folder)
    broken = images.path(3)
    broken.write_bytes(broken.read_bytes()[:200])
    (folder / images.files[5]).write_bytes(b"not an image")
    from norep.datasets.image_folders import load_image

    with pytest.raises(NorepError) as error:
        load_image(broken)
    assert str(broken) in str(error.value) and "--skip-corrupt" in str(error.value)
    assert "\n" not in str(error.value)
    kept = without_unreadable(images)
    assert len(kept) == len(images) - 2 and kept.skipped == (images.files[3], images.files[5])
    np.testing.assert_array_equal(kept.labels, np.delete(LABELS, [3, 5]))
