"""Pretrained classifiers by canonical id: timm models and open_clip zero-shot classifiers.

:func:`load_model` is factory-shaped like ``timm.create_model`` and
``open_clip.create_model_and_transforms``: an id in, ``(model, transform)`` out, where
the model maps a batch of transformed images to logits and also gives the penultimate
embeddings (:meth:`Classifier.forward_with_embeddings`).

- ``timm/<architecture>.<tag>``: ``timm.create_model``; the transform is timm's eval
  transform for the weights (``resolve_data_config`` + ``create_transform``).
- ``open_clip/<name>:<pretrained>``: ``open_clip.create_model_and_transforms``; the head
  is open_clip's ``build_zero_shot_classifier`` over the class names (by default its
  bundled ``IMAGENET_CLASSNAMES``) and templates (by default its 80
  ``OPENAI_IMAGENET_TEMPLATES``): each class embedding is the normalized mean of the
  normalized template embeddings. Logits are the model's logit scale times the cosine
  similarities; embeddings are the image features before normalization. The head is
  cached in ``<norep cache>/zero_shot/`` under a key of the model name, the pretrained tag
  (or the checkpoint's sha256), and the class names and templates.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import torch

from norep.datasets.download import cache_dir
from norep.errors import NorepError
from norep.producers.inference.catalog import ModelRef, parse_model_id
from norep.store import sha256_file


class Classifier(torch.nn.Module):
    """An image classifier that also returns its penultimate embeddings."""

    num_classes: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch of transformed images."""
        return self.forward_with_embeddings(images)[0]

    def forward_with_embeddings(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logits (B x C), embeddings (B x D)) of a batch of transformed images."""
        raise NotImplementedError


class TimmClassifier(Classifier):
    """A timm model; its embeddings are the pooled features before the classifier.

    Args:
        model: A model made by ``timm.create_model``.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.num_classes = model.num_classes

    def forward_with_embeddings(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return timm's logits and ``forward_head(..., pre_logits=True)`` of the same features."""
        features = self.model.forward_features(images)
        return self.model.forward_head(features), self.model.forward_head(features, pre_logits=True)


class ZeroShotClassifier(Classifier):
    """An open_clip model with a zero-shot head of normalized class embeddings.

    Args:
        model: A model made by ``open_clip.create_model_and_transforms``.
        head: Class embeddings, D x C, each normalized.
    """

    def __init__(self, model: torch.nn.Module, head: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("head", head)
        self.num_classes = head.shape[1]

    def forward_with_embeddings(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logit scale x cosine similarity to each class, and the image features."""
        embeddings = self.model.encode_image(images)
        normalized = torch.nn.functional.normalize(embeddings, dim=-1)
        return self.model.logit_scale.exp() * normalized @ self.head.to(normalized.dtype), embeddings


def load_model(
    model_id: str,
    checkpoint: str | Path | None = None,
    pretrained: bool = True,
    *,
    classnames: Sequence[str] | None = None,
    templates: Sequence[Callable[[str], str]] | None = None,
    device: str = "cpu",
    cache: str | Path | None = None,
) -> tuple[Classifier, Callable]:
    """Create a classifier and its eval transform from a canonical id.

    Args:
        model_id: ``timm/<architecture>.<tag>`` or ``open_clip/<name>:<pretrained>``.
        checkpoint: A local weights file used instead of downloaded weights.
        pretrained: Download (or take from the Hugging Face cache) the published
            weights; False leaves them random (unless ``checkpoint`` is given).
        classnames: Class names of an open_clip zero-shot head (default: ImageNet's).
        templates: Prompt templates of the head (default: OpenAI's 80 ImageNet templates).
        device: Where the model goes (the zero-shot head is built there).
        cache: Folder of cached zero-shot heads (default: ``<norep cache>/zero_shot``).

    Returns:
        (model in eval mode on ``device``, transform from a PIL image to a tensor).

    Example:
        >>> model, transform = load_model("timm/resnet50.tv_in1k")    # doctest: +SKIP
        >>> model(transform(image)[None]).argmax(1)                   # doctest: +SKIP
    """
    ref = parse_model_id(model_id)
    checkpoint = None if checkpoint is None else Path(checkpoint)
    if checkpoint is not None and not checkpoint.is_file():
        raise NorepError(f"checkpoint {checkpoint} of {model_id} does not exist; fix the entry's `checkpoint:`")
    _check_known(model_id, ref, checkpoint)
    download = pretrained and checkpoint is None
    if ref.source == "timm":
        model, transform = _timm_model(model_id, ref, checkpoint, download)
    else:
        model, transform = _open_clip_model(
            model_id, ref, checkpoint, download, classnames, templates, device,
            Path(cache) if cache is not None else cache_dir() / "zero_shot",
        )
    return model.to(device).eval(), transform


def _timm_model(model_id: str, ref: ModelRef, checkpoint: Path | None, download: bool):
    import timm
    from timm.data import create_transform, resolve_data_config

    with _download_errors(model_id, ref, download):
        model = timm.create_model(ref.name, pretrained=download)
    if checkpoint is not None:
        _load_state(model, checkpoint, model_id)
    return TimmClassifier(model), create_transform(**resolve_data_config({}, model=model))


def _open_clip_model(model_id, ref, checkpoint, download, classnames, templates, device, cache):
    import open_clip

    weights = str(checkpoint) if checkpoint is not None else (ref.pretrained if download else None)
    with _download_errors(model_id, ref, download):
        model, _, transform = open_clip.create_model_and_transforms(ref.name, pretrained=weights, device=device)
    model.eval()
    classnames = list(classnames if classnames is not None else open_clip.IMAGENET_CLASSNAMES)
    templates = list(templates if templates is not None else open_clip.OPENAI_IMAGENET_TEMPLATES)
    if checkpoint is not None:
        weights_key = sha256_file(checkpoint)
    else:
        weights_key = ref.pretrained if download else None  # random weights: no cache
    file = None
    if weights_key is not None:
        text = "\n".join([ref.name, weights_key, *classnames, "--", *(t("{}") for t in templates)])
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        file = cache / f"{quote(ref.name, safe='')}-{quote(weights_key[:24], safe='')}-{key}.pt"
    if file is not None and file.is_file():
        head = torch.load(file, map_location=device, weights_only=True)
    else:
        head = open_clip.build_zero_shot_classifier(
            model, tokenizer=open_clip.get_tokenizer(ref.name), classnames=classnames,
            templates=templates, num_classes_per_batch=10, device=device,
        )
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(f".{file.name}.tmp")
            torch.save(head.cpu(), tmp)
            tmp.replace(file)
    return ZeroShotClassifier(model, head.float()), transform


def _load_state(model: torch.nn.Module, checkpoint: Path, model_id: str) -> None:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise NorepError(f"checkpoint {checkpoint} does not fit {model_id} ({first}); use this model's weights") from None


@contextlib.contextmanager
def _download_errors(model_id: str, ref: ModelRef, download: bool):
    """Turn a failed weight download into one line saying how to pre-download."""
    try:
        yield
    except (OSError, RuntimeError) as error:
        if not download:
            raise
        reason = (str(error).splitlines() or [type(error).__name__])[0][:160]
        if ref.source == "timm":
            fetch = f"timm.create_model('{ref.name}', pretrained=True)"
        else:
            fetch = f"open_clip.create_model_and_transforms('{ref.name}', pretrained='{ref.pretrained}')"
        raise NorepError(
            f"cannot download the weights of {model_id} ({reason}); pre-download them where there is "
            f"internet (python -c \"import {ref.source}; {fetch}\" fills ~/.cache/huggingface: copy it "
            "here), or point the catalog entry's `checkpoint:` at a local weights file"
        ) from None


def _check_known(model_id: str, ref: ModelRef, checkpoint: Path | None) -> None:
    """Raise naming close known ids when ``ref`` names no model of its source."""
    if ref.source == "timm":
        import timm

        architecture = ref.name.partition(".")[0]
        if timm.is_model(architecture) and (ref.pretrained is None or timm.list_pretrained(ref.name)):
            return
        known = timm.list_pretrained() if ref.pretrained else timm.list_models()
        close = difflib.get_close_matches(ref.name, known, n=3, cutoff=0.6)
        suggestions = [f"timm/{name}" for name in close]
    else:
        import open_clip

        if ref.name in open_clip.list_models() and (
            ref.pretrained is None or checkpoint is not None
            or (ref.name, ref.pretrained) in open_clip.list_pretrained()
        ):
            return
        known = [f"{name}:{tag}" for name, tag in open_clip.list_pretrained()]
        wanted = f"{ref.name}:{ref.pretrained}" if ref.pretrained else ref.name
        close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
        suggestions = [f"open_clip/{name}" for name in close]
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise NorepError(f"unknown model {model_id!r}: {ref.source} has no such model{hint}")
