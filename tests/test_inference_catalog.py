"""The ImageNet paper catalog and the catalog loader: real names, categories, one-line errors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from norep.errors import NorepError
from norep.producers.inference.catalog import load_catalog, parse_model_id
from norep.zoo import OBJECTIVES

CATALOG = Path(__file__).resolve().parents[1] / "zoos" / "imagenet_paper.yaml"
PAPER_VALUES = {  # PAPER.md, "Published reference accuracies"
    "open_clip/ViT-B-32:openai": 0.6332, "open_clip/ViT-B-16:openai": 0.6834,
    "open_clip/ViT-L-14:openai": 0.7554, "open_clip/ViT-L-14-336:openai": 0.7656,
    "open_clip/RN50:openai": 0.5982, "open_clip/ViT-B-32:laion2b_s34b_b79k": 0.6656,
    "open_clip/ViT-L-14:laion2b_s32b_b82k": 0.7525, "timm/resnet50.tv_in1k": 0.76156,
    "timm/resnet50.tv2_in1k": 0.80846, "timm/resnet50.a1_in1k": 0.80382,
    "timm/resnet18.tv_in1k": 0.69752, "timm/densenet121.tv_in1k": 0.7475,
    "timm/efficientnet_b0.ra_in1k": 0.77698,
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG)


def test_the_paper_catalog_names_only_published_weights(catalog):
    import open_clip
    import timm

    timm_names, clip_pairs = set(timm.list_pretrained()), set(open_clip.list_pretrained())
    assert len(catalog.entries) >= 30
    for entry in catalog.entries:
        ref = entry.ref
        known = ref.name in timm_names if ref.source == "timm" else (ref.name, ref.pretrained) in clip_pairs
        assert known, entry.id
        assert entry.methodology.objective in OBJECTIVES


def test_the_paper_catalog_covers_every_category_but_reinit(catalog):
    counts = Counter(catalog.category(model_id) for model_id in catalog.ids)
    assert catalog.base == "timm/resnet50.tv_in1k" and counts[None] == 1
    assert counts["Hyper-parameters"] >= 10 and counts["Architecture"] >= 10
    assert counts["Framework"] >= 3 and counts["Dataset"] >= 10
    hyper = [i for i in catalog.ids if catalog.category(i) == "Hyper-parameters"]
    assert all(i.startswith("timm/resnet50.") for i in hyper)
    assert "Reinit" in catalog.unavailable and "seed" in catalog.unavailable["Reinit"]


def test_reported_accuracies_are_the_published_ones_or_null(catalog):
    reported = {e.id: e.reported_accuracy for e in catalog.entries if e.reported_accuracy is not None}
    assert reported == PAPER_VALUES


def test_stand_ins_say_which_model_and_why(catalog):
    stand_ins = {e.stand_in_for: e for e in catalog.entries if e.stand_in_for}
    assert any("ALIGN" in name for name in stand_ins) and any("BiT-L" in name for name in stand_ins)
    assert any("SimCLR" in name for name in stand_ins)
    assert all(len(entry.why) > 20 for entry in stand_ins.values())
    assert stand_ins["ALIGN zero-shot (ALIGN-ZS, 75.5%)"].id == "open_clip/ViT-L-14:openai"


def test_canonical_ids_parse():
    assert parse_model_id("timm/resnet50.a1_in1k").name == "resnet50.a1_in1k"
    assert parse_model_id("open_clip/ViT-L-14-336:openai").pretrained == "openai"
    assert parse_model_id("open_clip/RN50").pretrained is None


def write(tmp_path, models, **extra):
    path = tmp_path / "catalog.yaml"
    spec = {"name": "t", "dataset": "imagenet-1k", "base": models[0]["id"], "target_accuracy": 0.7,
            "defaults": {"objective": "cross-entropy", "training_data": "ImageNet-1k"}, "models": models, **extra}
    path.write_text(yaml.safe_dump(spec))
    return path


BASE = {"id": "timm/resnet50.tv_in1k", "architecture": "resnet50"}


@pytest.mark.parametrize("models, extra, message", [
    ([BASE, {"id": "hf/some-model", "architecture": "x"}], {}, "unknown source 'hf'"),
    ([BASE, {"id": "timm/dla60.in1k"}], {}, "lacks 'architecture'"),
    ([BASE, {"id": "timm/dla60.in1k", "architecture": "dla60", "objective": "magic"}], {}, "objective 'magic'"),
    ([BASE, {"id": "timm/dla60.in1k", "architecture": "dla60", "acc": 1}], {}, "unknown key(s) ['acc']"),
    ([BASE, {"id": "timm/dla60.in1k", "architecture": "dla60", "reported_accuracy": 77.1}], {}, "between 0 and 1"),
    ([BASE, "timm/dla60.in1k"], {}, "models[1] must be a mapping"),
    ([BASE, BASE], {}, "appear more than once"),
    ([BASE], {"unavailable": {"Seeds": "x"}}, "unknown key(s) ['Seeds']"),
])
def test_malformed_catalogs_are_one_line_errors(tmp_path, models, extra, message):
    with pytest.raises(NorepError) as error:
        load_catalog(write(tmp_path, models, **extra))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_unknown_model_in_a_selection_names_close_ids(catalog):
    with pytest.raises(NorepError, match=re.escape("did you mean timm/resnet50.a1_in1k")):
        catalog.select(["timm/resnet50.a1_in1kk"])


def test_a_missing_or_invalid_catalog_file_is_one_line(tmp_path):
    with pytest.raises(NorepError, match="does not exist"):
        load_catalog(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("models: [\n")
    with pytest.raises(NorepError, match="not valid YAML at line"):
        load_catalog(tmp_path / "bad.yaml")
