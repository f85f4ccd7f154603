"""Decompositions of the pixel spectra: PCA from streamed block partials; abundances of known
components by batched least squares."""

from chemmap.decomposition.abundances import abundance_maps, nnls_gram
from chemmap.decomposition.pca import StreamingPCA

__all__ = ["StreamingPCA", "abundance_maps", "nnls_gram"]
