"""Decompositions of the pixel spectra: PCA from streamed block partials; how many
components; endmember extraction; abundances of known components by batched least squares
(unconstrained, non-negative, fully constrained, scaled; optionally regularised across
neighbours); MCR-ALS and NMF."""

from chemmap.decomposition.abundances import abundance_maps, fcls_gram, nnls_gram
from chemmap.decomposition.endmembers import ENDMEMBER_METHODS, Endmembers, extract_endmembers
from chemmap.decomposition.mcr import MCRALS, MCRResult
from chemmap.decomposition.nmf import NMFResult, nmf_maps
from chemmap.decomposition.pca import StreamingPCA
from chemmap.decomposition.subspace import ComponentCount, count_components

__all__ = [
    "ENDMEMBER_METHODS",
    "MCRALS",
    "ComponentCount",
    "Endmembers",
    "MCRResult",
    "NMFResult",
    "StreamingPCA",
    "abundance_maps",
    "count_components",
    "extract_endmembers",
    "fcls_gram",
    "nmf_maps",
    "nnls_gram",
]
