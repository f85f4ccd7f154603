"""Preprocessing: every pixel treated the same way, parameters recorded in the history.

Functions work on Cubes and on ``(..., n_channels)`` arrays; :class:`Chain` runs named
steps from a config and freezes learned values so new cubes are processed identically;
:class:`SpectralTransformer` runs the same steps inside scikit-learn pipelines (imported when
first used: it needs scikit-learn, the steps do not).
"""

from chemmap._shared.lazy import lazy_attributes
from chemmap.preprocessing._steps import steps
from chemmap.preprocessing.bands import drop_bad_bands, mask_bands, mask_low_snr_bands, resample
from chemmap.preprocessing.baseline import arpls, asls, baseline, modpoly
from chemmap.preprocessing.chain import Chain
from chemmap.preprocessing.crop import crop
from chemmap.preprocessing.image import absorbance, destripe, flat_field
from chemmap.preprocessing.lowrank import denoise
from chemmap.preprocessing.normalize import emsc, msc, normalize, snv
from chemmap.preprocessing.quality import bad_pixel_masks, band_noise, band_snr, mask_bad_pixels
from chemmap.preprocessing.smooth import savgol, spatial_gaussian, spatial_median, whittaker
from chemmap.preprocessing.spikes import despike, find_spikes

__all__ = [
    "Chain",
    "SpectralTransformer",
    "absorbance",
    "arpls",
    "asls",
    "bad_pixel_masks",
    "band_noise",
    "band_snr",
    "baseline",
    "crop",
    "denoise",
    "despike",
    "destripe",
    "drop_bad_bands",
    "emsc",
    "find_spikes",
    "flat_field",
    "mask_bad_pixels",
    "mask_bands",
    "mask_low_snr_bands",
    "modpoly",
    "msc",
    "normalize",
    "resample",
    "savgol",
    "snv",
    "spatial_gaussian",
    "spatial_median",
    "steps",
    "whittaker",
]

__getattr__, __dir__ = lazy_attributes(__name__, {"SpectralTransformer": "chemmap.preprocessing.transformers"})
