"""The spectral U-Net: output sizes in both border modes, bounded outputs, tiled inference
equal to whole-image inference, training from per-sample means that moves the means towards
the references, and models that reload from disk predicting identically."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the U-Net needs the 'deep' extra (PyTorch)")

import torch

from chemmap.core.exceptions import FileFormatError, InvalidParameterError, ShapeError
from chemmap.datasets import make_tissue_samples
from chemmap.deep.unet.estimator import UNetMapper
from chemmap.deep.unet.inference import predict_unet_map, tiles
from chemmap.deep.unet.model import SpectralUNet, valid_output_size
from chemmap.deep.unet.persist import load_unet, save_unet
from chemmap.deep.unet.training import PAPER, train_unet, unet_settings
from chemmap.supervised import Sample

TINY = {"widths": (8, 16), "max_epochs": 40, "burn_in": 40, "learning_rate": 3e-3, "n_folds": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def samples():
    made = make_tissue_samples(10, image_shape=(16, 20), n_channels=24, random_state=5)
    return [Sample(s.cube, s.cube.mask, s.reference, s.truth, f"s{i}") for i, s in enumerate(made)]


@pytest.fixture(scope="module")
def trained(samples):
    return train_unet(samples[:8], unet_settings("improved", **TINY))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("shape", [(16, 20), (17, 23), (5, 9)])
def test_maps_have_the_input_size_in_both_border_modes(padding, shape):
    torch.manual_seed(0)
    model = SpectralUNet(12, (4, 8, 16), spectral_kernel=5, padding=padding, output="sigmoid", low=0, high=100)
    out = model(torch.randn(2, 12, *shape)).detach()
    assert out.shape == (2, 1, *shape)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 100.0


def test_valid_sizes_follow_the_unpadded_arithmetic():
    # two 3x3 convolutions lose 4 pixels per level; poolings halve
    assert valid_output_size(36, 1) == 20  # 36-4=32 -> 16-4=12 -> 24-4=20
    assert valid_output_size(35, 1) is None  # an odd side before pooling
    assert valid_output_size(12, 2) is None  # a level vanishes
    model = SpectralUNet(12, (4, 8), padding="valid")
    in_h, _, out_h, _ = model.half_size(40, 40)
    assert valid_output_size(in_h, 1) == out_h >= 20


def test_softmax_fractions_sum_to_the_range_and_bad_settings_are_named():
    model = SpectralUNet(12, (4, 8), padding="same", output="softmax", n_outputs=3, low=0, high=1)
    fractions = model(torch.randn(1, 12, 9, 10)).detach()
    np.testing.assert_allclose(fractions.sum(dim=1).detach().numpy(), 1.0, rtol=1e-5)
    assert float(fractions.min()) >= 0
    with pytest.raises(InvalidParameterError, match="needs n_outputs"):
        SpectralUNet(12, (4, 8), output="softmax", n_outputs=1)
    with pytest.raises(InvalidParameterError, match="padding must be"):
        SpectralUNet(12, (4, 8), padding="reflect")
    with pytest.raises(ShapeError, match="expects"):
        SpectralUNet(12, (4, 8))(torch.randn(1, 11, 8, 8))
    with pytest.raises(
        InvalidParameterError, match=r"\[unet\] got unknown parameter\(s\) .width.\. Valid parameters are: mode, widths"
    ):
        unet_settings("paper", width=(4, 8))


def test_the_linear_path_starts_silent_and_is_a_per_pixel_linear_calibration():
    torch.manual_seed(0)
    plain = SpectralUNet(12, (4, 8), padding="same", output="linear")
    torch.manual_seed(0)
    model = SpectralUNet(12, (4, 8), padding="same", output="linear", linear_path=True)
    x = torch.randn(2, 12, 9, 10)
    torch.testing.assert_close(model(x), plain(x))  # zero at the start: training begins from the same map
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        w, b = torch.randn(12), 3.0
        model.linear.weight.copy_(w.reshape(1, 12, 1, 1))
        model.linear.bias.fill_(b)
    expected = torch.einsum("bchw,c->bhw", x, w) + b
    torch.testing.assert_close(model(x)[:, 0], expected, rtol=1e-5, atol=1e-5)
    maps, base = model(x, with_base=True)  # no U-Net output: the map is the linear path's
    torch.testing.assert_close(base, maps)
    with torch.no_grad():
        model.head.bias.fill_(2.0)
    maps, base = model(x, with_base=True)  # the head's constant counts as the linear path's
    torch.testing.assert_close(base, maps)
    assert unet_settings("improved").linear_path and not PAPER.linear_path
    assert unet_settings("improved").loss.smooth == "correction" and PAPER.loss.smooth == "map"


def test_the_paper_upsampling_projects_the_corner_aligned_features_before_the_skip_is_joined():
    torch.manual_seed(0)
    model = SpectralUNet(12, (4, 8), padding="same", output="linear", up_conv=True)
    seen = {}
    model.down[0].register_forward_hook(lambda m, i, out: seen.update(skip=out))
    model.down[1].register_forward_hook(lambda m, i, out: seen.update(bottom=out))
    model.up[0].register_forward_pre_hook(lambda m, args: seen.update(joined=args[0]))
    model(torch.randn(1, 12, 8, 8))
    conv = model.up_conv[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (8, 4, (1, 1))
    upsampled = torch.nn.functional.interpolate(seen["bottom"], scale_factor=2, mode="bilinear", align_corners=True)
    expected = torch.cat([seen["skip"], torch.relu(conv(upsampled))], dim=1)
    torch.testing.assert_close(seen["joined"], expected)
    assert PAPER.up_conv and not unet_settings("improved").up_conv
    assert SpectralUNet(12, (4, 8)).up_conv is None  # models saved without the key load as they were


def test_the_paper_preset_carries_the_published_setup():
    assert PAPER.widths == (64, 128, 256, 512, 1024)
    assert (PAPER.spectral_kernel, PAPER.spectral_filters, PAPER.padding, PAPER.output) == (7, 1, "valid", "linear")
    assert (PAPER.loss.smoothness, PAPER.loss.range_penalty, PAPER.l2_penalty) == (20.0, 1e-3, 1e-3)
    assert (PAPER.optimizer, PAPER.learning_rate, PAPER.n_folds) == ("adam", 1e-3, 5)


def test_tiles_cover_the_image_once_with_even_windows():
    parts = tiles(45, 16, 5)
    covered = np.zeros(45, int)
    for window, tile, inner in parts:
        covered[tile] += 1
        assert window.start % 2 == 0
        assert inner.stop - inner.start == tile.stop - tile.start
        assert window.start + inner.start == tile.start
    assert (covered == 1).all()


def test_tiled_inference_equals_the_whole_image_when_the_halo_covers_the_field(trained, samples):
    sample = samples[9]
    whole = predict_unet_map(trained, sample.cube, sample.mask)
    assert np.isnan(whole[~sample.mask]).all() and np.isfinite(whole[sample.mask]).all()
    one_tile = type(trained)(**{**trained.__dict__, "settings": unet_settings("improved", **TINY, tile=64, halo=0)})
    np.testing.assert_allclose(predict_unet_map(one_tile, sample.cube, sample.mask), whole, rtol=1e-5, atol=1e-4)
    small = type(trained)(**{**trained.__dict__, "settings": unet_settings("improved", **TINY, tile=8, halo=16)})
    tiled = predict_unet_map(small, sample.cube, sample.mask)
    assert np.nanmax(np.abs(tiled - whole)) < 1.0  # fat %: padding at tile borders differs slightly


def test_training_from_sample_means_moves_the_means_to_the_references(trained, samples):
    references = np.array([s.reference for s in samples[:8]])
    predicted = np.array([np.nanmean(predict_unet_map(trained, s.cube, s.mask)) for s in samples[:8]])
    # the network starts at the mean reference everywhere: its error is then the spread of the references
    assert np.sqrt(np.mean((predicted - references) ** 2)) < 0.8 * references.std()
    assert len(trained.models) == 2 and all(len(h) >= 1 for h in trained.histories)
    history = trained.histories[0]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_a_model_reloaded_from_disk_predicts_identically(trained, samples, tmp_path):
    sample = samples[9]
    save_unet(trained, tmp_path / "model")
    again = load_unet(tmp_path / "model")
    assert again.settings == trained.settings
    np.testing.assert_array_equal(
        predict_unet_map(again, sample.cube, sample.mask), predict_unet_map(trained, sample.cube, sample.mask)
    )
    mapper = UNetMapper.load(tmp_path / "model")
    np.testing.assert_array_equal(mapper.predict_map(sample), predict_unet_map(trained, sample.cube, sample.mask))
    config = json.loads((tmp_path / "model" / "model.json").read_text())
    config["format"] = "chemmap-spectral-autoencoder"
    (tmp_path / "model" / "model.json").write_text(json.dumps(config))
    with pytest.raises(FileFormatError, match="spectral U-Net"):
        load_unet(tmp_path / "model")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(members=10**6), "members"),
        (lambda c: c.update(members=c["members"] + 1), "does not hold the tensors"),
        (lambda c: c["architecture"].update(widths=[2048, 4096]), "does not hold the tensors"),
        (lambda c: c["standardizer"].update(scale=[0.0] * len(c["standardizer"]["scale"])), "positive scales"),
    ],
)
def test_a_forged_unet_model_json_is_refused_before_allocating(trained, tmp_path, change, message):
    save_unet(trained, tmp_path / "model")
    config = json.loads((tmp_path / "model" / "model.json").read_text())
    change(config)
    (tmp_path / "model" / "model.json").write_text(json.dumps(config))
    with pytest.raises(FileFormatError, match=message):
        load_unet(tmp_path / "model")


def test_paper_mode_trains_with_valid_convolutions_and_a_linear_output(samples, tmp_path):
    settings = unet_settings("paper", widths=(4, 8), max_epochs=2, burn_in=2, n_folds=2, device="cpu")
    calls = []
    result = train_unet(samples[:6], settings, validation=samples[6:8], progress=lambda *call: calls.append(call))
    assert len(result.models) == 1  # validation samples given: one model, no folds
    epochs = [call for call in calls if call[2]]
    assert epochs == [("training U-Net 1/1", 1, 2), ("training U-Net 1/1", 2, 2)]  # one call per epoch, no repeat
    (estimate,) = [call[0] for call in calls if not call[2]]  # one note, after the first epoch
    assert calls.index((estimate, 0, 0)) == 0 and "2 epochs take up to" in estimate
    image = predict_unet_map(result, samples[9].cube, samples[9].mask)
    assert np.isfinite(image[samples[9].mask]).all()
    save_unet(result, tmp_path / "paper")
    again = load_unet(tmp_path / "paper")
    assert again.models[0].config["up_conv"] and again.settings == result.settings
    np.testing.assert_array_equal(predict_unet_map(again, samples[9].cube, samples[9].mask), image)
    with pytest.raises(ShapeError, match="same channels"):
        cube = samples[1].cube
        fewer = cube.replace(data=np.asarray(cube.data)[..., :20], axis=cube.axis.take(np.arange(20)))
        train_unet([samples[0], Sample(fewer, samples[1].mask, 1.0)], settings)


def test_a_mosaic_carries_the_pixel_weighted_mean_of_its_two_references():
    from chemmap.deep.unet.training import _mosaic

    x1, x2 = torch.ones(3, 4, 5), 2 * torch.ones(3, 6, 2)
    m1, m2 = torch.zeros(4, 5, dtype=torch.bool), torch.ones(6, 2, dtype=torch.bool)
    m1[:2] = True  # 10 pixels at 30 %, 12 pixels at 80 %
    x, m, ref = _mosaic((x1, m1, 30.0), (x2, m2, 80.0))
    assert x.shape == (3, 6, 7) and m.shape == (6, 7)
    assert ref == pytest.approx((10 * 30 + 12 * 80) / 22)
    assert not m[4:, :5].any() and float(x[:, 4:, :5].abs().sum()) == 0.0  # padding is background


def test_a_cube_on_another_axis_is_refused_with_the_way_to_fix_it(trained, samples):
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.exceptions import AxisError

    cube = samples[9].cube
    shifted = cube.replace(axis=SpectralAxis(np.asarray(cube.axis.values) + 3.0, cube.axis.unit))
    with pytest.raises(AxisError, match="Resample the cube"):
        predict_unet_map(trained, shifted)
