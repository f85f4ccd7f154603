"""Decompositions of the pixel spectra: PCA from streamed block partials."""

from chemmap.decomposition.pca import StreamingPCA

__all__ = ["StreamingPCA"]
