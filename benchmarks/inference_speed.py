"""Benchmark: images per second of predict_zoo versus a bare timm forward loop.

Both read the same generated JPEG images (a class folder of ImageNet's first class)
with the same timm eval transform, batch size, DataLoader workers and torch threads,
for a random-initialized timm model saved to a local checkpoint (no download). The bare
loop is ``timm.create_model`` + ``load_state_dict`` + a DataLoader + ``model(x)`` (with the
runner's autocast and channels-last on CUDA); the runner's time is a whole
:func:`norep.producers.inference.predict_zoo` call into a fresh store (folder scan,
store creation, embeddings, chunk and store writes included). Target: runner / bare
images per second >= 0.9.

Usage:
    python benchmarks/inference_speed.py                                  # resnet18 on the CPU
    python benchmarks/inference_speed.py --model resnet50 --model vit_base_patch16_224 \\
        --device cuda --images 2048 --batch-size 256 --workers 8 --json out.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import timm
import torch
import yaml
from common import best_time, conditions, finish
from PIL import Image
from timm.data import create_transform, resolve_data_config
from torch.utils.data import DataLoader

from norep.datasets.imagenet import imagenet_classes
from norep.producers.inference import predict_zoo

TARGET_RATIO = 0.9


def write_images(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """Write ``count`` random-texture JPEG images of ``size`` pixels into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    paths = []
    for k in range(count):
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((size, size))
        noisy = np.clip(np.asarray(small) + rng.integers(-20, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"ILSVRC2012_val_{k + 1:08d}.JPEG")
        Image.fromarray(noisy).save(paths[-1], quality=90)
    return paths


class Files(torch.utils.data.Dataset):
    """The bare loop's dataset: PIL open, RGB, transform."""

    def __init__(self, paths: list[Path], transform):
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(Image.open(self.paths[index]).convert("RGB"))


def bare_loop(name: str, checkpoint: Path, paths: list[Path], args) -> None:
    """Create the timm model, load its weights, and forward every image."""
    device = torch.device(args.device)
    model = timm.create_model(name, pretrained=False)
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    model.eval().to(device)
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    transform = create_transform(**resolve_data_config({}, model=model))
    loader = DataLoader(Files(paths, transform), batch_size=args.batch_size, num_workers=args.workers,
                        pin_memory=cuda)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    outputs = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                                enabled=cuda and dtype is not None):
        for batch in loader:
            batch = batch.to(device, non_blocking=True)
            if cuda:
                batch = batch.contiguous(memory_format=torch.channels_last)
            outputs.append(model(batch).float().cpu())
    torch.cat(outputs)


def measure(name: str, root: Path, paths: list[Path], args) -> dict:
    """Time the runner and the bare loop for one model; return images per second of each."""
    torch.manual_seed(0)
    checkpoint = root / f"{name}.pth"
    torch.save(timm.create_model(name, pretrained=False).state_dict(), checkpoint)
    catalog = root / f"{name}.yaml"
    catalog.write_text(yaml.safe_dump({
        "name": "speed", "dataset": "imagenet-1k", "base": f"timm/{name}", "target_accuracy": 0.5,
        "models": [{"id": f"timm/{name}", "architecture": name, "objective": "cross-entropy",
                    "training_data": "ImageNet-1k", "checkpoint": checkpoint.name}],
    }))
    runs = iter(range(1_000))

    def runner() -> None:
        predict_zoo(catalog, paths[0].parents[1], root / f"store-{name}-{next(runs)}", device=args.device,
                    batch_size=args.batch_size, workers=args.workers, precision=args.precision, progress=False)

    runner_seconds = best_time(runner, args.repeat)
    bare_seconds = best_time(lambda: bare_loop(name, checkpoint, paths, args), args.repeat)
    return {"model": name, "runner_seconds": runner_seconds, "bare_seconds": bare_seconds,
            "runner_images_per_second": len(paths) / runner_seconds,
            "bare_images_per_second": len(paths) / bare_seconds,
            "ratio": bare_seconds / runner_seconds}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print a table and return (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="timm architecture (repeatable; default resnet18)")
    parser.add_argument("--images", type=int, default=128, help="generated images")
    parser.add_argument("--size", type=int, default=64, help="side of the generated images in pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of both loops")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="bf16", help="autocast on CUDA: bf16, fp16 or fp32")
    parser.add_argument("--repeat", type=int, default=2, help="repeats of a timing (the shortest is kept)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    wnid = imagenet_classes()[0][0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_images(root / "val" / wnid, args.images, args.size)
        rows = [measure(name, root, paths, args) for name in args.model or ["resnet18"]]
    print(f"{'model':28s} {'runner img/s':>13s} {'bare img/s':>11s} {'ratio':>6s}")
    for row in rows:
        print(f"{row['model']:28s} {row['runner_images_per_second']:13.1f} "
              f"{row['bare_images_per_second']:11.1f} {row['ratio']:6.2f}")
    meets = all(row["ratio"] >= TARGET_RATIO for row in rows)
    print(f"  {args.images} images of {args.size} px on {args.device}, batch size {args.batch_size}, "
          f"{args.workers} DataLoader worker(s), {torch.get_num_threads()} torch threads; "
          f"target ratio >= {TARGET_RATIO}: {'met' if meets else 'not met'}")
    results = {
        "benchmark": "inference_speed", "device": args.device, "precision": args.precision,
        "images": args.images, "size": args.size, "batch_size": args.batch_size, "workers": args.workers,
        "threads": torch.get_num_threads(), "repeat": args.repeat, "target_ratio": TARGET_RATIO,
        "models": rows, "meets_target": meets, **conditions(),
    }
    return finish(results, args.json)


if __name__ == "__main__":
    main()
