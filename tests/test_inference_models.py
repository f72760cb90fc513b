"""load_model: timm and open_clip factories, zero-shot heads and their cache, bad ids and weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inference_checks import (
    bare_timm_top1,
    timm_checkpoint,
    tiny_clip_checkpoint,
    write_images,
)
from PIL import Image

from norep.errors import NorepError
from norep.producers.inference.models import load_model


def test_timm_model_matches_a_plain_timm_forward(tmp_path):
    checkpoint = timm_checkpoint(tmp_path, "test_resnet.r160_in1k")
    paths = write_images(tmp_path / "img", [f"{k}.jpg" for k in range(6)])
    model, transform = load_model("timm/test_resnet.r160_in1k", checkpoint=checkpoint)
    batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    with torch.inference_mode():
        logits, embeddings = model.forward_with_embeddings(batch)
        plain = model.model(batch)
    torch.testing.assert_close(logits, plain)
    assert embeddings.shape == (6, model.model.num_features) and model.num_classes == 1000
    np.testing.assert_array_equal(logits.argmax(1).numpy(), bare_timm_top1("test_resnet.r160_in1k", checkpoint, paths))
    assert transform.transforms[1].size == (160, 160)  # timm's eval transform for the weights


def test_zero_shot_head_is_the_normalized_mean_of_template_embeddings(tmp_path):
    import open_clip

    name, checkpoint = tiny_clip_checkpoint(tmp_path)
    classes = ["cat", "dog", "bird"]
    templates = [lambda c: f"a photo of a {c}.", lambda c: f"a drawing of a {c}."]
    model, transform = load_model(f"open_clip/{name}", checkpoint=checkpoint, classnames=classes,
                                  templates=templates, cache=tmp_path / "cache")
    clip = model.model
    tokenizer = open_clip.get_tokenizer(name)
    with torch.no_grad():
        expected = []
        for c in classes:
            text = clip.encode_text(tokenizer([t(c) for t in templates]))
            mean = torch.nn.functional.normalize(text, dim=-1).mean(0)
            expected.append(mean / mean.norm())
    torch.testing.assert_close(model.head, torch.stack(expected, dim=1))
    image = transform(Image.fromarray(np.full((64, 64, 3), 120, np.uint8)))[None]
    with torch.inference_mode():
        logits, embeddings = model.forward_with_embeddings(image)
        features = clip.encode_image(image)
        manual = clip.logit_scale.exp() * torch.nn.functional.normalize(features, dim=-1) @ model.head
    torch.testing.assert_close(logits, manual)
    torch.testing.assert_close(embeddings, features)
    assert len(list((tmp_path / "cache").glob("tiny-clip-*.pt"))) == 1


def test_zero_shot_heads_are_cached_by_weights_and_templates(tmp_path, monkeypatch):
    import open_clip

    name, checkpoint = tiny_clip_checkpoint(tmp_path)
    first, _ = load_model(f"open_clip/{name}", checkpoint=checkpoint, classnames=["a", "b"], cache=tmp_path)
    assert first.head.shape == (32, 2)

    def fail(*args, **kwargs):
        raise AssertionError("the cached head should be used")

    monkeypatch.setattr(open_clip, "build_zero_shot_classifier", fail)
    again, _ = load_model(f"open_clip/{name}", checkpoint=checkpoint, classnames=["a", "b"], cache=tmp_path)
    torch.testing.assert_close(again.head, first.head)
    with pytest.raises(AssertionError, match="cached head"):  # other class names: another key
        load_model(f"open_clip/{name}", checkpoint=checkpoint, classnames=["a", "c"], cache=tmp_path)


@pytest.mark.parametrize("model_id, suggestion", [
    ("timm/resnet50.tv_in1kk", "timm/resnet50.tv_in1k"),
    ("timm/resnt50", "timm/resnet50"),
    ("open_clip/ViT-B-32:opnai", "open_clip/ViT-B-32:openai"),
    ("open_clip/ViT-B-23:openai", "open_clip/ViT-B-32:openai"),
])
def test_unknown_model_ids_suggest_close_names(model_id, suggestion):
    with pytest.raises(NorepError) as error:
        load_model(model_id, pretrained=False)
    message = str(error.value)
    assert f"unknown model {model_id!r}" in message and suggestion in message and "\n" not in message


def test_an_unknown_source_is_one_line():
    with pytest.raises(NorepError, match="unknown source 'hf'"):
        load_model("hf/some/model")


def test_weights_that_cannot_be_downloaded_say_how_to_get_them(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", "/nonexistent-norep-hf-home")
    with pytest.raises(NorepError) as error:
        load_model("timm/test_vit.r160_in1k", pretrained=True)
    message = str(error.value)
    assert "cannot download the weights of timm/test_vit.r160_in1k" in message
    assert "timm.create_model('test_vit.r160_in1k', pretrained=True)" in message and "checkpoint:" in message
    assert "\n" not in message


def test_missing_or_mismatched_checkpoints(tmp_path):
    with pytest.raises(NorepError, match="does not exist"):
        load_model("timm/test_vit.r160_in1k", checkpoint=tmp_path / "none.pth")
    other = timm_checkpoint(tmp_path, "test_resnet.r160_in1k")
    with pytest.raises(NorepError, match="does not fit timm/test_vit.r160_in1k"):
        load_model("timm/test_vit.r160_in1k", checkpoint=other)
