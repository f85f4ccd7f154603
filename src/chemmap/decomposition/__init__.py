"""Decompositions of the pixel spectra: PCA from streamed block partials; how many
components; endmember extraction; abundances of known components by batched least squares
(unconstrained, non-negative, fully constrained, scaled; optionally regularised across
neighbours); MCR-ALS and NMF. The names below are imported when first used."""

from chemmap._shared.lazy import lazy_attributes

_WHERE = {
    "abundance_maps": "chemmap.decomposition.abundances",
    "brightness_spread": "chemmap.decomposition.model_choice",
    "refine_from_purest": "chemmap.decomposition.model_choice",
    "fcls_gram": "chemmap.decomposition.abundances",
    "nnls_gram": "chemmap.decomposition.abundances",
    "ENDMEMBER_METHODS": "chemmap.decomposition.endmembers",
    "Endmembers": "chemmap.decomposition.endmembers",
    "extract_endmembers": "chemmap.decomposition.endmembers",
    "MCRALS": "chemmap.decomposition.mcr",
    "MCRResult": "chemmap.decomposition.mcr",
    "NMFResult": "chemmap.decomposition.nmf",
    "nmf_maps": "chemmap.decomposition.nmf",
    "StreamingPCA": "chemmap.decomposition.pca",
    "ComponentCount": "chemmap.decomposition.subspace",
    "count_components": "chemmap.decomposition.subspace",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
