"""Maps from the cube: band intensity, band ratio (and, later, peak areas and positions)."""

from chemmap.maps.bands import band_weights, default_window, intensity_map, ratio_map
from chemmap.maps.noise import band_noise_from_neighbours, spectral_noise_sigma

__all__ = [
    "band_noise_from_neighbours",
    "band_weights",
    "default_window",
    "intensity_map",
    "ratio_map",
    "spectral_noise_sigma",
]
