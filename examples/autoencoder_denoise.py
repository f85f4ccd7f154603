"""Denoise a cube with the spectral autoencoder (the ``deep`` extra, PyTorch) and compare it
honestly with the linear baseline of the same size: projecting the noisy pixels on their
first ``latent_dim`` principal components. Then ``chemmap denoise --method autoencoder``,
the MNF autoencoder (MNF with a blind-spot network that uses each pixel's neighbours), on
the same cube. Scored against the noise-free demo cube.

    python examples/autoencoder_denoise.py [OUT_DIR]
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from chemmap.datasets import make_demo_cube
from chemmap.workflows.autoencoder import AutoencoderSettings, run_autoencoder
from chemmap.workflows.denoise import DenoiseSettings, run_denoise

if importlib.util.find_spec("torch") is None:
    print("skipped: the autoencoder needs the 'deep' extra (pip install 'chemmap[deep]')")
    sys.exit(0)

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output/autoencoder")
clean = np.asarray(make_demo_cube(noise=0.0).data, np.float64)
noisy = make_demo_cube(noise=0.05)
settings = AutoencoderSettings(epochs=15, latent_dim=4, device="cpu", clusters=2)
run_autoencoder(noisy, out, settings)
denoised = np.load(out / "denoised.npy").astype(np.float64)

pixels = np.asarray(noisy.data, np.float64).reshape(-1, noisy.n_channels)
centred = pixels - pixels.mean(axis=0)
_, _, vt = np.linalg.svd(centred, full_matrices=False)
basis = vt[: settings.latent_dim]
pca = (centred @ basis.T @ basis + pixels.mean(axis=0)).reshape(clean.shape)


def rmse(a):
    return float(np.sqrt(np.mean((a - clean) ** 2)))


print(
    f"RMSE to the clean cube: noisy {rmse(np.asarray(noisy.data, np.float64)):.4f}, "
    f"autoencoder {rmse(denoised):.4f}, PCA ({settings.latent_dim} components) {rmse(pca):.4f}"
)
print(f"outputs in {out}: denoised.npy, latent.npy, cluster_map.png, loss_curves.png, model/")

run_denoise(noisy, out / "denoise", DenoiseSettings(method="autoencoder", device="cpu"))
print(f"RMSE to the clean cube: MNF autoencoder {rmse(np.load(out / 'denoise' / 'denoised.npy')):.4f}")
