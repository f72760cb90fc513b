"""The chapters' `device` parameter: temperature fits and all-pair ensembles on a torch device equal the NumPy path.

"cpu:0" is a device other than "cpu", so it takes the torch path (the one a GPU runs) on
the CPU; the GPU test runs it on CUDA.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_chapter_store

import norep.analysis.calibration as calibration
import norep.analysis.ensembles as ensembles_analysis
from norep.book.chapter import open_zoo
from norep.book.chapters import ensembles, low_accuracy, specialization
from norep.book.views import calibration_table, fit_temperatures, greedy_ensemble, zoo_ensembles

TORCH_ON_CPU = "cpu:0"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_chapter_store(tmp_path_factory.mktemp("device") / "store")


def chapter_numbers(store, device: str) -> dict:
    """What the ensembles, low-accuracy and specialization chapters compute with ``device``."""
    zoo = open_zoo(str(store.path), "base", 0.05)
    pairs = ensembles.base_ensembles(ensembles.ensemble_members(zoo), 30, 0, device=device)
    lz = low_accuracy.low_accuracy_zoo(zoo, device)
    return {
        "pairs": pairs, "scaling": ensembles.temperature_scaling(pairs), "lz": lz,
        "bases": ensembles.every_base(pairs, 30, 0).shown(),
        "greedy": greedy_ensemble(store, "strong", ["reinit", "arch", "weak-data"], 3, device=device),
        "angles": specialization.pair_thetas(zoo, True, device=device),
        "zoo": zoo_ensembles(store, device=device),
        "calibration": calibration_table(store, device=device),
    }


def assert_same_results(got: dict, want: dict) -> None:
    """Temperatures agree to 1e-9 (exponentials may differ in the last bit); every decision is the same."""
    for name in ("pairs", "lz"):
        assert got[name].temperatures == pytest.approx(want[name].temperatures, rel=1e-9)
    for name in ("ensembles", "unscaled"):
        for field in ("accuracy", "conversion_rate", "improvement"):
            np.testing.assert_array_equal(getattr(getattr(got["pairs"], name), field),
                                          getattr(getattr(want["pairs"], name), field))
    for field in ("accuracy", "conversion_rate", "improvement"):
        np.testing.assert_array_equal(getattr(got["zoo"], field), getattr(want["zoo"], field))
    pd.testing.assert_frame_equal(got["pairs"].terms, want["pairs"].terms, check_exact=True)
    pd.testing.assert_frame_equal(got["pairs"].table, want["pairs"].table, rtol=1e-9)
    pd.testing.assert_frame_equal(got["scaling"].calibration, want["scaling"].calibration, rtol=1e-9)
    pd.testing.assert_frame_equal(got["calibration"], want["calibration"], rtol=1e-9)
    pd.testing.assert_frame_equal(got["greedy"], want["greedy"], check_exact=True)
    pd.testing.assert_frame_equal(got["bases"], want["bases"], check_exact=True)
    assert got["angles"].tables.keys() == want["angles"].tables.keys()
    for partner, table in want["angles"].tables.items():
        pd.testing.assert_frame_equal(got["angles"].tables[partner], table, rtol=1e-9)


def test_the_torch_nll_equals_the_numpy_nll(store):
    logits, labels = store.logits("base", "calibration"), store.labels("calibration")
    numpy_nll, torch_nll = calibration._FixedNLL(logits, labels), calibration._TorchNLL(logits, labels, "cpu")
    for temperature in (0.3, 1.0, 2.7):
        assert torch_nll(temperature) == pytest.approx(numpy_nll(temperature), rel=1e-12)
        assert numpy_nll(temperature) == pytest.approx(calibration.nll(logits, labels, temperature), rel=1e-12)
    assert calibration.fit_temperature(logits, labels, TORCH_ON_CPU) == pytest.approx(
        calibration.fit_temperature(logits, labels), rel=1e-9)


def test_chapters_on_the_torch_path_equal_the_numpy_path(store, monkeypatch):
    numpy_path = chapter_numbers(store, "cpu")
    used = {"pairs": 0, "temperatures": 0}

    class CountedTorch(ensembles_analysis._Torch):
        def ranks(self, ranks):
            used["pairs"] += 1
            return super().ranks(ranks)

    class CountedNLL(calibration._TorchNLL):
        def __init__(self, *args):
            used["temperatures"] += 1
            super().__init__(*args)

    monkeypatch.setattr(ensembles_analysis, "_Torch", CountedTorch)
    monkeypatch.setattr(calibration, "_TorchNLL", CountedNLL)
    assert_same_results(chapter_numbers(store, TORCH_ON_CPU), numpy_path)
    assert used["pairs"] >= 3 and used["temperatures"] == len(store.model_ids)  # fitted once each, then cached
    assert fit_temperatures(store, device=TORCH_ON_CPU) == pytest.approx(fit_temperatures(store), rel=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_chapters_on_the_gpu_equal_the_cpu(store):
    assert_same_results(chapter_numbers(store, "cuda"), chapter_numbers(store, "cpu"))
