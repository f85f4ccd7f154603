"""Maps learned from labelled or referenced samples: sample sets and PLS baselines; pixel
classifiers validated on spatial blocks."""

from chemmap.supervised.blocks import block_split
from chemmap.supervised.classify import CLASSIFIERS, ClassificationResult, PixelClassifier, classify_pixels
from chemmap.supervised.pls import PLSMapper, preprocess_spectra
from chemmap.supervised.samples import Sample, SampleEntry, grouped_folds, load_sample, read_manifest

__all__ = [
    "CLASSIFIERS",
    "ClassificationResult",
    "PLSMapper",
    "PixelClassifier",
    "Sample",
    "SampleEntry",
    "block_split",
    "classify_pixels",
    "grouped_folds",
    "load_sample",
    "preprocess_spectra",
    "read_manifest",
]
