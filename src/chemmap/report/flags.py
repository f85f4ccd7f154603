"""The mapping workflow's red-flag list, checked against a run's metrics."""

from __future__ import annotations

from chemmap.metrics.grades import QUALITY_TABLE

__all__ = ["IMBALANCE_RATIO", "SALT_AND_PEPPER_LIMIT", "SPATIAL_CHANGE_LIMIT", "red_flags"]

#: Largest/smallest cluster size above which the imbalance is flagged.
IMBALANCE_RATIO = 10.0
#: Share of isolated pixels above which a map is called noisy.
SALT_AND_PEPPER_LIMIT = 0.02
#: Share of pixels whose label a spatial step (clean-up, Potts prior) may change unflagged.
SPATIAL_CHANGE_LIMIT = 0.10


def red_flags(metrics: dict, config: dict) -> list[str]:
    """Warnings that apply to this run, each a sentence with what to do about it."""
    flags = []
    cl = metrics["clustering"]
    sil = cl.get("silhouette")
    if sil is not None and sil < QUALITY_TABLE["silhouette"][0]:
        flags.append(
            f"Low silhouette ({sil:.2f} < {QUALITY_TABLE['silhouette'][0]}): clusters overlap; "
            "try other preprocessing, features or k."
        )
    sizes = [c["n_pixels"] for c in cl["clusters"] if c["n_pixels"] > 0]
    if len(sizes) > 1 and max(sizes) / min(sizes) > IMBALANCE_RATIO:
        flags.append(
            f"Strong class imbalance: the largest cluster has {max(sizes)} pixels, the smallest "
            f"{min(sizes)} ({max(sizes) / min(sizes):.0f}x); small clusters may be noise or rare "
            "material - check their spectra."
        )
    sp = cl.get("salt_and_pepper_fraction", 0.0)
    if sp > SALT_AND_PEPPER_LIMIT:
        flags.append(
            f"Salt-and-pepper noise: {100 * sp:.1f} % of pixels differ from all 8 neighbours; "
            "consider spatial smoothing, mode_filter = 3 or min_region_size."
        )
    for name, info in metrics["maps"].items():
        if info.get("kind") == "ratio" and info.get("n_bound"):
            flags.append(
                f"Ratio bounds: in {info['n_bound']} pixels of {name} the {info['denominator']['at']:g} band is below "
                f"{info['noise_threshold']:g} noise sigmas, so the ratio there is a lower bound (hatched in the "
                f"figure, 1 in {name}_bound); --ratio-mode difference gives a contrast defined there."
            )
        if info.get("kind") == "ratio" and info.get("n_undefined"):
            flags.append(
                f"Blank ratios: {info['n_undefined']} pixels of {name} are blank because neither band stands "
                f"{info['noise_threshold']:g} noise sigmas up there (--ratio-min-snr sets the level)."
            )
    if cl.get("k_chosen_by") == "user":
        flags.append(
            f"k = {cl['k']} was set by hand, not picked by a criterion; run with k = 'auto' to "
            "see what silhouette, elbow, gap and BIC say."
        )
    elif cl.get("k_selection") and len(cl["k_selection"].get("agreement", [])) < 2:
        flags.append(
            f"Only {cl['k_chosen_by']} supports k = {cl['k']}; the criteria disagree (see the k selection table)."
        )
    flags.extend(_k_at_the_end_of_the_search(cl, config))
    flags.extend(_variance_kept_in_noise(cl, config, metrics["n_channels"]))
    snr = metrics.get("snr", {})
    if snr.get("n_low_snr_bands"):
        ranges = ", ".join(f"{a:g}-{b:g}" for a, b in snr["low_snr_ranges"][:6])
        flags.append(
            f"Low-SNR bands included: {snr['n_low_snr_bands']} of {metrics['n_channels']} channels "
            f"have SNR < {snr['low_snr_threshold']:g} ({ranges} {metrics['axis']['unit']}); "
            "crop them if they carry no chemistry."
        )
    changed = (cl.get("cleanup") or {}).get("n_pixels_changed") or 0
    labelled = sum(c["n_pixels"] for c in cl["clusters"])
    if labelled and changed > SPATIAL_CHANGE_LIMIT * labelled:
        flags.append(
            f"The spatial step changed {changed} labels ({100 * changed / labelled:.0f} % of the pixels): the map "
            "owes much to the smoothing, not to the spectra alone. Compare with a run without it (mode_filter = 0, "
            "min_region_size = 0, or another method) before trusting small regions."
        )
    if (cl.get("cleanup") or {}).get("n_signal_components") == 0:
        flags.append(
            "No spectral component stands above the noise (every MNF component's variance is under twice the "
            "noise's, or under what sampling gives pure noise): the clusters follow smoothed noise, not chemistry. "
            "Check the crop and the preprocessing; a run with --method kmeans shows how random the split is."
        )
    if "ari" not in cl:
        flags.append(
            "No ground truth: every score here is internal (how separated the clusters are, not whether they "
            "are right). Give --label-column or --label-mask to score the segmentation against known regions."
        )
    stability = cl.get("stability")
    if stability and stability.get("stable") is False:
        flags.append(
            f"Unstable clusters: refitted with other seeds on lightly perturbed features, the segmentation "
            f"agrees with this one at ARI {stability['min_ari']:.2f} at worst (< {stability['threshold']:g}); "
            "it depends on the seed and the preprocessing. Try another k, features or preprocessing."
        )
    spatial = cl.get("spatial_coherence") or {}
    if spatial.get("random_clusters"):
        which = ", ".join(str(c) for c in spatial["random_clusters"])
        flags.append(
            f"Spatially random clusters ({which}): their pixels are no more often neighbours of each other than "
            f"chance makes them (join-count kappa < {spatial['threshold']:g}); in an image that usually means "
            "noise, or a table read with the wrong image shape."
        )
    if metrics["n_invalid_pixels"]:
        flags.append(_masked_pixels(metrics))
    return flags


#: A variance fraction that needs more than this share of the channels as PCA components
#: keeps directions that hold noise: signal concentrates in a few.
NOISE_COMPONENT_SHARE = 0.25


def _variance_kept_in_noise(cl: dict, config: dict, n_channels: int) -> list[str]:
    """PCA features asked for by variance fraction that needed many of the channels: on noisy
    spectra (sparse EDS counts, SNV of empty pixels) 99 % of the variance took 1 014 of 2 048
    components and the silhouette was 0.003."""
    asked, features = config["clustering"].get("n_components"), cl.get("features") or {}
    n = features.get("n_features", 0)
    if features.get("kind") != "pca" or not isinstance(asked, float) or asked >= 1:
        return []
    if n <= max(20, NOISE_COMPONENT_SHARE * n_channels):
        return []
    return [
        f"Features in noise: {100 * asked:g} % of the variance took {n} principal components of {n_channels} "
        "channels: most of the variance is noise, spread over every direction, and the clusters are drawn in it. "
        "To fix this, give a number of components (--n-components 10), or denoise first (chemmap denoise)."
    ]


def _masked_pixels(metrics: dict) -> str:
    """Why pixels are blank in every map: missing rows, NaN/Inf values, the preprocessing."""
    n, by_steps = metrics["n_invalid_pixels"], metrics.get("n_masked_by_preprocessing", 0)
    text = f"{n} of {metrics['n_pixels']} pixels are masked and left blank in every map"
    if not by_steps:
        return text + " (missing rows or NaN/Inf values)."
    share = f"{100 * n / metrics['n_pixels']:.0f} %"
    return (
        f"{text} ({share}); {by_steps} of them by the preprocessing, which could not process their spectra "
        "(SNV or a norm of a spectrum of zeros or of one constant value) or masked them (mask steps). Check that "
        "they hold no sample: a sparse map of counts can have most pixels empty."
    )


def _k_at_the_end_of_the_search(cl: dict, config: dict) -> list[str]:
    """A k chosen at the largest value searched: the criterion may have chosen more in a wider
    search (BIC on real spectra keeps rewarding components), so k is a lower bound there."""
    from chemmap.cluster.selection import MIN_PIXELS_PER_CLUSTER

    searched = (cl.get("k_selection") or {}).get("k_values") or []
    if cl.get("k_chosen_by") == "user" or len(searched) < 2 or cl["k"] != max(searched):
        return []
    top = config["clustering"]["k_range"][1]
    if max(searched) < top:
        return [
            f"k = {cl['k']} is the most clusters an automatic choice may make with these valid pixels (about "
            f"{MIN_PIXELS_PER_CLUSTER} pixels each), and {cl['k_chosen_by']} chose it: there may be more; read k as "
            f"at least {cl['k']}."
        ]
    return [
        f"k = {cl['k']} is the largest k searched ({min(searched)}-{max(searched)}): {cl['k_chosen_by']} might "
        f"choose more clusters in a wider search. To see whether it does, widen the range (--k-range "
        f"{min(searched)},{2 * top}) and compare the criteria in the k selection table."
    ]
