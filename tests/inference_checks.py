"""Helpers of the inference tests: generated image folders, tiny checkpoints, bare timm loops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

TIMM_MODELS = ("test_vit.r160_in1k", "test_resnet.r160_in1k", "test_convnext.r160_in1k", "test_efficientnet.r160_in1k")
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
CLASSES = [0, 7, 150, 299, 420, 500, 640, 899, 950]


def write_images(folder: Path, names: list[str], seed: int = 0, size: int = 64) -> list[Path]:
    """Write random-texture JPEG images under ``folder``; return their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((size, size), Image.BILINEAR)
        noise = rng.integers(-30, 30, (size, size, 3))
        Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def imagenet_labels(n: int, seed: int = 0) -> np.ndarray:
    """Labels of ``n`` validation images drawn from a few classes across the class-id ranges."""
    return np.random.default_rng(seed).choice(CLASSES, size=n)


def val_name(k: int) -> str:
    """The official file name of validation image ``k`` (0-based)."""
    return f"ILSVRC2012_val_{k + 1:08d}.JPEG"


def class_folder_layout(root: Path, labels: np.ndarray) -> Path:
    """ImageNet validation images in class folders named by WordNet id."""
    from norep.datasets.imagenet import imagenet_classes

    wnids, _ = imagenet_classes()
    write_images(root, [f"{wnids[label]}/{val_name(k)}" for k, label in enumerate(labels)])
    return root


def flat_loc_layout(root: Path, labels: np.ndarray) -> Path:
    """ImageNet validation images in one folder, Kaggle's LOC_val_solution.csv beside it."""
    from norep.datasets.imagenet import imagenet_classes

    wnids, _ = imagenet_classes()
    images = root / "val"
    write_images(images, [val_name(k) for k in range(len(labels))])
    rows = [f"{val_name(k)[:-5]},{wnids[label]} 1 2 30 40 {wnids[label]} 5 6 7 8" for k, label in enumerate(labels)]
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows[::-1]) + "\n")
    return images


def flat_devkit_layout(root: Path, labels: np.ndarray) -> Path:
    """ImageNet validation images in one folder, the devkit's ground truth and meta.mat beside it.

    Devkit ids are a fixed permutation of the class indices (as in the real devkit).
    """
    from scipy.io import savemat

    from norep.datasets.imagenet import imagenet_classes

    wnids, _ = imagenet_classes()
    devkit_id = np.random.default_rng(1).permutation(1000) + 1  # class index -> devkit id
    images = root / "val"
    write_images(images, [val_name(k) for k in range(len(labels))])
    synsets = np.zeros(1000, dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("num_children", "O")])
    for index in range(1000):
        synsets[devkit_id[index] - 1] = (devkit_id[index], wnids[index], 0)
    savemat(images / "meta.mat", {"synsets": synsets})
    (images / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(str(devkit_id[label]) for label in labels) + "\n")
    return images


def timm_checkpoint(folder: Path, name: str, seed: int = 0, **kwargs) -> Path:
    """Save the weights of a random-initialized timm model; return the file."""
    import timm

    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, **kwargs)
    path = folder / f"{name}-{seed}.pth"
    torch.save(model.state_dict(), path)
    return path


def tiny_clip_checkpoint(folder: Path, seed: int = 0) -> tuple[str, Path]:
    """Register a tiny open_clip configuration and save random weights; return (name, file)."""
    import open_clip

    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(seed)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    path = folder / "tiny-clip.pt"
    torch.save(model.state_dict(), path)
    return "tiny-clip", path


def write_catalog(path: Path, entries: list[dict], base: str | None = None) -> Path:
    """Write a catalog of ``entries`` (supervised ImageNet-1k defaults) to ``path``."""
    spec = {
        "name": "test zoo", "dataset": "imagenet-1k", "base": base or entries[0]["id"],
        "target_accuracy": 0.5, "splits": {"calibration": 0.25, "seed": 0},
        "defaults": {"objective": "cross-entropy", "training_data": "ImageNet-1k"},
        "models": entries,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timm_entries(folder: Path, names=TIMM_MODELS) -> list[dict]:
    """Catalog entries of tiny timm models with local random checkpoints (one seed each)."""
    return [{"id": f"timm/{name}", "architecture": name.split(".")[0], "hyperparameters": {"recipe": "test"},
             "checkpoint": timm_checkpoint(folder, name).name} for name in names]


def bare_timm_top1(name: str, checkpoint: Path, paths: list[Path], batch_size: int = 16) -> np.ndarray:
    """Top-1 classes of a plain timm loop: create_model, load the weights, timm's eval transform."""
    import timm
    from timm.data import create_transform, resolve_data_config

    model = timm.create_model(name, pretrained=False)
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    model.eval()
    transform = create_transform(**resolve_data_config({}, model=model))
    top1 = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start:start + batch_size]])
            top1.append(model(batch).argmax(1).numpy())
    return np.concatenate(top1)
