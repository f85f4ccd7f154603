"""Synthetic MA-XRF scans with known element maps, tube scatter, escape peaks and speckles,
and sparse-count SEM-EDS maps with light-element lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube

__all__ = ["XRFScene", "make_eds_cube", "make_xrf_cube"]

#: Elements of the default scene, and the line family each is excited in.
DEFAULT_ELEMENTS = ("Ca", "Fe", "Cu", "Zn", "Pb")


@dataclass
class XRFScene:
    """A synthetic scan and its truth.

    Attributes
    ----------
    cube : Cube
        Photon counts (uint16), axis in keV (or channel numbers when not calibrated).
    element_maps : dict of str to ndarray
        True abundance of each element, ``(height, width)``.
    speckle_centroids : ndarray of shape (n, 2)
        Row, column of each speckle's centre (pixels).
    speckle_mask : ndarray of bool
    anode : str or None
        The X-ray tube's anode (None: electron excitation, EDS).
    gain, offset : float
        Energy of channel ``i`` is ``offset + gain * i`` keV.
    """

    cube: Cube
    element_maps: dict[str, np.ndarray]
    speckle_centroids: np.ndarray
    speckle_mask: np.ndarray
    anode: str | None
    gain: float
    offset: float
    absent: tuple[str, ...] = field(default=())


def _smooth_field(shape, rng, scale: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.normal(size=shape), scale, mode="reflect")
    return (f - f.min()) / (np.ptp(f) or 1.0)


def _soft_region(shape, rng, scale: float, share: float) -> np.ndarray:
    f = _smooth_field(shape, rng, scale)
    threshold = np.quantile(f, 1 - share)
    return 1.0 / (1.0 + np.exp(-(f - threshold) / 0.03))


def _peak(energies: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    sigma = fwhm / 2.3548
    return np.exp(-0.5 * ((energies - center) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def _air_transmission(energy) -> np.ndarray:
    """Crude absorption of soft lines on their way through air (1 at high energy)."""
    return 1.0 - np.exp(-((np.asarray(energy) / 2.0) ** 3))


def element_spectrum(element: str, energies: np.ndarray, *, escape: float = 0.01, high: float = 40.0) -> np.ndarray:
    """Counts per keV of one unit of ``element``: its principal line family (K, else L,
    else M) at full weight and the others at 5 %, detector-broadened, with Si escape peaks."""
    from chemmap.xrf.lines import SI_ESCAPE_KEV, detector_fwhm, element_lines

    out = np.zeros_like(energies)
    families = element_lines(element, low=1.0, high=high)
    principal = next(f for f in ("K", "L", "M") if f in families)
    for family, lines in families.items():
        weight = 1.0 if family == principal else 0.05
        for line in lines:
            amplitude = weight * line.intensity * _air_transmission(line.energy)
            out += amplitude * _peak(energies, line.energy, float(detector_fwhm(line.energy)))
            if line.energy > SI_ESCAPE_KEV + 0.1:
                escaped = line.energy - SI_ESCAPE_KEV
                out += escape * amplitude * _peak(energies, escaped, float(detector_fwhm(escaped)))
    return out


def scatter_spectrum(anode: str, energies: np.ndarray, *, compton_angle: float = 90.0) -> np.ndarray:
    """Rayleigh (elastic) and Compton (broadened, shifted) scatter of the anode's K lines."""
    from chemmap.xrf.lines import compton_energy, detector_fwhm, family_lines

    out = np.zeros_like(energies)
    for line in family_lines(anode, "K"):
        out += line.intensity * _peak(energies, line.energy, float(detector_fwhm(line.energy)))
        shifted = float(compton_energy(line.energy, compton_angle))
        out += 1.5 * line.intensity * _peak(energies, shifted, 3.0 * float(detector_fwhm(shifted)))
    return out


def continuum_spectrum(energies: np.ndarray, *, tube_kv: float = 40.0) -> np.ndarray:
    """Scattered bremsstrahlung (Kramers' law), softened by air absorption; unit area."""
    e = np.clip(energies, 0.05, None)
    out = np.clip(tube_kv / e - 1.0, 0, None) * _air_transmission(e) * np.exp(-e / 12.0)
    return out / max(out.sum() * np.median(np.diff(energies)), 1e-12)


def make_xrf_cube(
    image_shape: tuple[int, int] = (64, 96),
    *,
    n_channels: int = 2048,
    gain: float = 0.02,
    offset: float = -0.05,
    elements=DEFAULT_ELEMENTS,
    anode: str = "Rh",
    line_counts: float = 600.0,
    scatter_counts: float = 400.0,
    continuum_counts: float = 1500.0,
    n_speckles: int = 4,
    escape: float = 0.01,
    calibrated: bool = True,
    random_state: int = 0,
) -> XRFScene:
    """A macro-XRF scan of a painting-like scene with Poisson photon counts.

    Ca is a ground layer everywhere (varying); Fe, Pb and Cu occupy irregular regions; Zn
    is a weak region; ``n_speckles`` small brass inclusions (Cu + Zn, about 5 pixels each)
    sit at random places. Every pixel also has the anode's Rayleigh and Compton scatter
    and a continuum.

    Parameters
    ----------
    image_shape : (int, int)
    n_channels : int
    gain, offset : float
        Channel ``i`` is at ``offset + gain * i`` keV.
    elements : sequence of str
        Element symbols; the first is the ground, the rest get regions (Zn a weak one).
    anode : str
        Tube anode (its K lines are scattered).
    line_counts, scatter_counts, continuum_counts : float
        Expected counts per pixel of an element at abundance 1, of the scatter and of the
        continuum.
    n_speckles : int
    escape : float
        Si escape peak share of each line.
    calibrated : bool
        Give the axis in keV; else channel numbers (as Bruker M6 files).
    random_state : int

    Returns
    -------
    XRFScene
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(random_state)
    h, w = image_shape
    energies = offset + gain * np.arange(n_channels)
    maps: dict[str, np.ndarray] = {}
    for i, element in enumerate(elements):
        if i == 0:
            maps[element] = 0.2 + 0.8 * _smooth_field(image_shape, rng, 8.0)
        else:
            strength = 0.3 if element == "Zn" else 1.0
            maps[element] = strength * _soft_region(image_shape, rng, 6.0, share=0.35)
    speckles = _speckle_centres(image_shape, n_speckles, rng)
    rows, cols = np.mgrid[0:h, 0:w]
    speckle_mask = np.zeros(image_shape, bool)
    for r, c in speckles:
        disc = (rows - r) ** 2 + (cols - c) ** 2 <= 1.6**2
        speckle_mask |= disc
        for element, level in (("Cu", 3.0), ("Zn", 2.0)):
            if element in maps:
                maps[element] = np.where(disc, maps[element] + level, maps[element])
    channel = gain  # keV per channel: densities (per keV) times this are counts per channel
    components = [line_counts * channel * element_spectrum(e, energies, escape=escape) for e in elements]
    scatter = scatter_counts * channel * scatter_spectrum(anode, energies)
    continuum = continuum_counts * channel * continuum_spectrum(energies)
    matrix = 0.8 + 0.4 * gaussian_filter(rng.normal(size=image_shape), 4.0) / 0.1  # scatter varies with the matrix
    matrix = np.clip(matrix, 0.5, 1.5)
    abundance = np.stack([maps[e] for e in elements], axis=-1).reshape(-1, len(elements))
    expected = abundance @ np.stack(components) + matrix.reshape(-1, 1) * (scatter + continuum)[None, :]
    counts = rng.poisson(np.clip(expected, 0, None)).astype(np.uint16).reshape(h, w, n_channels)
    if calibrated:
        axis = SpectralAxis(energies, "keV")
    else:
        axis = SpectralAxis(np.arange(n_channels, dtype=np.float64), "channel")
    cube = Cube(counts, axis, attrs={"source": "synthetic MA-XRF", "anode": anode})
    return XRFScene(cube, maps, np.asarray(speckles, dtype=float), speckle_mask, anode, gain, offset, absent=())


def _speckle_centres(shape, n: int, rng, margin: int = 5, spacing: float = 8.0) -> list[tuple[int, int]]:
    h, w = shape
    centres: list[tuple[int, int]] = []
    for _ in range(1000 * max(n, 1)):
        if len(centres) == n:
            break
        r, c = int(rng.integers(margin, h - margin)), int(rng.integers(margin, w - margin))
        if all((r - a) ** 2 + (c - b) ** 2 >= spacing**2 for a, b in centres):
            centres.append((r, c))
    return centres


def make_eds_cube(
    image_shape: tuple[int, int] = (48, 64),
    *,
    elements=("O", "Si", "Ti"),
    n_channels: int = 2048,
    gain: float = 0.01,
    offset: float = -0.2,
    beam_kv: float = 15.0,
    counts_per_pixel: float = 60.0,
    resolution_mn_ka: float = 0.130,
    random_state: int = 0,
) -> XRFScene:
    """An SEM-EDS map with sparse Poisson counts (a few per pixel), as electron microscopes
    write them.

    The first element is the matrix, everywhere (an oxide: O); the others occupy irregular
    regions. Every family of an element whose line lies above 0.1 keV and whose edge the
    beam excites is drawn (the principal family, K else L else M, at full weight, the
    others at a tenth), broadened to the detector's resolution at each energy, over a
    bremsstrahlung continuum (Kramers) that the detector window cuts at low energy, with
    the detector's zero (noise) peak at 0 keV.

    Parameters
    ----------
    image_shape : (int, int)
    elements : sequence of str
    n_channels : int
    gain, offset : float
        Channel ``i`` is at ``offset + gain * i`` keV.
    beam_kv : float
        Beam energy (keV): lines whose edge lies above it are not excited.
    counts_per_pixel : float
        Scale of a pixel's counts: it holds ``0.3 * counts_per_pixel`` of continuum and
        ``0.7 * counts_per_pixel / len(elements)`` in the lines of each element at abundance 1.
    resolution_mn_ka : float
        Detector FWHM at Mn Kα (keV).
    random_state : int

    Returns
    -------
    XRFScene
        ``anode`` is None; ``cube.attrs`` carries ``beam_energy_kev`` and
        ``detector_resolution_ev`` as a vendor file's metadata would.
    """
    from chemmap.xrf.lines import detector_fwhm, element_lines, is_excited, noise_fwhm_of

    rng = np.random.default_rng(random_state)
    energies = offset + gain * np.arange(n_channels)
    noise_fwhm = noise_fwhm_of(resolution_mn_ka)
    maps = {
        element: (0.6 + 0.4 * _smooth_field(image_shape, rng, 8.0))
        if i == 0
        else _soft_region(image_shape, rng, 6.0, share=0.4)
        for i, element in enumerate(elements)
    }
    components = []
    for element in elements:
        spectrum = np.zeros_like(energies)
        families = {
            f: lines
            for f, lines in element_lines(element, low=0.1, high=beam_kv).items()
            if is_excited(element, f, beam_kv)
        }
        principal = next(f for f in ("K", "L", "M") if f in families)
        for family, lines in families.items():
            weight = 1.0 if family == principal else 0.1
            for line in lines:
                width = float(detector_fwhm(line.energy, noise_fwhm=noise_fwhm))
                spectrum += weight * line.intensity * _peak(energies, line.energy, width)
        components.append(spectrum * gain)
    e = np.clip(energies, 0.05, None)
    window = 1.0 - np.exp(-((e / 0.35) ** 3))
    continuum = np.clip(beam_kv / e - 1.0, 0, None) * window
    continuum *= 0.3 / max(continuum.sum(), 1e-12)
    zero_peak = 0.02 * _peak(energies, 0.0, noise_fwhm) * gain
    line_part = np.stack(components) / np.stack(components).sum(axis=1, keepdims=True)
    abundance = np.stack([maps[e] for e in elements], axis=-1).reshape(-1, len(elements))
    expected = counts_per_pixel * (0.7 * abundance @ line_part / len(elements) + continuum + zero_peak)
    counts = rng.poisson(np.clip(expected, 0, None)).astype(np.uint16).reshape(*image_shape, n_channels)
    attrs = {
        "source": "synthetic SEM-EDS",
        "beam_energy_kev": beam_kv,
        "detector_resolution_ev": 1e3 * resolution_mn_ka,
    }
    cube = Cube(counts, SpectralAxis(energies, "keV"), attrs=attrs)
    return XRFScene(cube, maps, np.zeros((0, 2)), np.zeros(image_shape, bool), None, gain, offset)
