"""predict_zoo: agreement with a bare timm loop, zero-shot stores, shards, resume, SLURM arrays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from inference_checks import (
    bare_timm_top1,
    class_folder_layout,
    flat_loc_layout,
    imagenet_labels,
    timm_checkpoint,
    timm_entries,
    tiny_clip_checkpoint,
    write_catalog,
    write_images,
)
from PIL import Image

from norep.cli import main
from norep.errors import NorepError
from norep.producers.inference import load_catalog, parse_shard, predict_zoo, zoo_status
from norep.producers.inference.batches import Forward
from norep.producers.inference.chunks import WORK, Chunks, rows_done
from norep.producers.inference.models import Classifier
from norep.producers.inference.runner import shard_entries
from norep.store import Store
from norep.store.store import float16_store_logits

LABELS = imagenet_labels(24)
RUN = {"device": "cpu", "batch_size": 4, "workers": 0, "chunk_size": 8, "progress": False}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Class-folder ImageNet images and a catalog of four tiny timm models with checkpoints."""
    root = tmp_path_factory.mktemp("zoo")
    data = class_folder_layout(root / "val", LABELS)
    return root, data, write_catalog(root / "catalog.yaml", timm_entries(root))


@pytest.fixture(scope="module")
def reference(zoo):
    """The store of one uninterrupted, unsharded run."""
    root, data, catalog = zoo
    predict_zoo(catalog, data, root / "reference", **RUN)
    return Store(root / "reference")


def test_top1_agrees_with_a_bare_timm_loop_on_every_image(zoo, reference):
    root, data, _ = zoo
    files = sorted(data.rglob("*.JPEG"), key=lambda p: p.name)
    for model_id in reference.model_ids:
        name = model_id.removeprefix("timm/")
        bare = bare_timm_top1(name, root / f"{name}-0.pth", files, batch_size=4)
        np.testing.assert_array_equal(reference.logits(model_id).argmax(1), bare)


def test_the_store_holds_examples_methodology_and_embeddings(reference):
    examples = reference.examples
    assert examples["example_id"].tolist() == [f"ILSVRC2012_val_{k + 1:08d}.JPEG" for k in range(24)]
    np.testing.assert_array_equal(examples["label"], LABELS)
    assert (examples["split"] == "calibration").sum() == 6  # the catalog's 25%
    assert set(examples["class_range"]) <= {"nature", "anthropogenic", "other"}
    meta = reference.meta("timm/test_vit.r160_in1k")
    assert meta["architecture"] == "test_vit" and meta["objective"] == "cross-entropy"
    assert meta["training_data"] == "ImageNet-1k" and meta["precision"] == "fp32"
    logits = reference.logits("timm/test_vit.r160_in1k")
    assert meta["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == LABELS))
    assert reference.array("timm/test_vit.r160_in1k", "embeddings").shape == (24, 64)
    assert not (reference.path / WORK / "timm%2Ftest_vit.r160_in1k").exists()  # chunks removed


def test_status_and_a_second_run_that_has_nothing_to_do(zoo, reference):
    root, data, catalog = zoo
    status = zoo_status(catalog, reference.path)
    assert status["state"].tolist() == ["done"] * 4 and status["rows_done"].tolist() == [24] * 4
    assert status["category"].tolist()[1:] == ["Architecture"] * 3
    assert predict_zoo(catalog, data, reference.path, **RUN) == []
    assert zoo_status(catalog, root / "nothing-yet")["state"].tolist() == ["pending"] * 4


def test_the_flat_layout_gives_the_same_store(zoo, reference, tmp_path):
    root, _, catalog = zoo
    flat = flat_loc_layout(tmp_path, LABELS)
    predict_zoo(catalog, flat, tmp_path / "store", models=["timm/test_resnet.r160_in1k"], **RUN)
    store = Store(tmp_path / "store")
    assert store.manifest["dataset"] == reference.manifest["dataset"]
    np.testing.assert_array_equal(store.logits("timm/test_resnet.r160_in1k"),
                                  reference.logits("timm/test_resnet.r160_in1k"))


def test_dtype_float16_keeps_shifted_logits_and_a_store_keeps_its_dtype(zoo, reference, tmp_path, capsys):
    root, data, catalog = zoo
    model, store = "timm/test_resnet.r160_in1k", tmp_path / "half"
    command = ["predict", str(catalog), "--data", str(data), "--store", str(store), "--device", "cpu",
               "--batch-size", "4", "--workers", "0", "--models", model]
    assert main([*command, "--dtype", "float16"]) == 0
    half = Store(store)
    assert half.logits_dtype == "float16" and half.logits(model).dtype == np.float32
    np.testing.assert_array_equal(half.logits(model), float16_store_logits(reference.logits(model)))
    np.testing.assert_array_equal(half.array(model, "embeddings"), reference.array(model, "embeddings"))
    capsys.readouterr()
    assert main([*command, "--dtype", "float32"]) == 2
    assert capsys.readouterr().err.strip().endswith("stores logits as float16, not float32; "
                                                    "use another --store or the same --dtype")
    assert main(command) == 0 and Store(store).logits_dtype == "float16"  # without --dtype: the store's own
    assert main([*command, "--store", str(tmp_path / "full")]) == 0  # a new store: float32, as given
    np.testing.assert_array_equal(Store(tmp_path / "full").logits(model), reference.logits(model))
    with pytest.raises(SystemExit):
        main([*command, "--dtype", "float64"])


def test_shards_take_every_nth_model_and_read_slurm_arrays(zoo, monkeypatch):
    _, _, catalog = zoo
    entries = load_catalog(catalog).entries
    assert [e.id for e in shard_entries(list(entries), parse_shard("1/2"))] == [
        "timm/test_resnet.r160_in1k", "timm/test_efficientnet.r160_in1k"]
    assert parse_shard(None) is None
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert parse_shard(None) == (1, 3) and parse_shard((0, 1)) == (0, 1)
    for bad in ("2/2", "a/b", "-1/3"):
        with pytest.raises(NorepError, match="I/N|0..N-1"):
            parse_shard(bad)


@pytest.mark.slow
def test_shards_run_one_after_the_other_fill_the_store(zoo, reference, tmp_path, monkeypatch):
    root, data, catalog = zoo
    assert predict_zoo(catalog, data, tmp_path / "s", shard="1/2", **RUN) == [
        "timm/test_resnet.r160_in1k", "timm/test_efficientnet.r160_in1k"]
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert predict_zoo(catalog, data, tmp_path / "s", **RUN) == [
        "timm/test_vit.r160_in1k", "timm/test_convnext.r160_in1k"]
    assert Store(tmp_path / "s").manifest["files"] == reference.manifest["files"]


def test_a_generic_folder_with_an_open_clip_zero_shot_model(tmp_path):
    import open_clip

    name, checkpoint = tiny_clip_checkpoint(tmp_path)
    classes = ["cat", "dog", "bird", "fish"]
    paths = write_images(tmp_path / "pets", [f"{c}/{k}.jpg" for c in classes for k in range(3)])
    (tmp_path / "classes.txt").write_text("\n".join(classes) + "\n")
    catalog = write_catalog(tmp_path / "c.yaml", [
        {"id": f"open_clip/{name}", "architecture": name, "objective": "contrastive-image-text",
         "training_data": "random", "checkpoint": checkpoint.name},
        {"id": "timm/test_vit.r160_in1k", "architecture": "test_vit",
         "checkpoint": timm_checkpoint(tmp_path, "test_vit.r160_in1k").name},
    ])
    predict_zoo(catalog, tmp_path / "pets", tmp_path / "store", class_list=tmp_path / "classes.txt",
                models=[f"open_clip/{name}"], **RUN)
    store = Store(tmp_path / "store")
    assert store.classes == classes and store.manifest["dataset"]["name"] == "pets"
    model, _, transform = open_clip.create_model_and_transforms(name, pretrained=str(checkpoint))
    tokenizer = open_clip.get_tokenizer(name)
    with torch.no_grad():
        head = open_clip.build_zero_shot_classifier(model.eval(), tokenizer, classes, open_clip.OPENAI_IMAGENET_TEMPLATES)
        images = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
        expected = (torch.nn.functional.normalize(model.encode_image(images), dim=-1) @ head).argmax(1)
    np.testing.assert_array_equal(store.logits(f"open_clip/{name}").argmax(1), expected.numpy())
    with pytest.raises(NorepError, match="has 1000 outputs but pets has 4 classes"):
        predict_zoo(catalog, tmp_path / "pets", tmp_path / "store", class_list=tmp_path / "classes.txt", **RUN)


def test_a_corrupt_image_stops_the_run_or_is_skipped(zoo, tmp_path):
    _, _, catalog = zoo
    data = class_folder_layout(tmp_path / "val", LABELS[:10])
    broken = sorted(data.rglob("*.JPEG"))[4]
    broken.write_bytes(b"garbage")
    one = ["timm/test_convnext.r160_in1k"]
    with pytest.raises(NorepError) as error:
        predict_zoo(catalog, data, tmp_path / "store", models=one, **RUN)
    assert str(broken) in str(error.value) and "\n" not in str(error.value)
    predict_zoo(catalog, data, tmp_path / "skipped", models=one, skip_corrupt=True, **RUN)
    store = Store(tmp_path / "skipped")
    assert len(store.examples) == 9 and broken.name not in set(store.examples["example_id"])
    assert store.meta(one[0])["images_skipped"] == 1


class Fussy(Classifier):
    """A classifier that runs out of memory on batches of more than two images."""

    num_classes = 3

    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward_with_embeddings(self, images):
        self.sizes.append(len(images))
        if len(images) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        flat = images.flatten(1)
        return flat[:, :3] * 2, flat[:, :5]


def test_out_of_memory_halves_the_batch_and_keeps_every_row():
    images = torch.arange(8 * 6, dtype=torch.float32).reshape(8, 6)
    model = Fussy()
    logits, embeddings = Forward(model, "cpu", "bf16")(images)
    np.testing.assert_array_equal(logits, images[:, :3].numpy() * 2)
    np.testing.assert_array_equal(embeddings, images[:, :5].numpy())
    assert model.sizes == [8, 4, 2, 2, 2, 2]
    with pytest.raises(NorepError, match="out of GPU memory with a batch of one image"):
        Forward(type("Hopeless", (Fussy,), {"forward_with_embeddings": lambda self, x: (_ for _ in ()).throw(
            torch.OutOfMemoryError("oom"))})(), "cpu")(images[:2])


def test_chunks_of_other_settings_are_discarded(tmp_path):
    chunks = Chunks(tmp_path, "timm/x", rows=10, chunk_size=4, settings={"precision": "bf16"})
    chunks.open()
    chunks.save(0, 4, {"logits": np.zeros((4, 2))})
    assert chunks.missing() == [(4, 8), (8, 10)] and rows_done(tmp_path, "timm/x") == 4
    other = Chunks(tmp_path, "timm/x", rows=10, chunk_size=4, settings={"precision": "fp16"})
    other.open()
    assert rows_done(tmp_path, "timm/x") == 0


SCRIPT = """
import sys
from norep.producers.inference import predict_zoo
predict_zoo(sys.argv[1], sys.argv[2], sys.argv[3], shard=sys.argv[4] if len(sys.argv) > 4 else None,
            device="cpu", batch_size=4, workers=0, chunk_size=8, progress=False)
"""


def run_script(*args) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_and_ends_with_the_same_store(zoo, reference, tmp_path, monkeypatch):
    root, data, catalog = zoo
    store = tmp_path / "store"
    process = run_script(catalog, data, store)
    deadline = time.time() + 120
    while not list(store.glob(f"{WORK}/*/rows-*.npz")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, process.stdout.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    status = zoo_status(catalog, store)
    assert "partial" in set(status["state"]) and "pending" in set(status["state"])
    kept = {p.name: p.stat().st_mtime_ns for p in store.glob(f"{WORK}/*/rows-*.npz")}
    saved = []
    original = Chunks.save
    monkeypatch.setattr(Chunks, "save", lambda self, a, b, arrays: (saved.append((self.folder.name, a)),
                                                                     original(self, a, b, arrays)))
    predict_zoo(catalog, data, store, **RUN)
    first = next(iter(zoo_status(catalog, store).query("state == 'done'")["model_id"]))
    assert ("timm%2F" + first.removeprefix("timm/"), 0) not in saved  # its finished chunk was kept
    assert len(saved) == 4 * 3 - len(kept)
    assert Store(store).manifest["files"] == reference.manifest["files"]
    assert Store(store).model_ids == reference.model_ids


@pytest.mark.slow
def test_two_shards_write_into_one_store_at_the_same_time(zoo, reference, tmp_path):
    root, data, catalog = zoo
    store = tmp_path / "store"
    processes = [run_script(catalog, data, store, f"{i}/2") for i in range(2)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stdout.read().decode()[-2000:]
    opened = Store(store)
    assert sorted(opened.model_ids) == sorted(reference.model_ids)
    assert opened.verify() == len(reference.manifest["files"])
    assert opened.manifest["files"] == reference.manifest["files"]


@pytest.mark.slow
def test_submitit_local_array_fills_one_store(zoo, reference, tmp_path):
    from norep.producers.inference import submit_slurm

    root, data, catalog = zoo
    store = tmp_path / "store"
    jobs = submit_slurm(catalog, data, store, shards=2, gpus=0, cpus=1, time_minutes=10, cluster="local",
                        folder=tmp_path / "submitit", batch_size=4, chunk_size=8, device="cpu")
    added = [job.result() for job in jobs]
    assert sorted(sum(added, [])) == sorted(reference.model_ids)
    assert added[0] == ["timm/test_vit.r160_in1k", "timm/test_convnext.r160_in1k"]
    assert Store(store).manifest["files"] == reference.manifest["files"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_autocast_runs_agree_with_the_cpu(zoo, reference, tmp_path):
    root, data, catalog = zoo
    predict_zoo(catalog, data, tmp_path / "gpu", **{**RUN, "device": "cuda", "workers": 2})
    store = Store(tmp_path / "gpu")
    for model_id in reference.model_ids:
        assert store.meta(model_id)["precision"] == "bf16"
        agree = np.mean(store.logits(model_id).argmax(1) == reference.logits(model_id).argmax(1))
        assert agree >= 0.75, (model_id, agree)
