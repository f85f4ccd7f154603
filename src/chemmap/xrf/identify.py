"""Which element lines explain the peaks of an XRF spectrum.

Every element family (K, L, M) whose strongest line lies within a tolerance of a peak is a
candidate. Its confidence is how well the spectrum shows its *other* lines at their expected
relative heights: a line expected above three noise sigmas but missing lowers it (arsenic
Kα coincides with lead Lα, but arsenic Kβ at 11.73 keV must then show too). The tube
anode's Rayleigh and Compton scatter, Si escape peaks and sum peaks are flagged.
"""

from __future__ import annotations

import numpy as np

from chemmap.maps.noise import spectral_noise_sigma
from chemmap.maps.peaks import Peak
from chemmap.xrf.lines import SI_ESCAPE_KEV, compton_energy, element_lines, element_symbols, family_lines

__all__ = ["CONFIDENT", "identify_peaks"]

#: Confidence from which an element is reported as identified.
CONFIDENT = 0.7
#: Lines weaker than this (relative to their family's strongest) are not checked.
CHECKED_INTENSITY = 0.05
#: Confidence of a family whose other lines are all too weak to check.
SINGLE_LINE_CONFIDENCE = 0.5
#: Compton scattering angles considered (degrees): the peak lies between their energies.
COMPTON_ANGLES = (60.0, 150.0)


def identify_peaks(
    energies,
    spectrum,
    peaks: list[Peak],
    *,
    anode: str = "Rh",
    tolerance: float | None = None,
    elements=None,
) -> dict:
    """Assign element lines (or scatter, escape and sum peaks) to the peaks of a spectrum.

    Parameters
    ----------
    energies : array of shape (n_channels,)
        Calibrated axis, keV.
    spectrum : array of shape (n_channels,)
        The spectrum the peaks were found on (max or mean spectrum).
    peaks : list of Peak
    anode : str
        X-ray tube anode element (its K lines are scattered into the spectrum).
    tolerance : float, optional
        Largest distance (keV) between a line and a peak; default the larger of 0.05 keV
        and half of each peak's FWHM.
    elements : sequence of str, optional
        Elements considered (default Na to U).

    Returns
    -------
    dict
        ``peaks``: per peak its ``assignment`` (e.g. ``"Fe Ka1"``), ``element``,
        ``family``, ``confidence``, ``alternatives`` and ``flags`` (``rayleigh``,
        ``compton``, ``escape``, ``sum``); ``elements``: every candidate family with its
        confidence and matched lines, most confident first; ``identified``: the elements
        at or above :data:`CONFIDENT`.
    """
    x = np.asarray(energies, dtype=np.float64)
    y = np.asarray(spectrum, dtype=np.float64)
    if not peaks:
        return {"peaks": [], "elements": [], "identified": []}
    positions = np.array([p.position for p in peaks])
    fwhm = np.array([max(p.fwhm, 1e-6) for p in peaks])
    tol = np.maximum(0.05, fwhm / 2) if tolerance is None else np.full(len(peaks), float(tolerance))
    noise = float(spectral_noise_sigma(y[None, :])[0])
    symbols = element_symbols() if elements is None else tuple(elements)
    low, high = float(x[0]), float(x[-1])

    def matching(energy: float) -> int | None:
        distance = np.abs(positions - energy)
        best = int(np.argmin(distance))
        return best if distance[best] <= tol[best] else None

    candidates = []
    for element in symbols:
        for family, lines in element_lines(element, low=low, high=high).items():
            strongest = matching(lines[0].energy)
            if strongest is None:
                continue
            confidence, matched = _family_confidence(x, y, noise, lines, peaks[strongest], matching)
            candidates.append(
                {
                    "element": element,
                    "family": family,
                    "confidence": confidence,
                    "lines": {line.name: int(i) for line, i in matched},
                    "peak": strongest,
                }
            )
    flags = _flags(peaks, anode, tol)
    _require_higher_families(candidates, x, y, noise, fwhm, low, high)
    for cand in candidates:  # a family resting on a scatter peak explains nothing
        own = flags[cand["peak"]]
        if own.get("rayleigh") or own.get("compton"):
            cand["confidence"] = 0.0
        elif own.get("escape") or own.get("sum"):
            cand["confidence"] *= 0.3
    accepted = _explain(candidates, [p.prominence for p in peaks])
    claimed: dict[int, dict] = {}
    for cand in accepted:
        for j in cand["lines"].values():
            claimed.setdefault(j, cand)
    report = []
    for i, peak in enumerate(peaks):
        options = [c for c in sorted(candidates, key=lambda c: -c["confidence"]) if i in c["lines"].values()]
        labels = [f"{c['element']} {_line_at(c, i)}" for c in options]
        entry = {"position": peak.position, "flags": flags[i]}
        owner = claimed.get(i)
        if flags[i].get("rayleigh") or flags[i].get("compton"):
            kind = "Rayleigh" if flags[i].get("rayleigh") else "Compton"
            entry.update(assignment=f"{anode} {kind}", element=None, family=None, confidence=1.0)
        elif owner is not None and owner["confidence"] >= CONFIDENT:
            entry.update(
                assignment=f"{owner['element']} {_line_at(owner, i)}",
                element=owner["element"],
                family=owner["family"],
                confidence=owner["confidence"],
            )
        elif flags[i].get("escape") or flags[i].get("sum"):
            kind = "escape" if flags[i].get("escape") else "sum"
            entry.update(assignment=f"{kind} peak of {flags[i][kind]}", element=None, family=None, confidence=None)
        elif owner is not None:
            entry.update(
                assignment=f"{owner['element']} {_line_at(owner, i)}",
                element=owner["element"],
                family=owner["family"],
                confidence=owner["confidence"],
            )
        else:
            entry.update(assignment=None, element=None, family=None, confidence=None)
        entry["alternatives"] = [label for label in labels if label != entry["assignment"]][:5]
        report.append(entry)
    summary = sorted(accepted, key=lambda c: -c["confidence"])
    identified = sorted({c["element"] for c in accepted if c["confidence"] >= CONFIDENT})
    return {"peaks": report, "elements": summary, "identified": identified}


def _family_confidence(x, y, noise, lines, strongest: Peak, matching) -> tuple[float, list]:
    """Weighted agreement of the family's other lines with their expected heights.

    Lines closer than half a FWHM make one peak: their intensities add up, for the
    strongest line's peak (the reference) and for each peak checked.
    """
    groups = _merged(lines, strongest.fwhm / 2)
    reference = _net_height(x, y, groups[0][0], strongest.fwhm) / groups[0][1]
    matched = [(line, j) for line in lines if (j := matching(line.energy)) is not None]
    weights, scores = [], []
    for energy, intensity in groups[1:]:
        if intensity < CHECKED_INTENSITY:
            continue
        expected = intensity * reference
        if expected < 3 * noise:
            continue  # too weak to check
        observed = _net_height(x, y, energy, strongest.fwhm)
        weights.append(intensity)
        scores.append(min(observed / expected, 1.0))  # more than expected may be an overlap
    if not weights:
        return SINGLE_LINE_CONFIDENCE, matched
    return float(np.average(scores, weights=weights)), matched


def _merged(lines, distance: float) -> list[tuple[float, float]]:
    """(energy, summed intensity) of groups of lines closer than ``distance``, the group of
    the strongest line first."""
    groups: list[list] = []
    for line in sorted(lines, key=lambda line: line.energy):
        if groups and line.energy - groups[-1][-1].energy < distance:
            groups[-1].append(line)
        else:
            groups.append([line])
    merged = [(max(g, key=lambda line: line.intensity).energy, sum(line.intensity for line in g), g) for g in groups]
    merged.sort(key=lambda m: -(lines[0] in m[2]))
    return [(energy, intensity) for energy, intensity, _ in merged]


def _net_height(x, y, energy: float, fwhm: float) -> float:
    """Height at ``energy`` (max within a third of a FWHM) above the lower of the lowest
    values within two FWHMs on either side (a local baseline; the lower side, as the other
    may sit on a neighbouring peak's tail)."""
    near = (x >= energy - fwhm / 3) & (x <= energy + fwhm / 3)
    around = (x >= energy - 2 * fwhm) & (x <= energy + 2 * fwhm)
    if not near.any() or not around.any():
        return 0.0
    left = y[around & (x < energy)]
    right = y[around & (x > energy)]
    base = min(left.min() if left.size else np.inf, right.min() if right.size else np.inf)
    base = 0.0 if not np.isfinite(base) else base
    return max(float(y[near].max()) - base, 0.0)


def _flags(peaks: list[Peak], anode: str, tol: np.ndarray) -> list[dict]:
    """Scatter, escape and sum flags of each peak."""
    positions = np.array([p.position for p in peaks])
    heights = np.array([p.prominence for p in peaks])
    anode_lines = [line for line in family_lines(anode, "K") if line.intensity >= 0.02]
    strong = np.argsort(-heights)[:4]
    flags: list[dict] = []
    for i, e in enumerate(positions):
        f: dict = {}
        for line in anode_lines:
            if abs(e - line.energy) <= tol[i]:
                f["rayleigh"] = line.label
            lowest, highest = (float(compton_energy(line.energy, a)) for a in COMPTON_ANGLES[::-1])
            if lowest - tol[i] <= e <= highest + tol[i] and "rayleigh" not in f:
                f["compton"] = line.label
        for j in range(len(peaks)):
            if j != i and heights[j] > 10 * heights[i] and abs(positions[j] - SI_ESCAPE_KEV - e) <= tol[i]:
                f["escape"] = f"{positions[j]:.3g} keV"
        for a in strong:
            for b in strong:
                if a <= b and i not in (a, b) and abs(positions[a] + positions[b] - e) <= tol[i]:
                    f["sum"] = f"{positions[a]:.3g} + {positions[b]:.3g} keV"
        flags.append(f)
    return flags


def _require_higher_families(candidates: list[dict], x, y, noise, fwhm, low: float, high: float) -> None:
    """Lower an element family's confidence when the same element's higher-energy family
    (L above M, K above L) lies in range but its strongest line does not show: the tube
    that excites the lower family excites the higher one too (when its line is in range)."""
    width = float(np.median(fwhm))
    order = {"M": 0, "L": 1, "K": 2}
    for cand in candidates:
        for family, lines in element_lines(cand["element"], low=low, high=high).items():
            if order[family] <= order[cand["family"]] or lines[0].energy > 0.85 * high:
                continue
            if _net_height(x, y, lines[0].energy, width) < 3 * noise:
                cand["confidence"] *= 0.3


def _line_at(candidate: dict, peak: int) -> str:
    return next(name for name, j in candidate["lines"].items() if j == peak)


def _explain(candidates: list[dict], prominence: list[float]) -> list[dict]:
    """Accept families one at a time, each claiming its peaks; a family whose strongest
    line's peak is already claimed is explained away. Order: an element already accepted
    (through another family) first, then confident families, then confidence times the
    prominence of the strongest line's peak."""
    remaining = [c for c in candidates if c["confidence"] > 0]
    accepted: list[dict] = []
    claimed: set[int] = set()
    while True:
        open_ = [c for c in remaining if c["peak"] not in claimed]
        if not open_:
            return accepted
        elements = {c["element"] for c in accepted}
        best = max(
            open_,
            key=lambda c: (
                c["element"] in elements,
                c["confidence"] >= CONFIDENT,
                c["confidence"] * prominence[c["peak"]],
            ),
        )
        accepted.append(best)
        claimed.update(best["lines"].values())
        remaining.remove(best)
