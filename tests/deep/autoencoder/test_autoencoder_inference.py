"""Applying a trained autoencoder block by block (NumPy and Dask alike), the axis check, and
model files that reload without executing code and give identical outputs in a fresh process."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra (PyTorch)")

import dask.array as da
import torch

from chemmap.core.axis import SpectralAxis
from chemmap.core.exceptions import AxisError, FileFormatError, InputFileNotFoundError
from chemmap.deep.autoencoder.inference import autoencode, check_axis, decode_latent
from chemmap.deep.autoencoder.persist import load_autoencoder, save_autoencoder


def direct(trained, spectra: np.ndarray):
    """The model applied to all rows at once, by hand."""
    with torch.no_grad():
        recon, latent = trained.model(torch.as_tensor(trained.standardizer.transform(spectra)))
    return trained.standardizer.inverse(recon.numpy()), latent.numpy()


def test_blockwise_outputs_equal_the_model_on_numpy_and_dask(small_cube, tiny_model):
    denoised, latent = autoencode(tiny_model, small_cube, device="cpu")
    x = np.asarray(small_cube.data).reshape(-1, small_cube.n_channels)
    want_recon, want_latent = direct(tiny_model, x)
    assert denoised.shape == small_cube.shape and denoised.dtype == np.float32
    assert latent.map_names == ("latent 1", "latent 2", "latent 3", "latent 4")
    np.testing.assert_allclose(np.asarray(denoised.data).reshape(x.shape), want_recon, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(latent.data).reshape(-1, 4), want_latent, rtol=1e-4, atol=1e-5)
    assert denoised.history[-1]["step"] == "autoencoder denoise"

    lazy = small_cube.replace(data=da.from_array(np.asarray(small_cube.data), chunks=(7, 32, -1)))
    lazy_denoised, lazy_latent = autoencode(tiny_model, lazy, device="cpu")
    assert lazy_denoised.is_lazy and lazy_latent.is_lazy
    np.testing.assert_allclose(np.asarray(lazy_denoised.data), np.asarray(denoised.data), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(lazy_latent.data), np.asarray(latent.data), rtol=1e-4, atol=1e-5)


def test_masked_and_non_finite_pixels_give_nan(small_cube, tiny_model):
    data = np.array(small_cube.data)
    data[0, 0, 5] = np.nan
    mask = np.ones(small_cube.image_shape, bool)
    mask[3, 4] = False
    cube = small_cube.replace(data=data, mask=mask)
    denoised, latent = autoencode(tiny_model, cube, device="cpu")
    for out in (np.asarray(denoised.data), np.asarray(latent.data)):
        assert np.isnan(out[0, 0]).all() and np.isnan(out[3, 4]).all()
        assert np.isfinite(out[1, 1]).all()


def test_decoding_a_latent_vector_gives_its_reconstruction(small_cube, tiny_model):
    x = np.asarray(small_cube.data)[:2, 0]
    recon, latent = direct(tiny_model, x)
    np.testing.assert_allclose(decode_latent(tiny_model, latent), recon, rtol=1e-4, atol=1e-5)


def test_a_model_refuses_another_axis(small_cube, tiny_model):
    axis = small_cube.axis
    check_axis(tiny_model, axis)
    with pytest.raises(AxisError, match="64 channels in cm-1.*this cube has 63 channels"):
        check_axis(tiny_model, axis.take(np.arange(63)))
    with pytest.raises(AxisError, match="in nm"):
        check_axis(tiny_model, SpectralAxis(axis.values, "nm"))
    with pytest.raises(AxisError, match="differ from the model's by up to"):
        check_axis(tiny_model, SpectralAxis(axis.values + 0.5 * axis.spacing, "cm-1"))
    with pytest.raises(AxisError):
        autoencode(tiny_model, small_cube.replace(axis=SpectralAxis(axis.values, "nm")))


RELOAD = """
import sys, numpy as np
from chemmap.io import read
from chemmap.deep.autoencoder.persist import load_autoencoder
from chemmap.deep.autoencoder.inference import autoencode
denoised, latent = autoencode(load_autoencoder(sys.argv[1]), read(sys.argv[2]), device="cpu")
np.save(sys.argv[3], np.asarray(denoised.data))
np.save(sys.argv[4], np.asarray(latent.data))
"""


def test_a_saved_model_reloads_in_a_fresh_process_with_identical_outputs(tmp_path, small_cube, tiny_model):
    from chemmap.io import write

    folder = save_autoencoder(tiny_model, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.pt"]
    write(small_cube, tmp_path / "cube.zarr")
    denoised, latent = autoencode(tiny_model, small_cube, device="cpu")
    paths = [str(folder), str(tmp_path / "cube.zarr"), str(tmp_path / "d.npy"), str(tmp_path / "z.npy")]
    subprocess.run([sys.executable, "-c", RELOAD, *paths], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), np.asarray(denoised.data))
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), np.asarray(latent.data))
    loaded = load_autoencoder(folder)
    np.testing.assert_array_equal(loaded.standardizer.mean, tiny_model.standardizer.mean)
    assert loaded.axis_unit == "cm-1" and loaded.best_epoch == tiny_model.best_epoch
    assert loaded.history == tiny_model.history


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_model_files_never_execute_code_and_bad_folders_are_clear_errors(tmp_path, tiny_model, capfd):
    folder = save_autoencoder(tiny_model, tmp_path / "model")
    (folder / "weights.pt").write_bytes(pickle.dumps({"w": Payload()}, protocol=2))
    with pytest.raises(FileFormatError, match="never runs code") as caught:
        load_autoencoder(folder)
    assert "weights_only" not in str(caught.value)  # never suggests the unsafe way
    assert "code ran" not in capfd.readouterr().out
    with pytest.raises(InputFileNotFoundError, match="model.json"):
        load_autoencoder(tmp_path / "nowhere")
    (folder / "model.json").write_text('{"format": "something else"}')
    with pytest.raises(FileFormatError, match="does not describe a chemmap spectral autoencoder"):
        load_autoencoder(folder)


def test_the_estimator_fits_maps_and_reloads_with_its_parameters(tmp_path, small_cube):
    from sklearn.base import clone

    from chemmap.core.exceptions import NotFittedError
    from chemmap.deep.autoencoder.estimator import SpectralAutoencoderMapper

    mapper = SpectralAutoencoderMapper(latent_dim=3, widths=(8,), epochs=2, device="cpu", random_state=1)
    assert clone(mapper).get_params() == mapper.get_params()
    with pytest.raises(NotFittedError, match="call fit"):
        mapper.transform(small_cube)
    latent = mapper.fit(small_cube).transform(small_cube)
    assert latent.shape == (32, 32, 3) and len(mapper.history_) == 2
    assert mapper.denoise(small_cube).axis == small_cube.axis
    mapper.save(tmp_path / "m")
    again = SpectralAutoencoderMapper.load(tmp_path / "m", device="cpu")
    assert again.get_params() == mapper.get_params()
    np.testing.assert_array_equal(np.asarray(again.transform(small_cube).data), np.asarray(latent.data))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; the CPU path is tested above")
def test_cuda_gives_the_cpu_outputs_to_tolerance(small_cube, tiny_model):
    cpu_denoised, cpu_latent = autoencode(tiny_model, small_cube, device="cpu")
    cuda_denoised, cuda_latent = autoencode(tiny_model, small_cube, device="cuda")
    np.testing.assert_allclose(np.asarray(cuda_denoised.data), np.asarray(cpu_denoised.data), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.asarray(cuda_latent.data), np.asarray(cpu_latent.data), rtol=1e-3, atol=1e-3)
    assert next(tiny_model.model.parameters()).device.type == "cpu"  # the trained model stays where it was


def _edit(folder, change):
    config = json.loads((folder / "model.json").read_text())
    change(config)
    (folder / "model.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["standardizer"].update(scale=[0.0] * len(c["standardizer"]["scale"])), "positive scales"),
        (lambda c: c["standardizer"].update(mean=[float("nan")] * len(c["standardizer"]["mean"])), "positive scales"),
        (lambda c: c["axis"].update(values=c["axis"]["values"][::-1][:1] + c["axis"]["values"][1:]), "strictly"),
        (lambda c: c["architecture"].update(widths=[4096, 4096, 4096]), "does not hold the tensors"),
        (lambda c: c["architecture"].update(n_channels=10**9), "does not hold the tensors"),
        (lambda c: c["architecture"].update(activation="evil"), "activation"),
    ],
)
def test_a_model_json_that_training_could_not_have_written_is_refused_before_allocating(
    tmp_path, tiny_model, change, message
):
    import resource

    folder = save_autoencoder(tiny_model, tmp_path / "model")
    _edit(folder, change)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FileFormatError, match=message):
        load_autoencoder(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: no network was allocated


def test_weights_that_are_not_finite_or_json_nested_too_deep_are_refused(tmp_path, tiny_model):
    folder = save_autoencoder(tiny_model, tmp_path / "model")
    state = torch.load(folder / "weights.pt", weights_only=True)
    name = next(iter(state))
    state[name] = torch.full_like(state[name], float("inf"))
    torch.save(state, folder / "weights.pt")
    with pytest.raises(FileFormatError, match=f"weight '{name}'.*not finite"):
        load_autoencoder(folder)
    (folder / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FileFormatError, match="not valid JSON"):
        load_autoencoder(folder)


def test_training_takes_only_the_cores_other_processes_leave_idle():
    import os

    from chemmap.deep._torch import share_cores, usable_threads

    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)  # until they spin
        assert usable_threads() <= max(1, cores // 2)  # every core is busy: one thread, or few
        share_cores("cpu")
        assert torch.get_num_threads() <= max(1, cores // 2)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
