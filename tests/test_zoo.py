"""Zoo specs: validation and divergence categories derived from methodology fields."""

import itertools

import pytest

from norep.errors import NorepError
from norep.zoo import CATEGORIES, Methodology, divergence_category
from norep.zoo.spec import load_spec

BASE = Methodology("cnn", "cross-entropy", "train-A", seed=0, hyperparameters={"lr": 0.003})


@pytest.mark.parametrize("change, expected", [
    ({"seed": 1}, "Reinit"),
    ({"hyperparameters": {"lr": 0.01}}, "Hyper-parameters"),
    ({"architecture": "mlp", "seed": 3}, "Architecture"),
    ({"objective": "nt-xent", "architecture": "mlp", "hyperparameters": {}}, "Framework"),
    ({"training_data": "train-B", "objective": "nt-xent", "seed": 2}, "Dataset"),
])
def test_category_is_the_highest_level_that_differs(change, expected):
    other = Methodology(**{**BASE.__dict__, **change})
    assert divergence_category(BASE, other) == expected
    assert divergence_category(other, BASE) == expected


def test_identical_or_unknown_methodology_has_no_category():
    assert divergence_category(BASE, BASE) is None
    human = Methodology("human", None, None)
    assert divergence_category(BASE, human) is None
    # A known difference above the unknown field still decides.
    other_data = Methodology("vit", "cross-entropy", "imagenet-21k")
    assert divergence_category(Methodology("vit", "cross-entropy", "imagenet-1k"), other_data) == "Dataset"


# Which field decides which category, as PAPER.md defines them (not read from the package).
DECIDES = {"seed": "Reinit", "hyperparameters": "Hyper-parameters", "architecture": "Architecture",
           "objective": "Framework", "training_data": "Dataset"}
CHANGED = {"seed": 7, "hyperparameters": {"lr": 0.1}, "architecture": "vit", "objective": "dino",
           "training_data": "train-B"}


@pytest.mark.parametrize("fields", [
    combination for size in range(1, 6) for combination in itertools.combinations(DECIDES, size)])
def test_every_combination_of_changes_gets_the_most_divergent_category(fields):
    """All 31 ways to change fields: the category is the highest of the changed fields'."""
    order = ["Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"]
    other = Methodology(**{**BASE.__dict__, **{name: CHANGED[name] for name in fields}})
    expected = max((DECIDES[name] for name in fields), key=order.index)
    assert divergence_category(BASE, other) == expected


def test_from_meta_reads_table_rows_with_json_and_missing_fields():
    row = {"architecture": "cnn", "objective": "cross-entropy", "training_data": "train-A",
           "seed": 1.0, "hyperparameters": '{"lr": 0.003}'}
    assert divergence_category(BASE, Methodology.from_meta(row)) == "Reinit"
    assert Methodology.from_meta({"architecture": "human", "seed": float("nan")}).seed is None


def write(tmp_path, text):
    path = tmp_path / "zoo.yaml"
    path.write_text(text)
    return path


SPEC = """
name: hand-made
dataset: fashion-mnist
base: a
target_accuracy: 0.9
defaults: {architecture: cnn, objective: cross-entropy, training_data: train-A, seed: 0,
           hyperparameters: {lr: 0.003}}
models:
  - {id: a}
  - {id: b, seed: 1}
  - {id: c, hyperparameters: {epochs: 5}}
  - {id: d, architecture: mlp}
  - {id: e, objective: distillation}
  - {id: f, training_data: train-B}
  - {id: g, architecture: random-forest, objective: gini-impurity, training_data: train-B}
"""


def test_spec_derives_each_members_category(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    categories = {m.id: spec.category(m.id) for m in spec.members}
    assert categories == {"a": None, "b": "Reinit", "c": "Hyper-parameters", "d": "Architecture",
                          "e": "Framework", "f": "Dataset", "g": "Dataset"}
    # Hyper-parameters merge key by key over the defaults.
    assert spec.member("c").methodology.hyperparameters == {"lr": 0.003, "epochs": 5}


def test_subset_keeps_the_base(tmp_path):
    spec = load_spec(write(tmp_path, SPEC)).subset(["d"])
    assert [m.id for m in spec.members] == ["a", "d"]


@pytest.mark.parametrize("text, message", [
    ("name: x\n", "lacks the key"),
    ("[1, 2", "not valid YAML"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b, seed: 1, colour: red}"), "unknown key(s) ['colour']"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b}"), "same methodology as the base"),
    (SPEC.replace("{id: b, seed: 1}", "{id: a, seed: 1}"), "appear more than once"),
    (SPEC.replace("base: a", "base: z"), "base 'z' is not one of its models"),
    (SPEC.replace("target_accuracy: 0.9", "target_accuracy: 90"), "between 0 and 1"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b, seed: one}"), "seed must be an integer"),
    (SPEC.replace("{id: b, seed: 1}", "{id: 'b c', seed: 1}"), "invalid model id"),
])
def test_malformed_specs_fail_with_one_clear_line(tmp_path, text, message):
    with pytest.raises(NorepError, match=None) as error:
        load_spec(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_spec_names_the_path(tmp_path):
    with pytest.raises(NorepError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", ["zoos/fashion_mnist.yaml", "zoos/fashion_mnist_ci.yaml"])
def test_shipped_specs_have_members_in_every_category(path):
    spec = load_spec(path)
    minimum = 4 if path == "zoos/fashion_mnist.yaml" else 1
    for category in CATEGORIES:
        members = [m for m in spec.members if spec.category(m.id) == category and m.role == "member"]
        assert len(members) >= minimum, category
