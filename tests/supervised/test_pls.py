"""Sample manifests and the PLS baselines: maps equal the manual matrix product, held-out
sample means are recovered, bad manifests fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression

from chemmap.core.exceptions import ConfigError, InputFileNotFoundError, ShapeError
from chemmap.datasets import make_tissue_samples, write_tissue_benchmark
from chemmap.supervised import PLSMapper, Sample, grouped_folds, load_sample, read_manifest


@pytest.fixture(scope="module")
def samples():
    made = make_tissue_samples(24, image_shape=(24, 28), n_channels=50, random_state=3)
    return [Sample(s.cube, s.cube.mask, s.reference, s.truth) for s in made]


def test_pls_maps_from_mean_spectra_equal_the_manual_matrix_product(samples):
    model = PLSMapper(2, calibration="mean").fit(samples)
    means = np.stack([np.asarray(s.cube.data)[s.mask].astype(np.float64).mean(axis=0) for s in samples])
    reference = PLSRegression(2, scale=False).fit(means, [s.reference for s in samples])
    pixels = np.asarray(samples[0].cube.data).reshape(-1, 50).astype(np.float64)
    image = model.predict_map(samples[0])
    np.testing.assert_allclose(
        image[samples[0].mask], (pixels @ model.coef_ + model.intercept_)[samples[0].mask.ravel()], rtol=1e-5, atol=1e-3
    )
    np.testing.assert_allclose(
        image[samples[0].mask], reference.predict(pixels).ravel()[samples[0].mask.ravel()], rtol=1e-5, atol=1e-3
    )
    assert np.isnan(image[~samples[0].mask]).all()


def test_held_out_sample_means_are_recovered_and_components_are_cross_validated(samples):
    model = PLSMapper("cv", calibration="mean", max_components=8).fit(samples[:18])
    assert set(model.cv_rmse_) == set(range(1, 9))
    assert model.n_components_ == min(model.cv_rmse_, key=model.cv_rmse_.get)
    predicted = model.predict(samples[18:])
    truth = np.array([s.reference for s in samples[18:]])
    assert np.sqrt(np.mean((predicted - truth) ** 2)) < 4.0  # percentage points
    pixels = PLSMapper(3, calibration="pixels", pixels_per_sample=50, preprocess="snv").fit(samples[:18])
    assert np.isfinite(pixels.predict(samples[18:])).all()


def test_bad_calibrations_fail_clearly(samples):
    with pytest.raises(ShapeError, match="at least 3 samples"):
        PLSMapper().fit(samples[:2])
    model = PLSMapper(2).fit(samples[:6])
    with pytest.raises(ShapeError, match="calibrated on 50 channels"):
        model.predict_map(
            samples[0].cube.replace(data=np.zeros((4, 4, 10)), axis=samples[0].cube.axis.take(np.arange(10)), mask=None)
        )
    with pytest.raises(ConfigError):
        grouped_folds(3, 5)


def test_a_manifest_reads_back_and_names_its_errors(tmp_path):
    made = make_tissue_samples(3, image_shape=(12, 14), n_channels=20, random_state=0)
    manifest = write_tissue_benchmark(tmp_path, made)
    entries = read_manifest(manifest)
    assert [e.cube.name for e in entries] == ["sample_000.npz", "sample_001.npz", "sample_002.npz"]
    sample = load_sample(entries[1])
    np.testing.assert_array_equal(sample.mask, made[1].cube.mask)
    np.testing.assert_array_equal(sample.truth, made[1].truth)
    assert sample.reference == pytest.approx(made[1].reference, abs=1e-4)
    bad = tmp_path / "bad.csv"
    bad.write_text("cube,value\nsample_000.npz,3\n")
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) \['reference'\]"):
        read_manifest(bad)
    bad.write_text("cube,reference\nsample_000.npz,3\nsample_001.npz,high\n")
    with pytest.raises(ConfigError, match="row 3: reference 'high' is not a number"):
        read_manifest(bad)
    bad.write_text("cube,reference,split\nsample_000.npz,3,train\nnowhere.npz,4,test\n")
    with pytest.raises(InputFileNotFoundError, match="row 3: cube file .*nowhere.npz"):
        read_manifest(bad)
    bad.write_text("cube,reference,split\nsample_000.npz,3,train\nsample_001.npz,4,holdout\n")
    with pytest.raises(ConfigError, match="split 'holdout'"):
        read_manifest(bad)


def test_relative_manifest_entries_stay_in_its_folder_and_absolute_ones_are_read(tmp_path):
    made = make_tissue_samples(3, image_shape=(12, 14), n_channels=20, random_state=0)
    write_tissue_benchmark(tmp_path / "data", made)
    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "sub" / "manifest.csv"
    manifest.write_text("cube,reference\n../data/sample_000.npz,3\n../data/sample_001.npz,4\n")
    with pytest.raises(ConfigError, match="row 2: the cube entry '../data/sample_000.npz' leads to .*outside"):
        read_manifest(manifest)
    (tmp_path / "sub" / "linked.npz").symlink_to(tmp_path / "data" / "sample_000.npz")
    manifest.write_text("cube,reference\nlinked.npz,3\n")
    with pytest.raises(ConfigError, match="through '..' or a link"):
        read_manifest(manifest)
    absolute = [tmp_path / "data" / f"sample_00{i}.npz" for i in range(2)]
    manifest.write_text(f"cube,reference\n{absolute[0]},3\n{absolute[1]},4\n")  # named explicitly: read
    assert [e.cube for e in read_manifest(manifest)] == absolute


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("params.preprocess", "evil", "preprocess 'evil'"),
        ("coef.0", float("nan"), "not finite numbers"),
        ("coef.0", 1e308, "not finite numbers"),
        ("coef", [[1.0, 2.0]], "shape"),
        ("intercept", float("inf"), "intercept"),
        ("axis.values", "short", "axis values"),
        ("n_components", 0, "n_components 0"),
        ("cv_rmse.1", -1.0, "cross-validated errors"),
        ("params.surprise", 1, "not a consistent chemmap PLS model"),
        ("deep", "nesting", "not a consistent chemmap PLS model"),
    ],
)
def test_every_field_of_a_saved_model_is_checked_when_loading(samples, tmp_path, field, value, message):
    import json

    from chemmap.core.exceptions import FileFormatError

    folder = PLSMapper(2, calibration="mean").fit(samples).save(tmp_path / "model")
    assert PLSMapper.load(folder).coef_.shape == (50,)  # the model as written loads
    text = (folder / "model.json").read_text()
    if field == "deep":
        text = text[:-2] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    else:
        config = json.loads(text)
        *path, last = field.split(".")
        target = config
        for key in path:
            target = target[key]
        if value == "short":
            target[last] = target[last][:-1]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        text = json.dumps(config)
    (folder / "model.json").write_text(text)
    with pytest.raises(FileFormatError, match=message):
        PLSMapper.load(folder)
