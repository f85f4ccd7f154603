"""Segment a real scene: Samson (95 x 95 pixels, 156 bands, soil / tree / water) with the
default spectral-spatial method and with PCA + k-means, scored against the majority material
of Samson's abundance ground truth. Needs ``../shared/data/samson``.

    python examples/segment_samson.py [DATA_DIR]
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from chemmap.cluster import PixelClusterer
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.datasets import load_samson

data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data"
if not (data / "samson").is_dir():
    print(f"skipped: no Samson scene in {data / 'samson'}")
    sys.exit(0)
scene = load_samson(data / "samson")
truth = np.argmax(np.asarray(scene.abundances.data), axis=2).ravel()
for name, estimator in (
    ("spectral-spatial (default)", SpectralSpatialClusterer(3)),
    ("PCA + k-means", PixelClusterer("kmeans", 3, n_components=10)),
):
    labels = estimator.fit(scene.cube).label_image_.ravel()
    print(f"{name:28} ARI {adjusted_rand_score(truth, labels):.3f}")
