"""`norep features` and `norep verify` on a synthetic store."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from norep.analysis.similarity import linear_cka
from norep.cli import main


def test_features_rows_match_the_similarity_functions(synthetic_store, capsys):
    assert main(["features", str(synthetic_store.path), "--csv", "--k", "5"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    ids = synthetic_store.model_ids
    assert len(table) == len(ids) * (len(ids) - 1) // 2
    assert list(table.columns) == ["model_a", "model_b", "category", "linear_cka", "debiased_cka", "mutual_knn"]
    row = table[(table.model_a == "base") & (table.model_b == "dataset")].iloc[0]
    assert row["category"] == "Dataset"
    test = synthetic_store.rows("test")
    x, y = (np.asarray(synthetic_store.array(m, "embeddings"))[test] for m in ("base", "dataset"))
    assert row["linear_cka"] == pytest.approx(linear_cka([x, y])[0, 1], rel=1e-5)
    assert table[["mutual_knn"]].stack().between(0, 1).all()


def test_features_needs_two_models_with_embeddings(tmp_path, capsys):
    from norep.store import Store

    examples = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "label": [0, 1, 0, 1], "split": ["test"] * 4})
    store = Store.create(tmp_path / "s", dataset="x", classes=["p", "q"], examples=examples, fingerprint="f")
    store.add_model("m", {}, {"logits": np.zeros((4, 2), np.float32)})
    assert main(["features", str(store.path)]) == 2
    assert "feature similarity needs at least two" in capsys.readouterr().err


def test_verify_reports_and_names_a_corrupt_file(synthetic_store, capsys):
    assert main(["verify", str(synthetic_store.path)]) == 0
    assert f"all {len(synthetic_store.manifest['files'])} files match" in capsys.readouterr().out
    path = synthetic_store.path / "models" / "base" / "logits.npy"
    path.write_bytes(path.read_bytes()[:-4])
    assert main(["verify", str(synthetic_store.path)]) == 2
    err = capsys.readouterr().err
    assert "logits.npy is corrupt" in err and len(err.strip().splitlines()) == 1
