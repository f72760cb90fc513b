"""Zoo specs: validation and divergence categories derived from methodology fields."""

import itertools

import pytest

from norep.errors import NorepError
from norep.zoo import CATEGORIES, Methodology, divergence_category
from norep.zoo.spec import ROLES, load_spec

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
defaults: {architecture: cnn, objective: cross-entropy, training_data: train-A,
           hyperparameters: {lr: 0.003}}
models:
  - {id: a, seed: 0}
  - {id: b, seed: 1}
  - {id: c, seed: 2, hyperparameters: {epochs: 5}}
  - {id: d, seed: 3, architecture: mlp}
  - {id: e, seed: 4, objective: distillation, architecture: mlp}
  - {id: f, seed: 5, training_data: train-B, role: data-only}
  - {id: g, seed: 6, architecture: random-forest, objective: gini-impurity, training_data: train-B}
  - {id: h, seed: 0, role: same-seed, hyperparameters: {epochs: 5}}
"""


def test_spec_derives_each_members_category(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    categories = {m.id: spec.category(m.id) for m in spec.members}
    # Nested members take their highest differing field: e differs in architecture and
    # objective (Framework), g in architecture, objective and data (Dataset).
    assert categories == {"a": None, "b": "Reinit", "c": "Hyper-parameters", "d": "Architecture",
                          "e": "Framework", "f": "Dataset", "g": "Dataset", "h": "Hyper-parameters"}
    # Hyper-parameters merge key by key over the defaults.
    assert spec.member("c").methodology.hyperparameters == {"lr": 0.003, "epochs": 5}
    assert [m.role for m in spec.members][-3:] == ["data-only", "member", "same-seed"]


def test_subset_keeps_the_base(tmp_path):
    spec = load_spec(write(tmp_path, SPEC)).subset(["d"])
    assert [m.id for m in spec.members] == ["a", "d"]


@pytest.mark.parametrize("text, message", [
    ("name: x\n", "lacks the key"),
    ("[1, 2", "not valid YAML"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b, seed: 1, colour: red}"), "unknown key(s) ['colour']"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b, seed: 0}"), "same methodology as the base"),
    (SPEC.replace("{id: b, seed: 1}", "{id: a, seed: 1}"), "appear more than once"),
    (SPEC.replace("base: a", "base: z"), "base 'z' is not one of its models"),
    (SPEC.replace("target_accuracy: 0.9", "target_accuracy: 90"), "between 0 and 1"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b, seed: one}"), "seed must be an integer"),
    (SPEC.replace("{id: b, seed: 1}", "{id: 'b c', seed: 1}"), "invalid model id"),
    (SPEC.replace("{id: b, seed: 1}", "{id: b}"), "lacks 'seed' (set it in its own entry)"),
    (SPEC.replace("training_data: train-A,", "training_data: train-A, seed: 0,"),
     "defaults (every model sets its own seed): unknown key(s) ['seed']"),
])
def test_malformed_specs_fail_with_one_clear_line(tmp_path, text, message):
    with pytest.raises(NorepError, match=None) as error:
        load_spec(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("old, new, message", [
    # A hyper-parameter variant that silently keeps the base's seed.
    ("{id: c, seed: 2,", "{id: c, seed: 0,", "shares seed 0 with 'a'"),
    # Two partners on one seed.
    ("{id: d, seed: 3,", "{id: d, seed: 1,", "shares seed 1 with 'b'"),
    # A same-seed lesson must use the base's seed, and change hyper-parameters only.
    ("{id: h, seed: 0,", "{id: h, seed: 9,", "role same-seed but seed 9"),
    ("{id: h, seed: 0, role: same-seed,", "{id: h, seed: 0, role: same-seed, architecture: mlp,",
     "must differ from the base in hyper-parameters only"),
    # Data only: the base's recipe on other data, nothing else.
    ("{id: f, seed: 5, training_data: train-B,", "{id: f, seed: 5, training_data: train-B, architecture: mlp,",
     "must differ from the base in training_data (and seed) only"),
    ("{id: f, seed: 5, training_data: train-B,", "{id: f, seed: 5, training_data: train-A,",
     "must differ from the base in training_data (and seed) only"),
])
def test_seeds_and_roles_are_checked(tmp_path, old, new, message):
    assert old in SPEC
    with pytest.raises(NorepError) as error:
        load_spec(write(tmp_path, SPEC.replace(old, new)))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_spec_names_the_path(tmp_path):
    with pytest.raises(NorepError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path, minimum", [("zoos/fashion_mnist.yaml", 6), ("zoos/fashion_mnist_ci.yaml", 2)])
def test_shipped_specs_have_members_in_every_category(path, minimum):
    spec = load_spec(path)
    roles = {role: [m for m in spec.members if m.role == role] for role in ROLES}
    for category in CATEGORIES:
        members = [m for m in roles["member"] if spec.category(m.id) == category]
        assert len(members) >= minimum, category
    assert len(roles["accuracy-control"]) >= (5 if minimum == 6 else 2)
    assert roles["same-seed"] and roles["data-only"]
    # Nested divergence: Framework spans architectures; Dataset members change more than data.
    framework = [m for m in roles["member"] if spec.category(m.id) == "Framework"]
    assert len({m.methodology.architecture for m in framework}) >= 2
    base = spec.member(spec.base).methodology
    for member in roles["member"]:
        if spec.category(member.id) == "Dataset":
            method = member.methodology
            assert (method.architecture, method.objective) != (base.architecture, base.objective)
    # No distillation from the base itself.
    assert all(m.methodology.hyperparameters.get("teacher") != spec.base for m in spec.members)
