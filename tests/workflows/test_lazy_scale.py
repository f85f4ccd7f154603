"""Lazy (Dask) cubes: equality with the in-memory path, graphs that compute nothing until
asked, streaming learners, Zarr outputs, a real LocalCluster, and bounded memory."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import dask.array as da
import numpy as np
import pytest
import zarr
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from chemmap import compute_settings
from chemmap.cluster import PixelClusterer
from chemmap.cluster.kmeans import fit_kmeans
from chemmap.cluster.mixture import fit_gaussian_mixture
from chemmap.core.exceptions import InvalidParameterError, MemoryLimitError
from chemmap.datasets import make_regions_cube
from chemmap.datasets.synthetic import make_large_cube
from chemmap.decomposition import StreamingPCA
from chemmap.io import read, write
from chemmap.maps import intensity_map, ratio_map
from chemmap.metrics import internal_scores
from chemmap.preprocessing import Chain, bad_pixel_masks, band_noise
from chemmap.workflows import run


class CountingSource:
    """Wrap an array so every read of a block is counted (to prove graphs compute nothing)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.reads = array, 0
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self._lock = threading.Lock()

    def __getitem__(self, key):
        block = self.array[key]
        if block.size:  # Dask takes an empty slice for its metadata; that reads nothing
            with self._lock:
                self.reads += 1
        return block


@pytest.fixture(scope="module")
def scene():
    return make_regions_cube(n_regions=3, image_shape=(48, 40), n_channels=120, random_state=3)


def lazy_copy(cube, rows: int = 7):
    return cube.replace(data=da.from_array(cube.data, chunks=(rows, cube.shape[1], cube.shape[2])))


def test_per_pixel_steps_equal_on_numpy_and_dask_and_build_lazily(scene):
    source = CountingSource(scene.data)
    lazy = scene.replace(data=da.from_array(source, chunks=(7, 40, 120), asarray=True))
    chain = Chain([{"step": "baseline", "method": "asls"}, {"step": "normalize", "method": "snv"}])
    pca = StreamingPCA(4).fit(scene)
    built = {
        "preprocessed": chain.fit_transform(lazy).data,
        "intensity": intensity_map(lazy, 1200.0, window=20.0).data,
        "ratio": ratio_map(lazy, 1200.0, 900.0, window=20.0).data,
        "scores": pca.transform(lazy),
    }
    assert source.reads == 0  # building every graph read nothing
    assert all(isinstance(v, da.Array) for v in built.values())
    expected = {
        "preprocessed": Chain(chain.to_list()).fit_transform(scene).data,
        "intensity": intensity_map(scene, 1200.0, window=20.0).data,
        "ratio": ratio_map(scene, 1200.0, 900.0, window=20.0).data,
        "scores": pca.transform(scene),
    }
    for name, graph in built.items():
        np.testing.assert_allclose(graph.compute(), expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert source.reads > 0


def test_spatial_and_image_steps_equal_on_numpy_and_dask(scene):
    rng = np.random.default_rng(5)
    mask = np.ones(scene.image_shape, bool)
    mask[10:14, 5:30] = False  # a hole that crosses chunk borders
    data = scene.data + rng.normal(0, 0.05, size=(48, 1, 1)).astype(np.float32)  # row stripes
    data[3, 4, :] = data[3, 4, :].max()  # a dead (constant) pixel
    striped = scene.replace(data=data, mask=mask)
    source = CountingSource(striped.data)
    lazy = striped.replace(data=da.from_array(source, chunks=(7, 13, 120), asarray=True))
    steps = {
        "spatial_gaussian": {"sigma": 1.5},
        "flat_field": {"white": [2.0] * 120},
        "spatial_median": {"size": 3},
        "destripe": {"direction": "both"},
    }
    built = {name: Chain([{"step": name, **p}]).fit_transform(lazy).data for name, p in list(steps.items())[:2]}
    assert source.reads == 0  # filters and flat field build without reading
    # the median's fill values and the stripe profiles are read; the corrections stay lazy
    built.update({name: Chain([{"step": name, **p}]).fit_transform(lazy).data for name, p in list(steps.items())[2:]})
    assert all(isinstance(v, da.Array) for v in built.values())
    for name, graph in built.items():
        expected = Chain([{"step": name, **steps[name]}]).fit_transform(striped).data
        np.testing.assert_allclose(graph.compute(), expected, rtol=1e-5, atol=1e-5, err_msg=name)
    assert np.isnan(built["spatial_gaussian"].compute()[11, 10]).all()  # masked pixels stay masked
    lazy_bad, bad = bad_pixel_masks(lazy), bad_pixel_masks(striped)
    assert lazy_bad["dead"][3, 4] and np.array_equal(lazy_bad["dead"], bad["dead"])
    np.testing.assert_allclose(band_noise(lazy), band_noise(striped), rtol=1e-6)


def test_streaming_pca_matches_scikit_learn_subspace():
    rng = np.random.default_rng(0)
    loadings = rng.normal(size=(3, 40)) * np.array([[5.0], [3.0], [2.0]])
    x = (rng.normal(size=(20_000, 3)) @ loadings + 0.1 * rng.normal(size=(20_000, 40)) + 7.0).astype(np.float32)
    ours = StreamingPCA(3, fit_sample=None).fit(da.from_array(x, chunks=(3000, 40)))
    ref = PCA(3).fit(x)
    cosines = np.abs(np.sum(ours.components_ * ref.components_, axis=1))
    assert np.all(cosines > 0.9999)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-4)
    sampled = StreamingPCA(3, fit_sample=2000, random_state=1).fit(x)
    assert 1500 < sampled.n_samples_seen_ < 2500
    assert np.all(np.abs(np.sum(sampled.components_ * ref.components_, axis=1)) > 0.99)


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_streaming_clustering_recovers_blobs_and_dask_equals_numpy(method):
    x, truth = make_blobs(30_000, n_features=6, centers=4, cluster_std=2.0, random_state=2)
    x = x.astype(np.float32)
    fit = fit_kmeans if method == "kmeans" else fit_gaussian_mixture
    in_memory = fit(x, 4, init_sample=5000, random_state=0)
    on_dask = fit(da.from_array(x, chunks=(4000, 6)), 4, init_sample=5000, random_state=0)
    labels = np.asarray(in_memory.predict(x))
    assert adjusted_rand_score(truth, labels) > 0.99
    np.testing.assert_array_equal(labels, on_dask.predict(da.from_array(x, chunks=(4000, 6))).compute())


def test_lazy_zarr_run_equals_in_memory_run_and_writes_zarr_outputs(tmp_path, scene):
    write(scene, tmp_path / "scene.zarr")
    config = {"input": {"path": str(tmp_path / "scene.zarr")}, "clustering": {"k": 3}}
    lazy = run(config, tmp_path / "lazy")
    config["input"]["options"] = {"lazy": False}
    eager = run(config, tmp_path / "eager")
    assert lazy.cube.is_lazy and not eager.cube.is_lazy
    np.testing.assert_array_equal(lazy.label_image, eager.label_image)
    assert lazy.metrics["clustering"]["ari"] > 0.95
    labels = zarr.open_group(str(tmp_path / "lazy" / "cluster_labels.zarr"), mode="r")["labels"][:]
    np.testing.assert_array_equal(labels, lazy.label_image)
    maps = zarr.open_group(str(tmp_path / "lazy" / "maps.zarr"), mode="r")
    for name in eager.maps.map_names:
        # probabilities near 0 differ by float rounding between chunked and whole-image sums
        np.testing.assert_allclose(maps[name][:], eager.maps[name], rtol=1e-6, atol=1e-9, equal_nan=True)
    assert not (tmp_path / "lazy" / "cluster_labels.npy").exists()
    assert (tmp_path / "eager" / "cluster_labels.npy").exists()
    # with a limit the features exceed, they go through a temporary store: same run
    config["input"]["options"] = {"lazy": True}
    config["clustering"].update(method="kmeans", features="spectra")
    spectra = run(config, tmp_path / "in-limit")
    config["run"] = {"memory_limit": "1MiB"}
    spilled = run(config, tmp_path / "spilled")
    np.testing.assert_array_equal(spilled.label_image, spectra.label_image)
    for key in ("silhouette", "calinski_harabasz", "davies_bouldin"):
        assert spilled.metrics["clustering"][key] == pytest.approx(spectra.metrics["clustering"][key], rel=1e-9)


@pytest.mark.parametrize("method", ["spectral-spatial", "kmeans"])
def test_given_bands_are_mapped_in_the_clustering_pass_of_a_lazy_run_and_equal_the_eager_maps(tmp_path, scene, method):
    write(scene, tmp_path / "scene.zarr")
    config = {
        "input": {"path": str(tmp_path / "scene.zarr")},
        "clustering": {"k": 3, "method": method},
        "maps": {"intensity": [1200.0], "ratio": [[1200.0, 900.0]], "window": 20.0},
    }
    lazy = run(config, None)
    config["input"]["options"] = {"lazy": False}
    eager = run(config, None)
    assert lazy.cube.is_lazy and list(lazy.maps.map_names) == list(eager.maps.map_names)
    for name in eager.maps.map_names:
        np.testing.assert_allclose(lazy.maps[name], eager.maps[name], rtol=1e-6, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(lazy.label_image, eager.label_image)


@pytest.mark.slow
def test_local_cluster_gives_the_threaded_result(tmp_path, scene):
    write(scene, tmp_path / "scene.zarr")
    config = {"input": {"path": str(tmp_path / "scene.zarr")}, "clustering": {"k": 3}}
    threaded = run(config, tmp_path / "threads")
    config["run"] = {"cluster": "local:2", "memory_limit": "1GiB"}
    clustered = run(config, tmp_path / "cluster")
    assert adjusted_rand_score(threaded.label_image.ravel(), clustered.label_image.ravel()) == 1.0
    for name in threaded.maps.map_names:
        np.testing.assert_allclose(clustered.maps[name], threaded.maps[name], rtol=1e-6, atol=1e-9, equal_nan=True)
    record = (tmp_path / "cluster" / "run_record.json").read_text()
    assert '"scheduler": "distributed"' in record


def test_processes_scheduler_gives_the_threaded_labels(tmp_path, scene):
    write(scene, tmp_path / "scene.zarr")
    config = {"input": {"path": str(tmp_path / "scene.zarr")}, "clustering": {"k": 3}}
    threaded = run(config, None)
    config["run"] = {"scheduler": "processes"}
    processes = run(config, None)
    np.testing.assert_array_equal(processes.label_image, threaded.label_image)


def test_memory_stays_bounded_on_a_cube_larger_than_the_limit(tmp_path):
    cube = make_large_cube((512, 256), n_channels=256, n_regions=4, chunk_bytes=8 * 2**20)  # 128 MiB
    # a memory-mapped file: the blocks are cut where the limit says, with no codec chunk to decode
    write(cube, tmp_path / "big.rpl")
    peaks = {}
    for limit in (96, 40):
        with compute_settings("threads", memory_limit=f"{limit}MiB") as settings:
            lazy = read(tmp_path / "big.rpl", lazy=True)
            assert lazy.is_lazy and lazy.data.nbytes == 128 * 2**20
            # the limit sizes the blocks: every worker's block, with its temporaries, fits in half of it
            block = max(lazy.data.chunks[0]) * 256 * 256 * 4
            assert block * 4 * settings.n_workers <= limit * 2**20 / 2
            tracemalloc.start()
            est = PixelClusterer(k=4, n_components=5, n_init=2).fit(
                lazy, compute_with=[intensity_map(lazy, 700.0, window=12.0).data]
            )
            _, peaks[limit] = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peaks[limit] < limit * 2**20, f"peak {peaks[limit] / 2**20:.0f} MiB on a 128 MiB cube, limit {limit} MiB"
        assert adjusted_rand_score(cube.labels.ravel(), est.label_image_.ravel()) > 0.99
        assert est.computed_with_[0].shape == (512, 256, 1)
    assert peaks[40] < 0.8 * peaks[96]  # a lower limit lowers the working set


def test_features_larger_than_the_limit_spill_to_a_temporary_store(tmp_path, scene, monkeypatch):
    monkeypatch.setenv("CHEMMAP_SPILL_DIR", str(tmp_path))
    lazy = lazy_copy(scene)
    in_memory = PixelClusterer(k=3, features="spectra", random_state=0).fit(scene)
    with compute_settings(memory_limit="1MiB"):  # the 0.9 MiB of features exceed half of it
        spilled = PixelClusterer(k=3, features="spectra", random_state=0).fit(lazy)
        assert isinstance(spilled.features_, da.Array)
        assert len(list(tmp_path.glob("chemmap-spill-*/zarr.json"))) == 1
        np.testing.assert_array_equal(spilled.features_.compute(), in_memory.features_)
        np.testing.assert_array_equal(spilled.label_image_, in_memory.label_image_)
        scores = internal_scores(spilled.features_, spilled.labels_)
    expected = internal_scores(in_memory.features_, in_memory.labels_)
    assert scores["calinski_harabasz"] == pytest.approx(expected["calinski_harabasz"], rel=1e-9)
    assert scores["davies_bouldin"] == pytest.approx(expected["davies_bouldin"], rel=1e-9)
    del spilled
    gc.collect()
    assert not list(tmp_path.glob("chemmap-spill-*"))  # the store goes with the last array over it


def test_results_larger_than_the_limit_and_bad_settings_are_refused(tmp_path, scene):
    lazy = lazy_copy(scene)
    with compute_settings(memory_limit="1KiB"), pytest.raises(MemoryLimitError, match="--memory-limit"):
        PixelClusterer(k=2, features="spectra").fit(lazy, compute_with=[intensity_map(lazy, 1200.0).data])
    with pytest.raises(InvalidParameterError, match="memory limit"):
        with compute_settings(memory_limit="lots"):
            pass
    with pytest.raises(InvalidParameterError, match="local:N"):
        with compute_settings(cluster="cloud"):
            pass
    with pytest.raises(InvalidParameterError, match="scheduler"):
        with compute_settings("fast"):
            pass


def test_work_on_parallel_threads_sees_the_callers_compute_settings():
    from chemmap._shared.blockwise import in_threads
    from chemmap._shared.compute import active_settings

    with compute_settings("threads", memory_limit="96MiB"):
        seen = in_threads(lambda _: active_settings().memory_limit, list(range(6)))
    assert seen == [96 * 2**20] * 6


def test_a_filtered_copy_larger_than_its_share_of_the_limit_goes_to_disk_by_channel_blocks(tmp_path, monkeypatch):
    from chemmap._shared import blockwise
    from chemmap.preprocessing import spatial_gaussian

    monkeypatch.setenv("CHEMMAP_SPILL_DIR", str(tmp_path))
    cube = make_regions_cube(image_shape=(40, 30), n_channels=50, n_regions=3, random_state=2)
    mask = np.ones(cube.image_shape, bool)
    mask[7, 9] = False
    cube = cube.replace(mask=mask)
    in_memory = spatial_gaussian(cube, sigma=1.5)
    monkeypatch.setattr(blockwise, "IMAGE_BLOCK_BYTES", 40 * 30 * 4 * 7)  # 7 channels per block
    copy_bytes = cube.n_pixels * cube.n_channels * 4
    with compute_settings(memory_limit=f"{copy_bytes * 3 // 1024}KiB"):  # the copy exceeds a quarter of it
        spilled = spatial_gaussian(cube, sigma=1.5)
        assert spilled.is_lazy and not cube.is_lazy
        assert len(list(tmp_path.glob("chemmap-spill-*/zarr.json"))) == 1
        assert len(spilled.data.chunks[2]) == 1  # read back as whole spectra
        np.testing.assert_array_equal(spilled.data.compute(), in_memory.data)
    with compute_settings(memory_limit=f"{copy_bytes * 5 // 1024}KiB"):  # within a quarter: in memory
        assert not spatial_gaussian(cube, sigma=1.5).is_lazy
    del spilled
    gc.collect()
    assert not list(tmp_path.glob("chemmap-spill-*"))  # the store goes with the last array over it


def test_the_scheduler_settings_reach_dask_when_a_reader_first_imports_it(tmp_path):
    """A session does not import Dask (0.06 s) for a cube in memory; a lazy reader that first
    imports it inside the session still gets the session's scheduler and workers, and Dask's
    configuration is its own again after the session."""
    import subprocess
    import sys

    code = f"""
import os, sys
import numpy as np
from chemmap._shared.compute import compute_settings
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.io import read, write

store = {str(tmp_path / "cube.zarr")!r}
with compute_settings("synchronous", memory_limit="1GiB") as settings:
    print("dask" in sys.modules)
    write(Cube(np.ones((4, 5, 6), np.float32), SpectralAxis(np.arange(6.0), "cm-1")), store)
    cube = read(store)
    import dask
    print(cube.is_lazy, dask.config.get("scheduler"), dask.config.get("num_workers"))
print(dask.config.get("scheduler", None), dask.config.get("num_workers", None), "DASK_SCHEDULER" in os.environ)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "synchronous", "1", "None", "None", "False"]
