"""Running a classifier over images: data loading, mixed precision, out-of-memory retries.

Images are decoded and transformed in DataLoader worker processes (pinned memory on
CUDA). On CUDA the forward pass runs under bf16 or fp16 autocast with channels-last
inputs; on the CPU in float32. A CUDA out-of-memory error halves the batch and retries,
down to one image. An unreadable image stops the run with one line naming the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from norep.datasets.image_folders import ImageSet, load_image
from norep.errors import NorepError
from norep.producers.inference.models import Classifier

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
log = logging.getLogger(__name__)


class TransformedImages(Dataset):
    """Images of an :class:`ImageSet` by row, transformed; unreadable ones carry their error.

    Args:
        images: The images.
        transform: PIL image -> tensor.
    """

    def __init__(self, images: ImageSet, transform: Callable):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, row: int) -> tuple[torch.Tensor | None, int, str]:
        try:
            return self.transform(load_image(self.images.path(row))), row, ""
        except NorepError as error:
            return None, row, str(error)


def collate(items: list[tuple[torch.Tensor | None, int, str]]) -> tuple[torch.Tensor | None, list[int], list[str]]:
    """Stack a batch: (images, rows, errors); images is None when any image failed."""
    errors = [error for _, _, error in items if error]
    if errors:
        return None, [row for _, row, _ in items], errors
    return torch.stack([image for image, _, _ in items]), [row for _, row, _ in items], []


def image_batches(images: ImageSet, transform: Callable, batches: Sequence[list[int]], workers: int,
                  pin_memory: bool) -> Iterator[tuple[torch.Tensor, list[int]]]:
    """Yield (transformed images, their rows) for each batch of rows, in order.

    Args:
        images: The images.
        transform: PIL image -> tensor.
        batches: Rows of each batch.
        workers: DataLoader worker processes (0: decode in this process).
        pin_memory: Pin the batches in page-locked memory (for CUDA).
    """
    loader = DataLoader(TransformedImages(images, transform), batch_sampler=batches, num_workers=workers,
                        collate_fn=collate, pin_memory=pin_memory, persistent_workers=False)
    for tensor, rows, errors in loader:
        if errors:
            raise NorepError(errors[0])
        yield tensor, rows


class Forward:
    """Forward passes of one classifier on one device, in the requested precision.

    Args:
        classifier: The model (already on ``device``).
        device: A torch device string.
        precision: ``bf16``, ``fp16`` or ``fp32``; autocast applies on CUDA only.
    """

    def __init__(self, classifier: Classifier, device: str, precision: str = "bf16"):
        if precision not in PRECISIONS:
            raise NorepError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.classifier, self.device = classifier, torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.dtype = PRECISIONS[precision] if self.cuda else None
        self.max_batch: int | None = None
        if self.cuda:
            classifier.to(memory_format=torch.channels_last)

    @property
    def precision(self) -> str:
        """The precision really used: fp32 on the CPU."""
        return next((name for name, dtype in PRECISIONS.items() if dtype == self.dtype), "fp32")

    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Return float32 (logits, embeddings) of a batch, halving it on CUDA out-of-memory."""
        while True:
            try:
                outputs = [self._forward(piece) for piece in images.split(self.max_batch or len(images))]
            except torch.OutOfMemoryError:
                size = self.max_batch or len(images)
                if size == 1:
                    raise NorepError(
                        "out of GPU memory with a batch of one image; use a larger GPU or --device cpu"
                    ) from None
                self.max_batch = size // 2
                log.warning("out of GPU memory at batch %d: retrying at %d", size, self.max_batch)
                if self.cuda:
                    torch.cuda.empty_cache()
                continue
            return tuple(np.concatenate([o[k] for o in outputs]) for k in range(2))

    def _forward(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        images = images.to(self.device, non_blocking=True)
        if self.cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(
            self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
        ):
            logits, embeddings = self.classifier.forward_with_embeddings(images)
        return logits.float().cpu().numpy(), embeddings.float().cpu().numpy()
