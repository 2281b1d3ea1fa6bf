"""A calibrator knows the files it was fitted on; classify says when an input is unlike all of them.

Simulated embeddings; the command-line side is in tests/training/test_calibration_domain_cli.py.
"""

from __future__ import annotations

import json

import torch

from unibind.calibration.domain import CalibrationDomain
from unibind.calibration.store import CalibratorRecord, FittedCalibrator, load_calibrator, write_calibrator
from unibind.calibration.temperature import TemperatureScaler


def _cluster(n, centre, spread=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return centre + spread * torch.randn(n, len(centre), generator=g)


def test_new_files_like_the_fitting_ones_fall_inside_and_unlike_ones_outside():
    centre = torch.zeros(16)
    centre[0] = 1.0
    fitting = _cluster(400, centre, seed=0)
    domain = CalibrationDomain.fit(fitting)
    assert domain.k == 5 and domain.quantile == 0.95
    alike = domain.contains(_cluster(2000, centre, seed=1)).float().mean()
    assert 0.88 <= float(alike) <= 0.99          # the cut is the fitting files' own 95th percentile
    far = torch.zeros(16)
    far[1] = 1.0
    assert not domain.contains(_cluster(200, far, seed=2)).any()
    assert CalibrationDomain.fit(fitting[:2]) is None        # too few files to tell a neighbour from a stranger


def test_the_domain_is_saved_in_the_calibrator_file_and_older_files_load_without_one(tmp_path):
    scaler = TemperatureScaler()
    labels = torch.randint(0, 4, (60,), generator=torch.Generator().manual_seed(0))
    scaler.fit(torch.randn(60, 4) + 3 * torch.nn.functional.one_hot(labels, 4), labels)
    fitting = _cluster(60, torch.ones(8))
    record = CalibratorRecord(name="temperature", modality="image", fitted_on=60)
    write_calibrator(tmp_path / "with.safetensors", FittedCalibrator(scaler, record, CalibrationDomain.fit(fitting)))
    loaded = load_calibrator(tmp_path / "with.safetensors")
    assert loaded.domain is not None and loaded.domain.radius > 0
    assert json.loads((tmp_path / "with.json").read_text())["provenance"]["domain"]["count"] == 60
    probe = _cluster(30, torch.ones(8), seed=5)
    assert torch.equal(loaded.domain.contains(probe), CalibrationDomain.fit(fitting).contains(probe))
    plain = CalibratorRecord(name="temperature", modality="image", fitted_on=60)
    write_calibrator(tmp_path / "old.safetensors", FittedCalibrator(scaler, plain))
    old = load_calibrator(tmp_path / "old.safetensors")
    assert old.domain is None and old.calibrator.temperature == scaler.temperature


def test_a_set_each_of_whose_files_lies_inside_is_still_found_unlike_as_a_whole():
    """The shipped image default's case: MNIST digits each lie within the photos' k-NN radius, in one clump."""
    centre = torch.zeros(16)
    centre[0] = 1.0
    domain = CalibrationDomain.fit(_cluster(400, centre, seed=0))
    alike = domain.set_test(_cluster(300, centre, seed=1))
    assert alike is not None and not alike.unlike and 0.35 < alike.auroc < 0.65 and alike.p_value > 0.01
    off = centre.clone()
    off[1] = 0.15
    clump = _cluster(100, off, spread=0.03, seed=2)
    assert domain.contains(clump).all()                    # one file at a time, every one is inside
    found = domain.set_test(clump)
    assert found.unlike and found.auroc > 0.9 and found.p_value < 1e-3 and found.files == 100 and 20 <= found.reference < 400
    assert domain.set_test(clump[:19]) is None             # too few files to test as a set
    assert domain.set_test(clump, seed=0) == found         # seeded: the same set gives the same answer


def test_a_set_given_in_chunks_is_sampled_without_joining_them_and_tested_as_one():
    from unibind.calibration.domain import sample_rows

    parts = [torch.arange(i, i + 10).float()[:, None] for i in range(0, 100, 10)]
    picked = sample_rows(parts, 25, seed=1)
    assert len(picked) == 25 and len(set(picked[:, 0].tolist())) == 25 and picked[:, 0].tolist() == sorted(
        picked[:, 0].tolist())
    assert torch.equal(sample_rows(parts, 25, seed=1), picked)
    assert torch.equal(sample_rows(parts, 500), torch.cat(parts))
    centre = torch.zeros(16)
    centre[0] = 1.0
    domain = CalibrationDomain.fit(_cluster(400, centre, seed=0))
    alike = _cluster(300, centre, seed=1)
    assert domain.set_test(list(alike.split(7))) == domain.set_test(alike)


def test_a_set_of_one_fitting_class_is_alike_though_a_classifier_tells_it_from_all_of_them():
    """A folder of one kind of picture is a class mix, not a new domain: it is tested against its neighbours."""
    centres = torch.eye(16)[:4] * 1.0
    fitting = torch.cat([_cluster(60, c, spread=0.15, seed=i) for i, c in enumerate(centres)])
    domain = CalibrationDomain.fit(fitting)
    one_kind = domain.set_test(_cluster(40, centres[2], spread=0.15, seed=9))
    assert not one_kind.unlike and one_kind.reference < len(fitting)    # its neighbourhood, not all 240
    off = centres[2].clone()
    off[5] = 0.25
    assert domain.set_test(_cluster(40, off, spread=0.02, seed=10)).unlike   # a clump beside that class still is
