"""Multi-label downstream sets: 11-point AP, the folder layouts, one-vs-rest linear evaluations.

The AP is checked against a hand-worked ranking and against a naive implementation
(VOC's loop over thresholds in exact fractions, weighted examples written out as
copies); the loaders on tiny folders written here; the evaluations on synthetic
features against fits and a bootstrap assembled here.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from norep.analysis import transfer
from norep.analysis.multilabel import (
    average_precision_11point,
    class_average_precisions,
    mean_average_precision,
    one_vs_rest_scores,
    select_one_vs_rest,
)
from norep.analysis.probes import train_probe
from norep.datasets.downstream import downstream_splits
from norep.datasets.image_folders import is_multilabel_folder, open_multilabel_folder
from norep.errors import NorepError


def naive_ap(scores, labels, ignore=None) -> float:
    """VOC2007's VOCevalcls loop: sort, cumulate, max precision at recall >= t for t = 0..1 by 0.1."""
    kept = [k for k in range(len(scores)) if ignore is None or not ignore[k]]
    ranked = sorted(kept, key=lambda k: -scores[k])
    positives = sum(labels[k] == 1 for k in kept)
    if positives == 0:
        return float("nan")
    points, tp, fp = [], 0, 0
    for k in ranked:
        tp, fp = tp + (labels[k] == 1), fp + (labels[k] != 1)
        points.append((Fraction(tp, positives), Fraction(tp, tp + fp)))
    total = Fraction(0)
    for t in (Fraction(k, 10) for k in range(11)):
        total += max((p for r, p in points if r >= t), default=Fraction(0))
    return float(total / 11)


def test_ap_of_a_hand_worked_ranking():
    # Ranked: P N P (difficult P) P N P. Precision/recall after each kept example:
    # 1/.25, 1/2/.25, 2/3/.5, 3/4/.75, 3/5/.75, 4/6/1. Max precision at recall >= t:
    # t = 0, .1, .2 -> 1; t = .3 .. .7 -> 3/4; t = .8, .9, 1 -> 2/3.
    scores = np.array([7, 6, 5, 4, 3, 2, 1.0])
    labels = np.array([1, 0, 1, 1, 1, 0, 1])
    ignore = np.array([0, 0, 0, 1, 0, 0, 0], bool)
    expected = (3 * 1 + 5 * 0.75 + 3 * 2 / 3) / 11
    assert average_precision_11point(scores, labels, ignore) == pytest.approx(expected)
    assert average_precision_11point(scores[::-1], labels[::-1], ignore[::-1]) == pytest.approx(expected)
    assert average_precision_11point(scores, labels) != pytest.approx(expected)  # the difficult one counts
    assert np.isnan(average_precision_11point(scores, np.zeros(7)))  # no positives: no AP
    # Recall exactly 3/10 reaches t = 0.3 (floating point 0.1 * 3 would not).
    ten = np.array([1] * 3 + [0] * 4 + [1] * 7)
    expected_ten = (4 * 1 + 7 * 10 / 14) / 11
    assert average_precision_11point(-np.arange(14.0), ten) == pytest.approx(expected_ten)


def test_ap_matches_a_naive_implementation_on_random_data():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(5, 60))
        labels = (rng.random(n) < rng.uniform(0.1, 0.6)).astype(int)
        labels[0] = 1
        scores = labels * rng.uniform(0, 2) + rng.normal(size=n)
        ignore = rng.random(n) < 0.1
        ignore[0] = False
        assert average_precision_11point(scores, labels, ignore) == pytest.approx(
            naive_ap(scores, labels, ignore), abs=1e-12)
        # sanity bound only: scikit-learn's AP is not interpolated at 11 points
        if trial < 10 and n >= 40:
            assert abs(average_precision_11point(scores, labels) - average_precision_score(labels, scores)) < 0.1


def test_weights_count_examples_as_copies():
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=(40, 3)), (rng.random((40, 3)) < 0.4).astype(int)
    labels[:3] = np.eye(3, dtype=int)
    ignore = rng.random((40, 3)) < 0.1
    weights = rng.integers(0, 3, size=(4, 40))
    per_class = class_average_precisions(scores, labels, ignore, weights)
    for b in range(4):
        copies = np.repeat(np.arange(40), weights[b])
        naive = [naive_ap(scores[copies, c], labels[copies, c], ignore[copies, c]) for c in range(3)]
        np.testing.assert_allclose(per_class[b], naive)
        assert mean_average_precision(scores, labels, ignore, weights)[b] == pytest.approx(np.nanmean(naive))


def write_files(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_labels_csv_folder(tmp_path):
    root = tmp_path / "scenes"
    write_files(root, ["b.jpg", "a.jpg", "sub/c.png", "d.jpg"])
    (root / "labels.csv").write_text("image,labels\nb.jpg,dog;cat\na.jpg,cat\nsub/c.png, bird \nd.jpg,\n")
    assert is_multilabel_folder(root) and not is_multilabel_folder(tmp_path)
    images = open_multilabel_folder(root)
    assert images.name == "scenes" and images.classes == ["bird", "cat", "dog"]
    assert images.files == ("a.jpg", "b.jpg", "d.jpg", "sub/c.png")
    assert images.labels.tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 0], [1, 0, 0]]
    assert images.parts is None and images.given_parts() is None and images.difficult is None
    (root / "labels.csv").write_text("image,labels,split\nb.jpg,dog;cat,train\na.jpg,cat,held_out\n"
                                     "sub/c.png,bird,test\nd.jpg,dog,train\n")
    images = open_multilabel_folder(root)
    assert {p: v.tolist() for p, v in images.given_parts().items()} == {
        "train": [1, 2], "held_out": [0], "test": [3]}
    taken = images.take(np.array([3, 1]))
    assert taken.files == ("sub/c.png", "b.jpg") and taken.parts == ("test", "train")
    assert taken.labels.tolist() == [[1, 0, 0], [0, 1, 1]]


@pytest.mark.parametrize("content, message", [
    ("file,labels\na.jpg,cat\n", "no column 'image'"),
    ("image,labels\na.jpg,cat;dog\nnope.jpg,cat\n", "lists nope.jpg, which is not in"),
    ("image,labels\na.jpg,cat\nb.jpg,cat\n", "names 1 class"),
    ("image,labels\na.jpg,cat\na.jpg,dog\n", "lists a.jpg twice"),
    ("image,labels,split\na.jpg,cat,train\nb.jpg,dog,val\n", "split 'val' is not one of"),
    ("image,labels,split\na.jpg,cat,train\nb.jpg,dog,test\n", "no image in the held_out part"),
])
def test_malformed_labels_csv_is_one_line(tmp_path, content, message):
    write_files(tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(NorepError, match=message) as error:
        open_multilabel_folder(tmp_path)
    assert "\n" not in str(error.value)


def voc_folder(root, flags: dict[str, dict[str, list[int]]], ids: dict[str, list[str]]):
    """A VOC2007-shaped folder: flags[class][split] per image id of ids[split]."""
    write_files(root, [f"JPEGImages/{i}.jpg" for split in ids.values() for i in split])
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for name, per_split in flags.items():
        for split, values in per_split.items():
            (main / f"{name}_{split}.txt").write_text(
                "".join(f"{i}  {v}\n" for i, v in zip(ids[split], values)))
    return root


def test_voc_folder_with_difficult_flags_and_parts(tmp_path):
    ids = {"train": ["000002", "000005"], "val": ["000001"], "test": ["000004", "000003"]}
    root = voc_folder(tmp_path / "VOC2007", {
        "dog": {"train": [1, -1], "val": [0], "test": [-1, 1]},
        "cat": {"train": [1, 1], "val": [-1], "test": [0, -1]}}, ids)
    images = open_multilabel_folder(root)
    assert images.name == "VOC2007" and images.classes == ["cat", "dog"]
    assert images.files == tuple(f"JPEGImages/00000{k}.jpg" for k in range(1, 6))
    assert images.labels.tolist() == [[0, 1], [1, 1], [0, 1], [1, 0], [1, 0]]
    assert images.difficult.tolist() == [[False, True], [False] * 2, [False] * 2, [True, False], [False] * 2]
    assert images.parts == ("held_out", "train", "test", "test", "train")
    with pytest.raises(NorepError, match="dog_train.txt and cat_train.txt list different images"):
        (root / "ImageSets/Main/cat_train.txt").write_text("000002 1\n")
        open_multilabel_folder(root)
    with pytest.raises(NorepError, match="line 1 is not '<image id> <1, -1 or 0>'"):
        (root / "ImageSets/Main/cat_train.txt").write_text("000002 2\n")
        open_multilabel_folder(root)


def test_voc_folder_without_test_lists_is_pooled(tmp_path):
    ids = {"trainval": ["a", "b", "c"], "test": ["d"]}
    root = voc_folder(tmp_path / "VOC2012", {"dog": {"trainval": [1, -1, 1], "test": [1]},
                                             "cat": {"trainval": [-1, 1, 0]}}, ids)
    images = open_multilabel_folder(root)  # cat has no test list: trainval only, a seeded split
    assert images.files == ("JPEGImages/a.jpg", "JPEGImages/b.jpg", "JPEGImages/c.jpg")
    assert images.parts is None and images.labels.tolist() == [[0, 1], [1, 0], [1, 1]]
    (root / "JPEGImages" / "b.jpg").unlink()
    with pytest.raises(NorepError, match="lists JPEGImages/b.jpg, which is not in"):
        open_multilabel_folder(root)


def synthetic(seed: int = 0, n: int = 240):
    """Labels of 3 classes; an embedding that carries them, one of noise, and the parts."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 3)) < 0.35).astype(np.uint8)
    informative = labels + rng.normal(scale=0.7, size=(n, 3))
    noise = rng.normal(size=(n, 4))
    ignore = rng.random((n, 3)) < 0.05
    return [informative, noise], labels, ignore, downstream_splits(np.zeros(n, int), seed)


def test_one_vs_rest_selection_matches_fits_assembled_here():
    (x, _), labels, ignore, parts = synthetic()
    train, held = parts["train"], parts["held_out"]
    grid = (1e-2, 1.0)
    probes, table = select_one_vs_rest(x[train], labels[train], x[held], labels[held], ignore[held], grid)
    naive = []
    for l2 in grid:
        scores = np.stack([np.diff(train_probe(x[train], labels[train, c], l2, 2).logits(x[held]), axis=1)[:, 0]
                           for c in range(3)], axis=1)
        naive.append(np.mean([naive_ap(scores[:, c], labels[held, c], ignore[held, c]) for c in range(3)]))
    np.testing.assert_allclose(table["held_out_map"], naive, atol=0.02)  # warm starts: same optimum
    assert probes[0].l2 == grid[int(np.argmax(table["held_out_map"]))] and len(probes) == 3
    rows = np.concatenate([train, held])
    refit = train_probe(x[rows], labels[rows, 1], probes[0].l2, 2)
    np.testing.assert_allclose(one_vs_rest_scores(probes, x)[:, 1],
                               np.diff(refit.logits(x), axis=1)[:, 0], atol=0.05)


def test_ranking_evaluation_prefers_the_informative_embedding():
    embeddings, labels, ignore, parts = synthetic()
    evaluation = transfer.ranking_evaluation(embeddings, labels, parts, ignore)
    test = parts["test"]
    assert evaluation.pairs.tolist() == [[0, 1]] and evaluation.metric == "11-point mAP"
    for scores, expected in zip(evaluation.single_scores, evaluation.single_score):
        naive = np.mean([naive_ap(scores[:, c], labels[test, c], ignore[test, c]) for c in range(3)])
        assert expected == pytest.approx(naive)
    informative, noise = evaluation.single_score
    assert informative > noise + 0.2 and evaluation.pair_score[0] >= noise
    best = transfer.best_single_vs_pair(evaluation, n_bootstrap=60, seed=3)
    assert best.single == 0 and best.single_score == informative
    assert best.gain == pytest.approx(evaluation.pair_score[0] - informative)
    # the interval: both mAPs recomputed on resamples of the test examples, drawn as the package does
    draws = np.random.default_rng(3)
    gains = []
    for size in (50, 10):
        for rows in draws.integers(0, len(test), size=(size, len(test))):
            gains.append(np.nanmean([naive_ap(evaluation.pair_scores[0][rows, c], labels[test][rows, c],
                                              ignore[test][rows, c]) for c in range(3)])
                         - np.nanmean([naive_ap(evaluation.single_scores[0][rows, c], labels[test][rows, c],
                                                ignore[test][rows, c]) for c in range(3)]))
    assert (best.low, best.high) == pytest.approx(tuple(np.quantile(gains, [0.025, 0.975])))
