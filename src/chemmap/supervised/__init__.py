"""Maps learned from labelled or referenced samples: sample sets and PLS baselines."""

from chemmap.supervised.pls import PLSMapper, preprocess_spectra
from chemmap.supervised.samples import Sample, SampleEntry, grouped_folds, load_sample, read_manifest

__all__ = ["PLSMapper", "Sample", "SampleEntry", "grouped_folds", "load_sample", "preprocess_spectra", "read_manifest"]
