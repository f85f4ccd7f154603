"""The analysis chain of a run, without any file output (see :mod:`~chemmap.workflows.mapping` for that)."""

from __future__ import annotations

import copy

import numpy as np

from chemmap._shared.blockwise import bound_chunks
from chemmap._shared.compute import compute
from chemmap._shared.noise import row_medians
from chemmap.cluster import PixelClusterer, salt_and_pepper_fraction
from chemmap.cluster.spectra import cluster_spectra
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.io._build import mask_invalid_pixels
from chemmap.maps import default_window, intensity_map, ratio_map
from chemmap.maps.bands import complete_map_info
from chemmap.metrics import external_scores, internal_scores, snr_summary
from chemmap.metrics.cluster_differences import (
    boundary_sharpness,
    centroid_margins,
    distinguishing_bands,
    region_stats,
)
from chemmap.metrics.clustering import cluster_dispersion
from chemmap.metrics.stability import clustering_stability, spatial_coherence
from chemmap.preprocessing import Chain, drop_bad_bands
from chemmap.report.metrics_json import to_json_safe
from chemmap.workflows.mapping_components import classification_step, unmixing_step
from chemmap.workflows.mapping_result import RunResult

__all__ = ["analyse"]


def analyse(cube: Cube, config: dict, *, timer, progress=None):
    """Preprocess, cluster, map and score ``cube`` as ``config`` says.

    Auto-chosen values (k, band positions, window) are written back into the returned
    config, so ``config.resolved.toml`` reproduces the run exactly.
    """
    config = copy.deepcopy(config)
    cube = cube.replace(data=bound_chunks(cube.data))
    with timer.stage("scan"):
        cube = mask_invalid_pixels(cube)
    if cube.axis.bad_bands is not None:
        cube = drop_bad_bands(cube)
    n_valid = int(cube.valid_pixels().sum())
    if cube.n_pixels == 1:
        source = cube.attrs.get("source") or "The input"
        raise ShapeError(
            f"{source} holds one spectrum, not an image: a map and its clusters need at least 2 pixels. To find and "
            "identify its peaks, run chemmap peaks on it; to correct or smooth it, chemmap preprocess."
        )
    if n_valid < 2:
        raise ShapeError(
            f"Only {n_valid} of {cube.n_pixels} pixels hold valid spectra (the others are missing, "
            "NaN/Inf or masked); at least 2 are needed. Check the file and image_shape."
        )
    with timer.stage("preprocess"):
        chain = Chain(config["preprocessing"])
        processed = chain.fit_transform(cube, progress=progress)
        config["preprocessing"] = chain.to_list()

    cl = config["clustering"]
    seed = config["run"]["random_state"]
    given = None  # maps whose bands are all given: for a lazy cube, computed in the clustering's pass
    if config["maps"]["intensity"] and config["maps"]["ratio"]:
        with timer.stage("maps"):
            given = _make_maps(processed, config["maps"], None, None)
    in_pass = [given[0].data] if given is not None and processed.is_lazy else []
    with timer.stage("cluster"):
        clusterer = _clusterer(cl, config, seed, processed.image_shape)
        est = clusterer.fit(processed, progress=progress, compute_with=in_pass)
    label_image = est.label_image_
    with timer.stage("cluster spectra"):
        means, stds, counts = cluster_spectra(processed.pixels(), label_image.reshape(-1), est.k_, progress=progress)
    _refuse_identical_pixels(means, stds, counts, bool(config["preprocessing"]))
    bands = distinguishing_bands(processed.axis.values, means, stds, counts)

    with timer.stage("maps"):
        maps, map_choices, justification = given or _make_maps(processed, config["maps"], means, counts)
        config["maps"].update(map_choices)
        (data,) = est.computed_with_ if in_pass else compute(maps.data, stage="maps", progress=progress)
        maps = maps.replace(data=np.asarray(data))
        complete_map_info(maps)
        if getattr(est, "uncertainty_", None) is not None:
            maps = _with_probabilities(maps, est.probabilities_, est.uncertainty_)

    with timer.stage("metrics"):
        metrics = _metrics(cube, processed, est, label_image, maps, config, bands)
    metrics["parameter_justification"] = justification
    metrics["cluster_spectra"] = {"means": means.tolist(), "stds": stds.tolist(), "counts": counts.tolist()}
    config["clustering"]["k"] = cl["k"]
    unmixing = classification = None
    if config["unmixing"]["method"] != "none":
        with timer.stage("unmixing"):
            unmixing = unmixing_step(processed, config["unmixing"], seed=seed, progress=progress)
        metrics["unmixing"] = unmixing.metrics
    if config["classification"]["labels"] is not None:
        with timer.stage("classification"):
            classification = classification_step(processed, config["classification"], seed=seed, progress=progress)
        metrics["classification"] = classification.report
    return RunResult(
        cube=cube,
        processed=processed,
        maps=maps,
        label_image=label_image,
        metrics=metrics,
        config=config,
        unmixing=unmixing,
        classification=classification,
    )


def _clusterer(cl: dict, config: dict, seed: int, image_shape: tuple[int, int]):
    """The configured clusterer, unfitted: ``PixelClusterer`` or the spectral–spatial one
    (PCA + k-means for a list of spectra, which has no spatial neighbours)."""
    if cl["method"] == "spectral-spatial" and min(image_shape) < 2:
        est = _clusterer({**cl, "method": "kmeans"}, config, seed, image_shape)
        est.method_reason = (
            f"spectral-spatial needs a 2-D image; this is a list of spectra ({image_shape[0]} x {image_shape[1]}), "
            "so PCA + k-means ran"
        )
        return est
    if cl["method"] == "spectral-spatial":
        others = {
            "features": cl["features"] != "pca",
            "mode_filter": cl["mode_filter"] > 0,
            "min_region_size": cl["min_region_size"] > 0,
            "covariance_type": cl["covariance_type"] != "full",
        }
        if any(others.values()):
            names = ", ".join(name for name, given in others.items() if given)
            raise InvalidParameterError(
                f"[clustering] {names} apply to methods kmeans, gmm and hierarchical; method 'spectral-spatial' "
                "(the default) makes its own noise-whitened features and spatial clean-up. To fix this, add "
                "--method kmeans (or method = 'kmeans' under [clustering]), or drop those options."
            )

        return SpectralSpatialClusterer(
            cl["k"],
            criterion=cl["criterion"],
            k_range=tuple(cl["k_range"]),
            n_components=cl["n_components"],
            n_init=cl["n_init"],
            random_state=seed,
        )
    return PixelClusterer(
        method=cl["method"],
        k=cl["k"],
        features=cl["features"],
        n_components=cl["n_components"],
        ratios=[tuple(p) for p in cl["ratios"]],
        window=config["maps"]["window"],
        k_range=tuple(cl["k_range"]),
        criterion=cl["criterion"],
        covariance_type=cl["covariance_type"],
        n_init=cl["n_init"],
        mode_filter=cl["mode_filter"],
        min_region_size=cl["min_region_size"],
        random_state=seed,
    )


def _make_maps(cube: Cube, opts: dict, means: np.ndarray | None, counts: np.ndarray | None):
    """Intensity and ratio maps (lazy for a lazy cube); defaults chosen from the data, with
    the reason recorded. ``means`` and ``counts`` (the cluster spectra) are needed only for
    the bands not given."""
    axis = cube.axis
    choices = {}
    why = {}
    window = opts["window"]
    if window is None:
        window = default_window(axis)
        why["window"] = f"default: {window / axis.spacing:g} channel spacings ({window:g} {axis.unit})"
    else:
        why["window"] = "given by the user"
    choices["window"] = float(window)
    intensity = opts["intensity"]
    values = np.asarray(axis.values, dtype=np.float64)
    # automatic bands keep their whole window on the axis (the middle channel on a short axis)
    inside = (values - window / 2 >= values[0]) & (values + window / 2 <= values[-1])
    if not inside.any():
        inside[values.size // 2] = True
    if not intensity:
        total = (counts[:, None] * means).sum(axis=0) / max(counts.sum(), 1)
        intensity = [float(values[_best(total, inside)])]
        why["intensity"] = "strongest band of the mean spectrum (whole window on the axis)"
    else:
        why["intensity"] = "given by the user"
    ratios = opts["ratio"]
    if not ratios and means.shape[0] >= 2:
        a, b = np.argsort(-counts)[:2]
        diff = means[a] - means[b]
        top = _best(diff, inside)
        apart = inside & (np.abs(values - values[top]) > window)  # never a band over itself
        if apart.any():
            ratios = [[float(values[top]), float(values[_best(-diff, apart)])]]
            why["ratio"] = (
                "bands most raised in the largest cluster (numerator) and in the second largest (denominator)"
            )
        else:
            why["ratio"] = "none: the axis is too short for two bands a window apart"
    elif ratios:
        why["ratio"] = "given by the user"
    ratios = ratios or []
    choices["intensity"], choices["ratio"] = intensity, ratios
    baseline = None if opts["baseline"] == "none" else opts["baseline"]
    maps, info = {}, {}
    for at in intensity:
        m = intensity_map(cube, at, window=window, mode=opts["mode"], baseline=baseline)
        maps.update({n: m.data[..., i] for i, n in enumerate(m.map_names)})
        info.update(m.attrs["maps"])
    for num, den in ratios:
        m = ratio_map(
            cube,
            num,
            den,
            window=window,
            mode=opts["mode"],
            baseline=baseline,
            noise_threshold=opts["noise_threshold"],
            contrast=opts["ratio_mode"],
        )
        maps.update({n: m.data[..., i] for i, n in enumerate(m.map_names)})
        info.update(m.attrs["maps"])
    out = Cube.from_maps(
        maps, mask=cube.valid_pixels().reshape(cube.image_shape), attrs={"maps": info, "unit": axis.unit}
    )
    return out, choices, why


def _with_probabilities(maps: Cube, probabilities: np.ndarray, uncertainty: np.ndarray) -> Cube:
    """``maps`` plus each cluster's per-pixel probability (``cluster_probability_J``) and the
    clustering's uncertainty (1 - the largest probability)."""
    layers = {name: maps[name] for name in maps.map_names}
    info = dict(maps.attrs["maps"])
    for j in range(probabilities.shape[2]):
        layers[f"cluster_probability_{j}"] = probabilities[..., j]
        info[f"cluster_probability_{j}"] = {"kind": "probability", "cluster": j, "unit": "probability"}
    layers["cluster_uncertainty"] = uncertainty
    info["cluster_uncertainty"] = {"kind": "uncertainty", "unit": "probability"}
    return Cube.from_maps(layers, mask=maps.mask, attrs={**maps.attrs, "maps": info})


def _best(score: np.ndarray, allowed: np.ndarray) -> int:
    """Channel of the highest finite ``score`` among the ``allowed`` channels."""
    return int(np.argmax(np.where(allowed & np.isfinite(score), score, -np.inf)))


def _map_stats(image: np.ndarray) -> dict:
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return {"n_nan": int(image.size)}
    return {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "mean": float(finite.mean()),
        "median": float(row_medians(finite[None, :])[0]),
        "n_nan": int(image.size - finite.size),
    }


#: Spread of the spectra about their mean spectrum, as a share of their mean square, below
#: which they count as one spectrum: float32 rounding of identical spectra leaves about
#: 1e-14, 16-bit counts that differ by one in 65 535 2e-10.
IDENTICAL_SPREAD = 1e-12


def _refuse_identical_pixels(means: np.ndarray, stds: np.ndarray, counts: np.ndarray, preprocessed: bool) -> None:
    """Refuse a segmentation of pixels whose spectra are all the same (from the clusters'
    mean spectra, standard deviations and sizes): any split of them is arbitrary (a
    hierarchical clustering put 5 of the 6 identical spectra of a test file in one cluster and
    1 in the other, silhouette 0.000)."""
    present = counts > 0
    means, stds, counts = means[present], stds[present], counts[present]
    n = float(counts.sum())
    overall = counts @ means / n
    spread = float(counts @ np.sum(stds**2, axis=1)) + float(counts @ np.sum((means - overall) ** 2, axis=1))
    magnitude = float(counts @ np.sum(means**2, axis=1))
    if spread <= IDENTICAL_SPREAD * magnitude:
        what = "the same spectrum" if magnitude > 0 else "a spectrum of zeros (no counts or signal in any channel)"
        raise ShapeError(
            f"All {int(n)} valid pixels hold {what}{' after preprocessing' if preprocessed else ''}, so there is "
            "nothing to segment and any split would be arbitrary. To fix this, check the file, the crop (the Velox "
            "EDS map has no count between 0.5 and 8 keV) and the preprocessing (a baseline and a normalisation of "
            "4-channel spectra had made all six spectra of a test file [0, 0, 0, 1])."
        )


def _metrics(raw: Cube, processed: Cube, est, label_image, maps: Cube, config, bands) -> dict:
    seed = config["run"]["random_state"]
    n_invalid = int((~processed.valid_pixels()).sum())
    metrics = {
        "n_pixels": raw.n_pixels,
        "n_invalid_pixels": n_invalid,
        "n_missing_pixels": int(raw.attrs.get("n_missing_pixels", 0)),
        "n_nonfinite_pixels": int(raw.attrs.get("n_nonfinite_pixels", 0)),
        "n_masked_by_preprocessing": n_invalid - int((~raw.valid_pixels()).sum()),
        "image_shape": list(raw.image_shape),
        "image_shape_source": raw.attrs.get("image_shape_source", "the array shape"),
        "n_channels": processed.n_channels,
        "axis": processed.axis.to_dict(),
        "input_axis": raw.axis.to_dict(),
        "source": raw.attrs.get("source"),
        "snr": snr_summary(processed),
        "maps": {name: {**maps.attrs["maps"][name], **_map_stats(maps[name])} for name in maps.map_names},
    }
    # centroids of the final (cleaned) labels in feature space; clusters the clean-up emptied
    # are dropped from the margins
    dispersion = cluster_dispersion(est.features_, est.labels_, est.k_)
    clustering = {
        "method": est.method,
        "k": est.k_,
        "k_chosen_by": est.criterion if est.k == "auto" else "user",
        "k_selection": to_json_safe(est.k_selection_),
        "features": {"kind": est.features, "n_features": int(est.features_.shape[1])},
        **internal_scores(est.features_, est.labels_, random_state=seed, dispersion=dispersion),
        "salt_and_pepper_fraction": salt_and_pepper_fraction(label_image),
        "cleanup": est.cleanup_,
        "clusters": region_stats(label_image, est.k_),
        "distinguishing_bands": bands,
        "boundary": boundary_sharpness(
            label_image, processed.unflatten(centroid_margins(est.features_, dispersion[0][dispersion[1] > 0]))
        ),
    }
    if getattr(est, "method_reason", None):
        clustering["method_reason"] = est.method_reason
    clustering["spatial_coherence"] = spatial_coherence(label_image)
    runs = config["clustering"]["stability_runs"]
    if runs and est.k_ > 1:
        clustering["stability"] = clustering_stability(
            est.features_,
            est.labels_,
            est.k_,
            getattr(est, "refit_method", est.method),
            runs=runs,
            method_options=est.method_options(),
            random_state=seed,
        )
    if est.features == "pca":
        clustering["features"]["explained_variance"] = float(np.sum(est.feature_transformer_.explained_variance_ratio_))
    if est.notes_:
        clustering["notes"] = est.notes_
    if raw.labels is not None and np.any(raw.labels >= 0):
        clustering.update(external_scores(raw.labels, label_image, raw.label_names))
    metrics["clustering"] = clustering
    metrics["grades"] = {
        key: clustering.get(f"{key}_grade")
        for key in ("pixel_accuracy", "mean_iou", "ari", "silhouette")
        if clustering.get(f"{key}_grade") is not None
    }
    metrics["grades"]["snr"] = metrics["snr"].get("grade")
    return metrics
