"""The tissue benchmark: references are the masked means of the truth (plus lab error), fat
and lean layers are both present, and the written sample set reads back."""

from __future__ import annotations

import csv

import numpy as np

from chemmap.datasets.tissue import make_tissue_samples, nir_pure_spectra, write_tissue_benchmark
from chemmap.io import read


def test_samples_keep_truth_and_expose_only_the_masked_mean():
    samples = make_tissue_samples(6, image_shape=(30, 36), n_channels=60, reference_error=0.0, random_state=1)
    for sample in samples:
        mask = sample.cube.mask
        assert 0.4 < mask.mean() < 0.9
        assert np.isnan(sample.truth[~mask]).all()
        assert abs(sample.reference - np.nanmean(sample.truth)) < 1e-4
        inside = sample.truth[mask]
        assert inside.min() >= 0 and inside.max() <= 100
    pooled = np.concatenate([s.truth[s.cube.mask] for s in samples])
    assert np.mean(pooled > 60) > 0.1 and np.mean(pooled < 25) > 0.1  # fat and lean layers
    references = [s.reference for s in samples]
    assert np.ptp(references) > 15  # samples differ in fat content
    again = make_tissue_samples(6, image_shape=(30, 36), n_channels=60, reference_error=0.0, random_state=1)
    np.testing.assert_array_equal(np.asarray(again[3].cube.data), np.asarray(samples[3].cube.data))


def test_pure_spectra_carry_their_bands():
    x = np.linspace(900, 1700, 161)
    fat, lean = nir_pure_spectra(x)
    assert 1440 <= x[np.argmax(lean)] <= 1490  # water O-H (with protein N-H beside it)
    assert fat[np.searchsorted(x, 1210)] > 2 * lean[np.searchsorted(x, 1210)]  # C-H second overtone


def test_the_written_sample_set_reads_back(tmp_path):
    samples = make_tissue_samples(2, image_shape=(20, 24), n_channels=40, random_state=0)
    manifest = write_tissue_benchmark(tmp_path, samples)
    rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
    assert [r["cube"] for r in rows] == ["sample_000.npz", "sample_001.npz"]
    cube = read(tmp_path / rows[1]["cube"])
    np.testing.assert_array_equal(cube.mask, samples[1].cube.mask)
    np.testing.assert_allclose(np.asarray(cube.data), np.asarray(samples[1].cube.data))
    assert float(rows[1]["reference"]) == round(samples[1].reference, 4)
    np.testing.assert_array_equal(np.load(tmp_path / rows[1]["truth"]), samples[1].truth)
