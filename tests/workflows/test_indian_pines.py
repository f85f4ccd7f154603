"""Indian Pines (AVIRIS, ../shared/data/indian_pines) through `chemmap run`, compared with
scikit-learn KMeans on the same features in the same test."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from chemmap.cli import main

pytestmark = pytest.mark.data


def test_indian_pines_flat_table_matches_or_beats_sklearn_kmeans(shared_data, tmp_path):
    from scipy.io import loadmat

    folder = shared_data / "indian_pines"
    cube = loadmat(folder / "IP_200_M.mat")["data_M"].astype(np.float32)
    truth = loadmat(folder / "Indian_pines_gt.mat")["indian_pines_gt"].astype(np.int64)
    keep = np.ones(220, bool)
    keep[np.r_[103:108, 149:163, 219]] = False
    wavelengths = np.loadtxt(folder / "92AV3C.spc", skiprows=2)[keep, 0]
    h, w, c = cube.shape
    flat = cube.reshape(-1, c)
    frame = pd.DataFrame(flat, columns=[repr(float(v)) for v in wavelengths])
    frame.insert(0, "class", np.where(truth.ravel() > 0, truth.ravel(), np.nan))
    path = tmp_path / "indian_pines.csv"
    frame.to_csv(path, index=False)

    out = tmp_path / "out"
    # AVIRIS band centres overlap between spectrometers: chemmap sorts them (with a warning)
    assert (
        main(
            [
                "run",
                str(path),
                "--image-shape",
                str(h),
                str(w),
                "--label-column",
                "class",
                "--axis-unit",
                "nm",
                "--clusters",
                "16",
                "--method",
                "kmeans",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    ours = json.loads((out / "metrics.json").read_text())["clustering"]
    labels = np.load(out / "cluster_labels.npy")
    assert labels.shape == (145, 145)

    features = PCA(n_components=10, svd_solver="full").fit_transform(flat)
    reference = KMeans(n_clusters=16, n_init=10, random_state=0).fit_predict(features)
    labelled = truth.ravel() > 0
    ref_ari = adjusted_rand_score(truth.ravel()[labelled], reference[labelled])
    ref_nmi = normalized_mutual_info_score(truth.ravel()[labelled], reference[labelled])
    assert ours["ari"] >= ref_ari - 1e-9
    assert ours["nmi"] >= ref_nmi - 1e-9
    assert ours["n_labelled_pixels"] == 10249
    assert len(ours["per_class"]) == 16
