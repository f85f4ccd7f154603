"""The unmixing and classification steps of a run: component maps (endmembers and
abundances, MCR-ALS or NMF) and maps from labelled pixels, with their scores (the files,
figures and report sections are in :mod:`chemmap.report.component_maps`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConfigError, DataWarning, InputFileNotFoundError, InvalidParameterError, ShapeError

__all__ = ["ABUNDANCE_SOLVERS", "UnmixingOutput", "check_unmix_method", "classification_step", "unmixing_step"]

ABUNDANCE_SOLVERS = ("fcls", "scaled", "nnls", "ls")

#: ``--unmix auto``: extractors whose refined endmembers leave a fit residual within this share
#: of the best one's explain the pixels as well as it does.
EXTRACTOR_TIE = 0.05
#: ``--unmix auto``: where the abundances of such equally good extractors differ by more than
#: this RMSE of the fractions (matched components), the data do not decide between them and
#: the run says so.
EXTRACTOR_DISAGREEMENT = 0.05


def check_unmix_method(value, name, func):
    """``none``, ``auto``, ``mcr``, ``nmf`` or ``EXTRACTOR+SOLVER`` (e.g. ``vca+fcls``)."""
    from chemmap.decomposition.endmembers import ENDMEMBER_METHODS

    if value in ("none", "auto", "mcr", "nmf"):
        return value
    parts = str(value).split("+")
    if len(parts) == 2 and parts[0] in ENDMEMBER_METHODS and parts[1] in ABUNDANCE_SOLVERS:
        return str(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be 'none', 'auto', 'mcr', 'nmf' or EXTRACTOR+SOLVER with EXTRACTOR "
        f"one of {', '.join(ENDMEMBER_METHODS)} and SOLVER one of {', '.join(ABUNDANCE_SOLVERS)} (e.g. 'vca+fcls'). "
        f"Got {value!r} instead."
    )


@dataclass
class UnmixingOutput:
    """Abundance maps ``(height, width, k)``, component spectra ``(k, n_channels)`` and the
    metrics of an unmixing step."""

    abundances: np.ndarray
    endmembers: np.ndarray
    names: list[str]
    metrics: dict = field(default_factory=dict)
    reference_spectra: np.ndarray | None = None


def _fractions(weights: np.ndarray) -> np.ndarray:
    """Each pixel's non-negative weights divided by their sum."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights / weights.sum(axis=2, keepdims=True)


def _load_array(path, what: str, shape_hint: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{what} file {str(path)!r} does not exist; expected a .npy array {shape_hint}.")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ConfigError(f"{what} file {path} is not a NumPy .npy array {shape_hint}: {exc}") from None


def unmixing_step(cube: Cube, opts: dict, *, seed: int, progress=None) -> UnmixingOutput:
    """Run the ``[unmixing]`` section on the preprocessed cube."""
    from chemmap.decomposition import MCRALS, abundance_maps, count_components, extract_endmembers, nmf_maps
    from chemmap.metrics.unmixing import unmixing_scores

    # the references are read first, so a bad path fails before the unmixing runs
    true_a = opts["truth_abundances"]
    true_e = opts["truth_endmembers"]
    truth_a = None if true_a is None else _load_array(true_a, "truth_abundances", "(height, width, k)")
    truth_e = None if true_e is None else _load_array(true_e, "truth_endmembers", "(k, n_channels)")
    if truth_e is not None and (truth_e.ndim != 2 or truth_e.shape[1] != cube.n_channels):
        raise ShapeError(f"truth_endmembers must be (k, {cube.n_channels}) on the processed axis; got {truth_e.shape}.")
    method = opts["method"]
    metrics: dict = {"method": method}
    k = opts["components"]
    if k == "auto":
        count = count_components(cube, random_state=seed, progress=progress)
        if count.bounded_by_pixels:
            raise InvalidParameterError(
                f"components='auto' cannot count the components of {count.n_pixels} pixels: every one of the "
                f"{count.n_pixels - 1} directions they span stands above the noise, so the count ({count.recommended}) "
                "is where the pixels run out, not what they hold. To fix this, give the number of components "
                "(--components K, components = K in a config's [unmixing]) from what you know of the sample."
            )
        k = count.recommended
        metrics["component_count"] = count.to_dict()
        metrics["k_chosen_by"] = count.chosen_by
    else:
        metrics["k_chosen_by"] = "user"
    metrics["k"] = int(k)
    if method == "mcr":
        result = (
            MCRALS(k, init=opts["init"], closure=opts["closure"], random_state=seed)
            .fit(cube, progress=progress)
            .result_
        )
        abundances = _fractions(result.concentrations)
        endmembers = result.spectra
        metrics["mcr"] = result.report()
        metrics["abundance_kind"] = "MCR concentrations divided by their sum per pixel (fractions)"
    elif method == "nmf":
        result = nmf_maps(cube, k, random_state=seed, progress=progress)
        abundances = _fractions(result.maps * np.linalg.norm(result.spectra, axis=1))
        endmembers = result.spectra
        metrics["nmf"] = result.report
        metrics["abundance_kind"] = "NMF weights of unit-norm components divided by their sum per pixel (fractions)"
    else:
        if method == "auto":
            found, spectra, solver, metrics["auto"] = auto_recipe(cube, k, sample=opts["sample"], seed=seed)
        else:
            extractor, solver = method.split("+")
            found = extract_endmembers(cube, k, method=extractor, sample=opts["sample"], random_state=seed)
            spectra = found.spectra
        if spectra.shape[0] < k:
            warnings.warn(
                f"unmixing: {k} components were asked for; {found.method} found only {spectra.shape[0]} distinct "
                f"endmembers among the pixels (they span too few directions), so the maps have {spectra.shape[0]}.",
                DataWarning,
                stacklevel=2,
            )
            metrics["k_asked"], k = metrics["k"], int(spectra.shape[0])
            metrics["k"] = k
        maps = abundance_maps(
            cube,
            spectra,
            method=solver,
            residual=True,
            spatial=None if opts["spatial"] == "none" else opts["spatial"],
            smoothing=opts["smoothing"],
            progress=progress,
        )
        stack = np.asarray(maps.data)
        abundances, endmembers = stack[..., :k], spectra
        metrics["endmembers"] = found.to_dict()
        metrics["abundance_kind"] = maps.attrs["maps"][maps.map_names[0]]["kind"]
        residual = stack[..., k]
        metrics["fit_residual_median"] = float(np.nanmedian(residual))
        if "spatial" in maps.attrs:
            metrics["spatial"] = maps.attrs["spatial"]
    abundances = np.asarray(abundances, dtype=np.float32)
    names = [f"component {i + 1}" for i in range(k)]
    if truth_a is not None or truth_e is not None:
        metrics["scores"] = unmixing_scores(endmembers, abundances, true_spectra=truth_e, true_abundances=truth_a)
    sums = np.nansum(abundances, axis=2)
    metrics["abundance_stats"] = {
        name: {"mean": float(np.nanmean(abundances[..., i])), "max": float(np.nanmax(abundances[..., i]))}
        for i, name in enumerate(names)
    }
    metrics["sum_to_one_max_error"] = float(np.nanmax(np.abs(sums[np.isfinite(sums)] - 1))) if sums.size else None
    return UnmixingOutput(abundances, np.asarray(endmembers, dtype=np.float32), names, metrics, truth_e)


def auto_recipe(cube: Cube, k: int, *, sample: int | None, seed: int):
    """``--unmix auto``: every extractor on one seeded sample of ``sample`` pixels (read
    once); for each, FCLS where the pixels' fractions sum to one, the scaled model where their
    brightness varies (:func:`~chemmap.decomposition.model_choice.brightness_spread`), and its
    endmembers refined from the purest pixels of a first unmixing with that model
    (:func:`~chemmap.decomposition.model_choice.refine_from_purest`: a component whose
    purest pixels' mean lies more than a few noise norms away keeps its extracted spectrum);
    the extractor whose refined endmembers leave the smallest mean fit residual on the sample
    is kept (no truth needed: the endmembers that explain the pixels best).

    Where the purest pixels are still mixtures, several extractors explain the pixels about
    equally well (residuals within :data:`EXTRACTOR_TIE`) with endmembers that are other
    mixtures, and their abundances differ: the RMSE between the chosen extractor's fractions
    and each equally good one's, on the sample, is reported, and above
    :data:`EXTRACTOR_DISAGREEMENT` a :class:`~chemmap.core.exceptions.DataWarning` says that
    the maps depend on a choice the data do not make.

    Returns
    -------
    found : Endmembers
        The chosen extractor's pixels.
    spectra : ndarray of shape (k, n_channels)
        Its refined endmembers.
    solver : str
    report : dict
        The choice and why, every extractor's residual, for ``metrics.json``.
    """
    from chemmap.decomposition import abundance_maps
    from chemmap.decomposition.endmembers import ENDMEMBER_METHODS, endmembers_of_pixels, sample_pixels
    from chemmap.decomposition.model_choice import BRIGHTNESS_SPREAD, brightness_spread, noise_norm, refine_from_purest

    pixels, valid = sample_pixels(cube, sample, seed, func="unmixing auto")
    rows = Cube(pixels[:, None, :].astype(np.float32), cube.axis)
    trials, fractions, skipped = {}, {}, {}
    signal = np.any(pixels != 0, axis=1)  # a pixel without counts fits no mixture: its residual says nothing
    noise = noise_norm(pixels)
    for extractor in ENDMEMBER_METHODS:
        found = endmembers_of_pixels(pixels, valid, cube.image_shape, k, method=extractor, random_state=seed)
        if not np.all(np.any(found.spectra != 0, axis=1)):
            skipped[extractor] = "it chose a pixel without signal (every channel 0) as an endmember"
            continue
        spread = brightness_spread(pixels, found.spectra)
        solver = "scaled" if spread > BRIGHTNESS_SPREAD else "fcls"
        refined, counts, shifts = refine_from_purest(pixels, found.spectra, solver, cube.axis, noise=noise)
        fit = np.asarray(abundance_maps(rows, refined, method=solver, residual=True).data)
        fractions[extractor] = fit[..., :-1]
        trials[extractor] = (float(np.nanmean(fit[signal, 0, -1])), found, refined, solver, spread, counts, shifts)
    if not trials:
        raise ShapeError(
            "unmixing auto: every endmember extractor chose a pixel without signal (every channel 0) as an "
            "endmember. Mask the empty pixels first (a mask_bad_pixels step in the config's [preprocessing] "
            "list masks constant spectra), or choose a recipe with --unmix EXTRACTOR+fcls."
        )
    extractor = min(trials, key=lambda name: trials[name][0])
    residual, found, refined, solver, spread, counts, shifts = trials[extractor]
    rivals = _equally_good(trials, fractions, extractor)
    disagreement = max((r["abundance_rmse_to_chosen"] for r in rivals.values()), default=0.0)
    why = (
        f"the per-pixel sums of non-negative abundances spread by {spread:.3f} (interquartile range over the median), "
        f"{'more' if solver == 'scaled' else 'less'} than {BRIGHTNESS_SPREAD}: "
        + (
            "the pixels' brightness varies, which FCLS would read as composition"
            if solver == "scaled"
            else "the fractions sum to one, as FCLS assumes"
        )
    )
    report = {
        "extractor": extractor,
        "recipe": f"{extractor}+{solver}",
        "extractor_why": f"its refined endmembers leave the smallest mean fit residual ({residual:.4g}) on the "
        f"{pixels.shape[0]} sampled pixels",
        "fit_residual_by_extractor": {name: trial[0] for name, trial in trials.items()},
        "solver": solver,
        "brightness_spread": spread,
        "why": why,
        "refined_from_pixels": counts,
        "refinement_shift_noise_norms": [None if np.isnan(x) else round(x, 3) for x in shifts],
        "skipped_extractors": skipped,
        "equally_good_extractors": rivals,
        "extractor_disagreement": disagreement,
        "extractor_decided_by_data": disagreement <= EXTRACTOR_DISAGREEMENT,
    }
    if disagreement > EXTRACTOR_DISAGREEMENT:
        rival = max(rivals, key=lambda name: rivals[name]["abundance_rmse_to_chosen"])
        warnings.warn(
            f"unmixing auto: the data do not decide the endmember extractor. {rival}'s endmembers explain "
            f"the sampled pixels as well as {extractor}'s (fit residual "
            f"{100 * rivals[rival]['residual_above_chosen']:+.1f} %) but their abundances differ by "
            f"{disagreement:.3f} (RMSE of the fractions), so at least one of the two maps is off by half that "
            f"or more. The purest pixels are probably mixtures themselves; compare --unmix {extractor}+{solver} "
            f"with --unmix {rivals[rival]['recipe']}, or give reference spectra.",
            DataWarning,
            stacklevel=2,
        )
    return found, refined, solver, report


def _equally_good(trials: dict, fractions: dict, chosen: str) -> dict:
    """The extractors whose residual is within :data:`EXTRACTOR_TIE` of ``chosen``'s: their
    recipe, residual above it, and the RMSE between their fractions and its, on the sample."""
    from chemmap.metrics.unmixing import unmixing_scores

    residual = trials[chosen][0]
    return {
        name: {
            "recipe": f"{name}+{trial[3]}",
            "residual_above_chosen": round(trial[0] / max(residual, np.finfo(float).tiny) - 1, 4),
            "abundance_rmse_to_chosen": unmixing_scores(trial[2], fractions[name], true_abundances=fractions[chosen])[
                "mean_abundance_rmse"
            ],
        }
        for name, trial in trials.items()
        if name != chosen and trial[0] <= residual * (1 + EXTRACTOR_TIE)
    }


def classification_step(cube: Cube, opts: dict, *, seed: int, progress=None):
    """Run the ``[classification]`` section: returns the ClassificationResult."""
    from chemmap.supervised.classify import classify_pixels

    labels = _load_array(opts["labels"], "classification labels", f"of int, shape {tuple(cube.image_shape)}")
    if labels.dtype.kind not in "iub":
        raise ConfigError(
            f"classification labels must be integers (class per pixel, {opts['unlabelled']} = unlabelled); "
            f"got dtype {labels.dtype}."
        )
    return classify_pixels(
        cube,
        labels.astype(np.int64),
        method=opts["method"],
        train_fraction=opts["train_fraction"],
        block_size=opts["block_size"],
        buffer=opts["buffer"],
        smoothing=opts["smoothing"] or None,
        unlabelled=opts["unlabelled"],
        random_state=seed,
        progress=progress,
    )
