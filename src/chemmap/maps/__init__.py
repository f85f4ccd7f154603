"""Maps from the cube: band intensity, band ratio, and peak areas and positions of
automatically found peaks."""

from chemmap._shared.noise import band_noise_from_neighbours, spectral_noise_sigma
from chemmap.maps.bands import band_weights, default_window, intensity_map, ratio_map
from chemmap.maps.peak_detection import HotMaxSpectra, Peak, SummarySpectra, find_peaks, hotmax_spectra, summary_spectra
from chemmap.maps.peak_fit import peak_dictionary, peak_fit_maps
from chemmap.maps.peak_slicing import PeakMaps, map_noise, peak_maps

__all__ = [
    "HotMaxSpectra",
    "Peak",
    "PeakMaps",
    "SummarySpectra",
    "band_noise_from_neighbours",
    "band_weights",
    "default_window",
    "find_peaks",
    "hotmax_spectra",
    "intensity_map",
    "map_noise",
    "peak_dictionary",
    "peak_fit_maps",
    "peak_maps",
    "ratio_map",
    "spectral_noise_sigma",
    "summary_spectra",
]
