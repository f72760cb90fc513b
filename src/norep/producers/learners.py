"""Training recipes of the mini zoo: supervised, distilled, hinge-loss and contrastive
networks, and classical learners from scikit-learn.

Neural recipes keep the checkpoint whose calibration-split accuracy is closest to a
target accuracy (accuracy matching, checked ``evals_per_epoch`` times per epoch), so
that models trained differently are compared at the same strength; training stops
once that checkpoint is behind it (the accuracy has passed the target and moved
away). A checkpoint is first screened on the calibration split's first
``SCREEN_SIZE`` images and evaluated on the whole split only when the screen is
within ``SCREEN_MARGIN`` of the target or above it (a checkpoint 0.02 below the
target is screened out with probability under 1%); the last one always is. A recipe with ``checkpoint: final`` instead trains its whole schedule and keeps
the last weights (a converged model, as the accuracy controls are). ``train_fraction``
trains on a random share of the training subset, drawn with the model's seed.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from norep.errors import NorepError
from norep.producers.architectures import (
    BACKBONES,
    Classifier,
    build_backbone,
    count_parameters,
)

PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530
SUPERVISED_DEFAULTS = {
    "optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "batch_size": 256, "epochs": 3,
    "schedule": "onecycle", "dropout": 0.0, "label_smoothing": 0.0, "augmentation": "none",
    "evals_per_epoch": 4, "target_accuracy": None, "checkpoint": "matched", "train_fraction": 1.0,
}
SCREEN_SIZE, SCREEN_MARGIN = 1000, 0.05
DISTILLATION_DEFAULTS = {**SUPERVISED_DEFAULTS, "teacher": None, "distill_temperature": 4.0,
                         "distill_weight": 0.9}
HINGE_DEFAULTS = {**SUPERVISED_DEFAULTS, "margin": 1.0}
CONTRASTIVE_DEFAULTS = {**SUPERVISED_DEFAULTS, "pretrain_epochs": 6, "pretrain_lr": 2e-3,
                        "pretrain_batch_size": 512, "nt_xent_temperature": 0.5,
                        "projection_dim": 64}


@dataclass
class TrainingData:
    """Everything a recipe may read: its training set, the calibration set, a teacher.

    Attributes:
        images: Training images, uint8 N x 28 x 28.
        labels: Training labels.
        calibration_images: Images used to select the checkpoint.
        calibration_labels: Their labels.
        target_accuracy: Calibration accuracy the checkpoint is matched to.
        teacher: Returns a teacher network by model id (distillation only).
    """

    images: np.ndarray
    labels: np.ndarray
    calibration_images: np.ndarray
    calibration_labels: np.ndarray
    target_accuracy: float
    teacher: Callable[[str], nn.Module] | None = None


@dataclass
class Trained:
    """A trained member: something that maps images to logits (and embeddings)."""

    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    network: nn.Module | None
    info: dict = field(default_factory=dict)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """Normalize uint8 images to a float tensor N x 1 x 28 x 28."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
    return ((x - PIXEL_MEAN) / PIXEL_STD).unsqueeze(1)


@torch.no_grad()
def network_outputs(network: Classifier, images: np.ndarray, batch_size: int = 512
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Return logits and penultimate-layer embeddings of a classifier, in batches."""
    network.eval()
    logits, embeddings = [], []
    for start in range(0, len(images), batch_size):
        x = to_tensor(images[start:start + batch_size]).contiguous(memory_format=torch.channels_last)
        embedding = network.backbone(x)
        embeddings.append(embedding.numpy())
        logits.append(network.head(embedding).numpy())
    return np.concatenate(logits), np.concatenate(embeddings)


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift by up to 2 pixels in each direction and flip horizontally, at random."""
    n = len(x)
    padded = F.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2, n), generator=generator)
    rows = torch.arange(28)[None, :] + dy[:, None]
    cols = torch.arange(28)[None, :] + dx[:, None]
    shifted = padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], shifted.flip(3), shifted)


def _schedule(optimizer: torch.optim.Optimizer, name: str, lr: float, total_steps: int):
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise NorepError(f"unknown schedule {name!r}; use onecycle, cosine or constant")


def _evaluate(module: nn.Module, inputs: torch.Tensor, labels: np.ndarray, batch_size: int = 512) -> float:
    module.eval()
    with torch.no_grad():
        predictions = torch.cat([module(inputs[i:i + batch_size]).argmax(1)
                                 for i in range(0, len(inputs), batch_size)])
    return float((predictions.numpy() == labels).mean())


def _matching_accuracy(module: nn.Module, calibration: tuple, target: float, last: bool) -> float | None:
    """Return the calibration accuracy of a checkpoint, or None when its screen is far below ``target``."""
    inputs, labels = calibration
    if not last and len(labels) > SCREEN_SIZE:
        screen = _evaluate(module, inputs[:SCREEN_SIZE], labels[:SCREEN_SIZE])
        if screen < target - SCREEN_MARGIN:
            return None
    return _evaluate(module, inputs, labels)


def _fit(module: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, calibration: tuple,
         hp: dict, target: float, generator: torch.Generator, desc: str | None,
         loss_fn: Callable | None = None, augment: bool = False) -> dict:
    """Train ``module`` and keep the checkpoint whose calibration accuracy is nearest ``target``.

    Args:
        module: Maps a batch of ``inputs`` to logits.
        inputs: Training inputs (images N x 1 x 28 x 28, or embeddings N x D).
        labels: Training labels.
        calibration: (inputs, labels as numpy) of the calibration split.
        hp: Recipe hyper-parameters (see ``SUPERVISED_DEFAULTS``).
        target: Calibration accuracy to match.
        generator: Seeded generator for shuffling and augmentation.
        desc: Progress-bar label (None: no bar).
        loss_fn: ``loss_fn(logits, batch_inputs, batch_labels)``; cross-entropy by default.
        augment: Whether to shift and flip image batches.

    Returns:
        Selection details: calibration accuracy, selected step and epoch.
    """
    if loss_fn is None:
        def loss_fn(logits, _, y):
            return F.cross_entropy(logits, y, label_smoothing=hp["label_smoothing"])
    if hp["optimizer"] == "adamw":
        optimizer = torch.optim.AdamW(module.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    elif hp["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(module.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"],
                                    momentum=0.9, nesterov=True)
    else:
        raise NorepError(f"unknown optimizer {hp['optimizer']!r}; use adamw or sgd (Nesterov momentum 0.9)")
    n, batch_size = len(inputs), hp["batch_size"]
    steps_per_epoch = math.ceil(n / batch_size)
    total = hp["epochs"] * steps_per_epoch
    scheduler = _schedule(optimizer, hp["schedule"], hp["lr"], total)
    if hp["checkpoint"] == "final":
        checkpoints = {total}
    elif hp["checkpoint"] == "matched":
        checkpoints = {round(steps_per_epoch * (e + k / hp["evals_per_epoch"]))
                       for e in range(hp["epochs"]) for k in range(1, hp["evals_per_epoch"] + 1)}
    else:
        raise NorepError(f"unknown checkpoint {hp['checkpoint']!r}; use matched or final")
    best = {"gap": math.inf}
    step, passed = 0, False
    with tqdm(total=total, desc=desc, unit="step", leave=False, disable=desc is None) as bar:
        for _ in range(hp["epochs"]):
            if passed:
                break
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                x = inputs[batch]
                if augment:
                    x = _augment(x, generator).contiguous(memory_format=torch.channels_last)
                module.train()
                loss = loss_fn(module(x), x, labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                step += 1
                bar.update()
                if step in checkpoints:
                    accuracy = _matching_accuracy(module, calibration, target, last=step == total)
                    if accuracy is None:
                        continue
                    if abs(accuracy - target) < best["gap"]:
                        best = {"gap": abs(accuracy - target), "accuracy": accuracy, "step": step,
                                "state": copy.deepcopy(module.state_dict())}
                    elif accuracy > target:
                        passed = True  # the checkpoint nearest the target is behind
                        break
                    bar.set_postfix(calibration_accuracy=f"{accuracy:.4f}")
    module.load_state_dict(best["state"])
    return {"calibration_accuracy": best["accuracy"], "selected_step": best["step"],
            "selected_epoch": round(best["step"] / steps_per_epoch, 3), "trained_steps": step,
            "total_steps": total}


def _image_tensors(images: np.ndarray) -> torch.Tensor:
    return to_tensor(images).contiguous(memory_format=torch.channels_last)


def _training_rows(hp: dict, n: int, generator: torch.Generator) -> np.ndarray:
    """The rows a recipe trains on: all of them, or a seeded random ``train_fraction``."""
    fraction = hp["train_fraction"]
    if not 0 < fraction <= 1:
        raise NorepError(f"train_fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return np.arange(n)
    return np.sort(torch.randperm(n, generator=generator)[:max(1, round(fraction * n))].numpy())


def _supervised(architecture: str, hp: dict, data: TrainingData, generator: torch.Generator,
                desc: str | None, loss_fn: Callable | None = None) -> Trained:
    backbone, width = build_backbone(architecture)
    network = Classifier(backbone, width, 10, dropout=hp["dropout"]).to(memory_format=torch.channels_last)
    calibration = (_image_tensors(data.calibration_images), data.calibration_labels)
    rows = _training_rows(hp, len(data.images), generator)
    info = _fit(network, _image_tensors(data.images[rows]), torch.from_numpy(data.labels[rows].astype(np.int64)),
                calibration, hp, data.target_accuracy, generator, desc, loss_fn,
                augment=hp["augmentation"] == "shift-flip")
    return Trained(lambda images: network_outputs(network, images), network,
                   {**info, "n_parameters": count_parameters(network)})


def _distillation(architecture: str, hp: dict, data: TrainingData, generator: torch.Generator,
                  desc: str | None) -> Trained:
    if not hp["teacher"] or data.teacher is None:
        raise NorepError("a distillation member needs hyperparameters.teacher: the id of a trained member")
    teacher = data.teacher(hp["teacher"]).eval()
    temperature, weight = hp["distill_temperature"], hp["distill_weight"]

    def loss_fn(logits, x, y):
        with torch.no_grad():
            soft = F.softmax(teacher(x) / temperature, dim=1)
        distill = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft, reduction="batchmean")
        return weight * temperature ** 2 * distill + (1 - weight) * F.cross_entropy(logits, y)

    return _supervised(architecture, hp, data, generator, desc, loss_fn)


def _hinge(architecture: str, hp: dict, data: TrainingData, generator: torch.Generator,
           desc: str | None) -> Trained:
    margin = hp["margin"]
    return _supervised(architecture, hp, data, generator, desc,
                       lambda logits, _, y: F.multi_margin_loss(logits, y, margin=margin))


def _views(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SimCLR-style views: random resized crops (scale 0.6-1), flips, contrast jitter."""
    n = len(x)
    scale = 0.6 + 0.4 * torch.rand(n, generator=generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    shift = (torch.rand(2, n, generator=generator) * 2 - 1) * (1 - scale)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale * flip, scale
    theta[:, 0, 2], theta[:, 1, 2] = shift[0], shift[1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = -PIXEL_MEAN / PIXEL_STD
    crops = F.grid_sample(x - background, grid, align_corners=False) + background
    contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=generator)
    return (crops * contrast).contiguous(memory_format=torch.channels_last)


def _nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """The normalized-temperature cross-entropy of SimCLR for 2n projections (pairs i, i+n)."""
    z = F.normalize(z, dim=1)
    n = len(z) // 2
    similarity = (z @ z.T / temperature).fill_diagonal_(-math.inf)
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(similarity, targets)


def _contrastive(architecture: str, hp: dict, data: TrainingData, generator: torch.Generator,
                 desc: str | None) -> Trained:
    backbone, width = build_backbone(architecture)
    backbone = backbone.to(memory_format=torch.channels_last)
    projector = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, hp["projection_dim"]))
    parameters = list(backbone.parameters()) + list(projector.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=hp["pretrain_lr"], weight_decay=hp["weight_decay"])
    images = _image_tensors(data.images)
    batch_size = hp["pretrain_batch_size"]
    steps = hp["pretrain_epochs"] * math.ceil(len(images) / batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    with tqdm(total=steps, desc=desc and f"{desc} (NT-Xent)", unit="step", leave=False, disable=desc is None) as bar:
        for _ in range(hp["pretrain_epochs"]):
            order = torch.randperm(len(images), generator=generator)
            for start in range(0, len(images), batch_size):
                x = images[order[start:start + batch_size]]
                backbone.train()
                z = projector(backbone(torch.cat([_views(x, generator), _views(x, generator)])))
                loss = _nt_xent(z, hp["nt_xent_temperature"])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
    network = Classifier(backbone, width, 10)
    _, train_embeddings = network_outputs(network, data.images)
    _, calibration_embeddings = network_outputs(network, data.calibration_images)
    info = _fit(network.head, torch.from_numpy(train_embeddings),
                torch.from_numpy(data.labels.astype(np.int64)),
                (torch.from_numpy(calibration_embeddings), data.calibration_labels),
                hp, data.target_accuracy, generator, desc and f"{desc} (linear head)")
    return Trained(lambda x: network_outputs(network, x), network,
                   {**info, "n_parameters": count_parameters(network)})


NEURAL_RECIPES = {
    "cross-entropy": (_supervised, SUPERVISED_DEFAULTS),
    "distillation": (_distillation, DISTILLATION_DEFAULTS),
    "hinge": (_hinge, HINGE_DEFAULTS),
    "nt-xent": (_contrastive, CONTRASTIVE_DEFAULTS),
}
"""Training objectives of neural members: recipe and its hyper-parameter defaults."""


def _flat(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0


def _log_probabilities(estimator) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.log(np.clip(estimator.predict_proba(x), 1e-4, None))


def _classical_estimator(architecture: str, hp: dict, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    if architecture == "logistic-regression":
        estimator = LogisticRegression(C=hp["C"], max_iter=hp["max_iter"])
        return estimator, estimator.decision_function
    if architecture == "random-forest":
        estimator = RandomForestClassifier(n_estimators=hp["n_estimators"], max_depth=hp["max_depth"],
                                           min_samples_leaf=hp["min_samples_leaf"], random_state=seed)
        return estimator, _log_probabilities(estimator)
    if architecture == "k-nearest-neighbours":
        estimator = KNeighborsClassifier(n_neighbors=hp["k"], weights="distance")
        return estimator, _log_probabilities(estimator)
    estimator = make_pipeline(
        Nystroem(kernel="rbf", gamma=hp["gamma"], n_components=hp["n_components"], random_state=seed),
        LinearSVC(C=hp["C"], random_state=seed),
    )
    return estimator, estimator.decision_function


CLASSICAL = {
    "logistic-regression": ("cross-entropy", {"C": 1.0, "max_iter": 200}),
    "random-forest": ("gini-impurity", {"n_estimators": 100, "max_depth": None, "min_samples_leaf": 1}),
    "k-nearest-neighbours": ("nearest-neighbours", {"k": 10}),
    "rbf-svm": ("hinge", {"C": 1.0, "gamma": 0.02, "n_components": 2000}),
}
"""Classical learners on raw pixels: the objective each one optimizes and its defaults.

Their "logits" are the learner's natural scores: decision functions for logistic
regression and the kernel SVM (an RBF kernel approximated by Nystroem features), log
class probabilities (floored at 1e-4) for the random forest and k-nearest neighbours.
"""


def _classical(architecture: str, hp: dict, data: TrainingData, seed: int) -> Trained:
    from sklearn.exceptions import ConvergenceWarning

    estimator, scores = _classical_estimator(architecture, hp, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(_flat(data.images), data.labels)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    logits = lambda images: (np.asarray(scores(_flat(images)), dtype=np.float32), None)  # noqa: E731
    calibration_accuracy = float((logits(data.calibration_images)[0].argmax(1) == data.calibration_labels).mean())
    return Trained(logits, None, {"calibration_accuracy": calibration_accuracy, "converged": converged})


def recipe_hyperparameters(architecture: str, objective: str, given: dict) -> dict:
    """Return the full hyper-parameters of a member: recipe defaults updated by ``given``.

    Args:
        architecture: A neural architecture (see ``BACKBONES``) or a classical learner.
        objective: The training objective; must match the learner for classical ones.
        given: Hyper-parameters written in the zoo spec.

    Returns:
        The merged hyper-parameters; unknown names or combinations raise NorepError.
    """
    if architecture in CLASSICAL:
        natural, defaults = CLASSICAL[architecture]
        if objective != natural:
            raise NorepError(f"{architecture} optimizes {natural!r}, not {objective!r}; fix the spec's objective")
    elif architecture in BACKBONES:
        if objective not in NEURAL_RECIPES:
            raise NorepError(f"unknown objective {objective!r} for a network; choose one of {sorted(NEURAL_RECIPES)}")
        defaults = NEURAL_RECIPES[objective][1]
    else:
        raise NorepError(
            f"unknown architecture {architecture!r}; choose one of {sorted(BACKBONES) + sorted(CLASSICAL)}"
        )
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise NorepError(f"unknown hyperparameter(s) {unknown} for {architecture}/{objective}; "
                         f"allowed: {sorted(defaults)}")
    return {**defaults, **given}


def train_member(architecture: str, objective: str, hyperparameters: dict, seed: int,
                 data: TrainingData, desc: str | None) -> Trained:
    """Train one member of the zoo from its methodology.

    Args:
        architecture: Network or classical learner name.
        objective: Training objective.
        hyperparameters: As written in the spec (defaults fill the rest).
        seed: Seeds initialization, shuffling, augmentation and the learners.
        data: Training, calibration and teacher data.
        desc: Progress-bar label (None: no bar).

    Returns:
        The trained member.
    """
    hp = recipe_hyperparameters(architecture, objective, hyperparameters)
    if architecture in CLASSICAL:
        return _classical(architecture, hp, data, seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    recipe = NEURAL_RECIPES[objective][0]
    return recipe(architecture, hp, data, generator, desc)
