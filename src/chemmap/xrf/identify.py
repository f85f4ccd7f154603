"""Which element lines explain the peaks of an XRF spectrum.

Every element family (K, L, M) whose strongest line lies within a peak's width of the peak
is a candidate. Its confidence is how well the spectrum shows its *other* lines at their
expected relative heights: a line expected above three noise sigmas but missing lowers it
(arsenic Kα coincides with lead Lα, but arsenic Kβ at 11.73 keV must then show too). A
missing principal line of the element's higher family that lies on the axis and that the
beam or tube excites (its edge at most 1/1.5 of the excitation energy) vetoes the family
(Br Lα without Br Kα at 200 kV, V Lα without V Kα). A family whose other lines are too weak
to check rests on its one line: confident when no other element fits that peak, ambiguous
(below :data:`CONFIDENT`) when one does. M lines alone never identify an element. The
detector's zero peak and peaks below :data:`LOWEST_LINE_KEV` are never assigned; a peak much
wider than the detector resolution at its energy is flagged as continuum (or unresolved
lines), one narrower than the detector can resolve as noise, and neither is assigned. The
tube anode's Rayleigh and Compton scatter (when the anode is known), Si escape peaks and sum
peaks are flagged.
"""

from __future__ import annotations

import functools

import numpy as np

from chemmap._shared.noise import MAD_TO_SIGMA, spectral_noise_sigma
from chemmap.maps.peak_detection import Peak
from chemmap.xrf.lines import (
    MN_KA_KEV,
    SI_ESCAPE_KEV,
    compton_energy,
    detector_fwhm,
    element_lines,
    element_symbols,
    family_lines,
    is_excited,
    noise_fwhm_of,
)

__all__ = ["CONFIDENT", "assignment_labels", "identify_peaks"]

#: Confidence from which an element is reported as identified.
CONFIDENT = 0.7
#: Lines weaker than this (relative to their family's strongest) are not checked.
CHECKED_INTENSITY = 0.05
#: Confidence of a family whose other lines are all too weak to check (its one line found,
#: on its energy, as wide as the detector makes it): identified unless another element
#: fits the same peak (then capped at :data:`AMBIGUOUS_CONFIDENCE`).
SINGLE_LINE_CONFIDENCE = 0.8
#: Confidence of an assignment that another element's family fits as well, or of M lines
#: without the L lines that would confirm them.
AMBIGUOUS_CONFIDENCE = 0.5
#: Compton scattering angles considered (degrees): the peak lies between their energies.
COMPTON_ANGLES = (60.0, 150.0)
#: Lowest line energy assigned (keV): below it sit the detector's zero (noise) peak and
#: lines no energy-dispersive detector resolves.
LOWEST_LINE_KEV = 0.1
#: A peak wider than this many detector FWHMs at its energy is continuum, scatter or
#: unresolved lines, never one element line.
BROAD_FACTOR = 4.0
#: A peak narrower than this share of the detector's FWHM at its energy is noise: no line
#: can be narrower than the detector makes it (the share leaves room for widths measured on
#: a noisy or sloping spectrum).
NARROW_FACTOR = 0.5
#: A line is taken as excited (and its absence as evidence) when its edge times this
#: overvoltage lies below the beam or tube energy.
VETO_OVERVOLTAGE = 1.5
#: Confidence factor of a family whose element's higher family is on the axis but absent
#: when the excitation energy is unknown (the line may not be excited: weaker evidence than
#: a veto).
MISSING_FAMILY_FACTOR = 0.3
#: A lower family (L, M) whose peak is this many times more prominent than the peak of the
#: same element's principal line of a higher family is not that element's (Ca Ll at 70x Ca
#: Kα is carbon Kα).
LOWER_FAMILY_MAX_RATIO = 10.0
#: Detector noise FWHM term (keV) assumed when the peaks cannot estimate it (an SDD).
DEFAULT_NOISE_FWHM = 0.09
#: A rival family on the same peak with at least this share of the accepted family's
#: confidence makes the assignment ambiguous (O Kα or V Lα, S Kα or Pb Mα or Mo Lα).
AMBIGUOUS_SHARE = 0.4


def identify_peaks(
    energies,
    spectrum,
    peaks: list[Peak],
    *,
    anode: str | None = None,
    tolerance: float | None = None,
    elements=None,
    support=(),
    resolution_mn_ka: float | None = None,
    excitation_kev: float | None = None,
) -> dict:
    """Assign element lines (or scatter, escape and sum peaks) to the peaks of a spectrum.

    Parameters
    ----------
    energies : array of shape (n_channels,)
        Calibrated axis, keV.
    spectrum : array of shape (n_channels,)
        The spectrum the peaks were found on (max or mean spectrum).
    peaks : list of Peak
    anode : str, optional
        X-ray tube anode element (its K lines are scattered into the spectrum); unknown
        (None): inferred from a Rayleigh and a Compton peak where the spectrum shows them
        (Mo, Rh, Pd, Ag), else Rayleigh and Compton peaks are left unflagged.
    tolerance : float, optional
        Largest distance (keV) between a line and a peak; default half the peak's FWHM,
        at least 0.04 keV and at most 0.75 detector FWHMs at its energy.
    elements : sequence of str, optional
        Elements considered (default B to U, neon excepted).
    support : sequence of arrays of shape (n_channels,), optional
        Other summary spectra of the same cube (e.g. the mean beside the max) in which an
        element's higher family may show instead.
    resolution_mn_ka : float, optional
        Detector FWHM at Mn Kα (keV), from the file or the user; default: the one the peak
        widths imply.
    excitation_kev : float, optional
        Beam energy (EDS) or tube voltage (XRF), keV: which lines are excited. Unknown
        (None): a missing higher family's line below 85 % of the axis end only lowers the
        confidence (by :data:`MISSING_FAMILY_FACTOR`) instead of vetoing.

    Returns
    -------
    dict
        ``peaks``: per peak its ``assignment`` (e.g. ``"Fe Ka1"``), ``element``,
        ``family``, ``confidence``, ``alternatives``, ``lone_line`` (its family's other
        lines too weak to check) and ``flags`` (``zero``, ``broad``, ``narrow``,
        ``rayleigh``, ``compton``, ``escape``, ``sum``); ``elements``: every
        candidate family with its confidence, matched lines and ``notes``, most
        confident first; ``identified``: the elements at or above :data:`CONFIDENT`;
        ``detector_fwhm_mn_kev``: the resolution (FWHM at Mn Kα) used, given or implied by
        the peak widths (``resolution_from``); ``excitation_kev``; ``anode`` and
        ``anode_inferred``; ``rejected``: the families a veto ruled out (element, family, the
        peak's position, ``vetoed_by``). Each element family's evidence: ``lines_found`` (with the peak
        each sits on), ``lines_checked_kev`` and ``lines_missing`` (its other lines, checked at
        their expected heights), ``vetoed_by`` and ``notes`` (what vetoed or capped it).
    """
    x = np.asarray(energies, dtype=np.float64)
    y = np.asarray(spectrum, dtype=np.float64)
    if not peaks:
        return {"peaks": [], "elements": [], "identified": [], "rejected": []}
    positions = np.array([p.position for p in peaks])
    fwhm = np.array([max(p.fwhm, 1e-6) for p in peaks])
    noise_fwhm = _noise_fwhm(positions, fwhm) if resolution_mn_ka is None else noise_fwhm_of(resolution_mn_ka)
    expected = detector_fwhm(positions, noise_fwhm=noise_fwhm)
    if tolerance is None:
        tol = np.clip(fwhm / 2, 0.04, np.maximum(0.75 * expected, 0.04))
    else:
        tol = np.full(len(peaks), float(tolerance))
    spectra = [(y, _noise(y))] + [(v, _noise(v)) for v in (np.asarray(v, dtype=np.float64) for v in support)]
    symbols = element_symbols() if elements is None else tuple(elements)
    low, high = max(float(x[0]), LOWEST_LINE_KEV), float(x[-1])
    excitation = None if excitation_kev is None else float(excitation_kev)
    inferred = anode is None and (anode := _infer_anode(positions, tol)) is not None
    flags = _flags(peaks, anode, tol, expected)
    assignable = np.array([not (f.get("zero") or f.get("broad") or f.get("narrow")) for f in flags])

    def matching(energy: float) -> int | None:
        distance = np.where(assignable, np.abs(positions - energy), np.inf)
        best = int(np.argmin(distance))
        return best if distance[best] <= tol[best] else None

    candidates = []
    for element in symbols:
        for family, lines in element_lines(element, low=low, high=high).items():
            strongest = matching(lines[0].energy)
            if strongest is None:
                continue
            # the family's pattern may show best in the max spectrum (speckles) or the mean (major elements)
            confidence, matched, checked, missing = max(
                (_family_confidence(x, v, sigma, lines, peaks[strongest], matching) for v, sigma in spectra),
                key=lambda result: result[0],
            )
            width = max(expected[strongest], fwhm[strongest])
            confidence *= _closeness(lines, peaks[strongest].position, width)
            candidates.append(
                {
                    "element": element,
                    "family": family,
                    "confidence": confidence,
                    "lines": {line.name: int(i) for line, i in matched},
                    "peak": strongest,
                    "notes": [],
                    "lines_found": [f"{line.name} at {peaks[i].position:.4g} keV" for line, i in matched],
                    "lines_checked_kev": checked,
                    "lines_missing": missing,
                    "vetoed_by": None,
                }
            )

    def masked(energy: float) -> bool:
        """Whether an assignable peak's flank (1.5 of its FWHMs) covers ``energy``."""
        return bool(np.any(assignable & (np.abs(positions - energy) < 1.5 * fwhm)))

    _require_higher_families(
        candidates,
        x,
        spectra,
        matching,
        masked,
        float(np.median(fwhm[assignable] if assignable.any() else fwhm)),
        (low, high),
        excitation,
        np.array([p.prominence for p in peaks]),
    )
    for cand in candidates:  # a family resting on a scatter peak explains nothing
        own = flags[cand["peak"]]
        if own.get("rayleigh") or own.get("compton"):
            cand["confidence"] = 0.0
        elif own.get("escape"):
            cand["confidence"] *= 0.3
    accepted = _explain(candidates, [p.prominence for p in peaks])
    _mark_ambiguous(accepted, candidates)
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
        if flags[i].get("zero"):
            entry.update(assignment=flags[i]["zero"], element=None, family=None, confidence=None)
        elif flags[i].get("broad") or flags[i].get("narrow"):
            entry.update(
                assignment=flags[i].get("broad") or flags[i]["narrow"], element=None, family=None, confidence=None
            )
        elif flags[i].get("rayleigh") or flags[i].get("compton"):
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
        entry["lone_line"] = bool(
            entry["element"]
            and owner is not None
            and owner["element"] == entry["element"]
            and not owner["lines_checked_kev"]
        )
        report.append(entry)
    summary = sorted(accepted, key=lambda c: -c["confidence"])
    identified = sorted({c["element"] for c in accepted if c["confidence"] >= CONFIDENT})
    return {
        "peaks": report,
        "elements": summary,
        "identified": identified,
        "rejected": [
            {
                "element": c["element"],
                "family": c["family"],
                "position": float(peaks[c["peak"]].position),
                "vetoed_by": c["vetoed_by"],
            }
            for c in candidates
            if c["vetoed_by"]
        ],
        "anode": anode,
        "anode_inferred": bool(inferred),
        "detector_fwhm_mn_kev": float(detector_fwhm(MN_KA_KEV, noise_fwhm=noise_fwhm)),
        "resolution_from": "given" if resolution_mn_ka is not None else "peak widths",
        "excitation_kev": excitation,
        "excitation_from": "given" if excitation is not None else None,
    }


def assignment_labels(identification: dict | None, n_peaks: int) -> list[str]:
    """The line each peak is assigned to (with ``?`` below :data:`CONFIDENT`: an ambiguous or
    lone line), ``broad`` or ``narrow`` for a peak no line can be (the reason is in the
    entry's flags), or an empty string; ``n_peaks`` empty strings without identification."""
    if identification is None:
        return [""] * n_peaks
    return [
        next((flag for flag in ("broad", "narrow") if flag in entry["flags"]), None)
        or (entry["assignment"] or "") + ("?" if entry["element"] and (entry["confidence"] or 0) < CONFIDENT else "")
        for entry in identification["peaks"]
    ]


def _infer_anode(positions: np.ndarray, tol: np.ndarray) -> str | None:
    """The tube anode a spectrum shows, when it is not given: one of
    :data:`INFERABLE_ANODES` whose Kα shows as a peak (Rayleigh scatter), with no peak above
    its K lines, and with a separate peak where its Kα lands after Compton scattering
    (:data:`COMPTON_ANGLES`). Lower-energy anodes (Cr, Cu) cannot be told from an element
    this way (their Compton shift is within a peak width) and are left unknown."""
    found = None
    for anode in INFERABLE_ANODES:
        lines = family_lines(anode, "K")
        ka, top = lines[0].energy, max(line.energy for line in lines)
        if not np.any(np.abs(positions - ka) <= tol) or np.any(positions > top + tol):
            continue
        low, high = _compton_range(ka)
        compton = (positions >= low - tol) & (positions <= high + tol) & (np.abs(positions - ka) > tol)
        if compton.any():
            found = anode
    return found


def _compton_range(energy: float) -> tuple[float, float]:
    """Lowest and highest energy (keV) of a photon of ``energy`` keV Compton-scattered at
    :data:`COMPTON_ANGLES`."""
    return float(compton_energy(energy, COMPTON_ANGLES[1])), float(compton_energy(energy, COMPTON_ANGLES[0]))


#: Anodes :func:`_infer_anode` recognises (Kα above 15 keV, far enough from its Compton peak).
INFERABLE_ANODES = ("Mo", "Rh", "Pd", "Ag")


def _noise(y: np.ndarray) -> float:
    """White-noise sigma of a spectrum; for sparse counts (most second differences zero)
    the standard deviation of the second differences instead of their median."""
    sigma = float(spectral_noise_sigma(y[None, :])[0])
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = float(np.std(np.diff(y, 2)) / np.sqrt(6.0)) if y.size >= 3 else 0.0
    return max(sigma, np.finfo(np.float64).tiny)


def _noise_fwhm(positions: np.ndarray, fwhm: np.ndarray) -> float:
    """The detector's electronic-noise FWHM term (keV) that the widths of the peaks above
    0.5 keV imply (median; Fano broadening removed), within 0.03-0.2 keV."""
    fano = detector_fwhm(positions, noise_fwhm=0.0) ** 2
    implied = np.sqrt(np.clip(fwhm**2 - fano, 0.0, None))[positions >= 0.5]
    if implied.size == 0:
        return DEFAULT_NOISE_FWHM
    return float(np.clip(np.median(implied), 0.03, 0.2))


def _family_confidence(x, y, noise, lines, strongest: Peak, matching) -> tuple[float, list]:
    """Weighted agreement of the family's other lines with their expected heights.

    Lines closer than half a FWHM make one peak: their intensities add up, for the
    strongest line's peak (the reference) and for each peak checked.
    """
    groups = _merged(lines, strongest.fwhm / 2)
    reference = _net_height(x, y, groups[0][0], strongest.fwhm) / groups[0][1]
    matched = [(line, j) for line in lines if (j := matching(line.energy)) is not None]
    weights, scores, checked, missing = [], [], [], []
    for energy, intensity in groups[1:]:
        if intensity < CHECKED_INTENSITY:
            continue
        expected = intensity * reference
        if expected < 3 * noise:
            continue  # too weak to check
        observed = _net_height(x, y, energy, strongest.fwhm)
        weights.append(intensity)
        scores.append(min(observed / expected, 1.0))  # more than expected may be an overlap
        checked.append(round(float(energy), 4))
        if observed < expected / 2:
            missing.append(f"{energy:.3f} keV: {observed / expected:.0%} of the expected height")
    if not weights:
        return SINGLE_LINE_CONFIDENCE, matched, checked, missing
    return float(np.average(scores, weights=weights)), matched, checked, missing


def _closeness(lines, position: float, width: float) -> float:
    """How well a peak at ``position`` (keV) of FWHM ``width`` sits on the family's
    strongest line (with the lines merged into its peak): a Gaussian of the distance, 1 on
    the line, 0.61 one sigma away."""
    near = [line for line in lines if abs(line.energy - lines[0].energy) < width / 2]
    centre = float(np.average([line.energy for line in near], weights=[line.intensity for line in near]))
    sigma = width / 2.3548
    return float(np.exp(-0.5 * ((position - centre) / sigma) ** 2))


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


def _flags(peaks: list[Peak], anode: str | None, tol: np.ndarray, expected: np.ndarray) -> list[dict]:
    """Zero-peak, broad, narrow, scatter, escape and sum flags of each peak. A sum (pile-up)
    peak is at most a tenth of each of its parents."""
    positions = np.array([p.position for p in peaks])
    heights = np.array([p.prominence for p in peaks])
    anode_lines = [] if anode is None else [line for line in family_lines(anode, "K") if line.intensity >= 0.02]
    strong = np.argsort(-heights)[:4]
    flags: list[dict] = []
    for i, e in enumerate(positions):
        f: dict = {}
        if e < LOWEST_LINE_KEV:
            f["zero"] = "detector zero peak" if abs(e) <= peaks[i].fwhm else f"below {LOWEST_LINE_KEV} keV"
        elif peaks[i].fwhm > BROAD_FACTOR * expected[i]:
            f["broad"] = (
                f"broad ({peaks[i].fwhm:.2g} keV, {peaks[i].fwhm / expected[i]:.1f}x the detector's FWHM): "
                "continuum, scatter or unresolved lines"
            )
        elif peaks[i].fwhm < NARROW_FACTOR * expected[i]:
            f["narrow"] = (
                f"narrow ({1e3 * peaks[i].fwhm:.0f} eV, {peaks[i].fwhm / expected[i]:.2f}x the detector's FWHM of "
                f"{1e3 * expected[i]:.0f} eV at {e:.3g} keV): noise, not a line"
            )
        for line in anode_lines:
            if abs(e - line.energy) <= tol[i]:
                f["rayleigh"] = line.label
            lowest, highest = _compton_range(line.energy)
            if lowest - tol[i] <= e <= highest + tol[i] and "rayleigh" not in f:
                f["compton"] = line.label
        for j in range(len(peaks)):
            if j != i and heights[j] > 10 * heights[i] and abs(positions[j] - SI_ESCAPE_KEV - e) <= tol[i]:
                f["escape"] = f"{positions[j]:.3g} keV"
        for a in strong:
            for b in strong:
                weaker = heights[i] * 10 <= min(heights[a], heights[b])
                if a <= b and i not in (a, b) and weaker and abs(positions[a] + positions[b] - e) <= tol[i]:
                    f["sum"] = f"{positions[a]:.3g} + {positions[b]:.3g} keV"
        if "compton" in f or "rayleigh" in f:
            f.pop("broad", None)
        flags.append(f)
    return flags


def _require_higher_families(
    candidates: list[dict], x, spectra, matching, masked, width: float, span, excitation: float | None, prominence
):
    """Check an element family against the same element's higher-energy family (L above M,
    K above L and M) whose principal line lies on the axis but shows neither as a peak nor
    above three noise sigmas of a local baseline in any of ``spectra`` ((spectrum, sigma)
    pairs): the excitation that makes the lower family makes the higher one too. With a
    known ``excitation`` (keV) that excites the line (:func:`~chemmap.xrf.lines.is_excited`
    at :data:`VETO_OVERVOLTAGE`; line below 95 % of the axis end) the family is vetoed;
    unknown, a line below 85 % of the axis end lowers its confidence by
    :data:`MISSING_FAMILY_FACTOR`. A family more than :data:`LOWER_FAMILY_MAX_RATIO` times as
    prominent as its element's higher family's peak is vetoed too. An M family with no L
    family in range cannot be confirmed and is capped at :data:`AMBIGUOUS_CONFIDENCE`.
    ``masked(energy)`` says whether another peak's flank hides a line there (see
    :func:`_family_shown`)."""
    order = {"M": 0, "L": 1, "K": 2}
    low, high = span
    for cand in candidates:
        families = element_lines(cand["element"], low=low, high=high)
        for family, lines in families.items():
            if order[family] <= order[cand["family"]]:
                continue
            energy = lines[0].energy
            if excitation is None:
                if energy > 0.85 * high:
                    continue
            elif energy > 0.95 * high or not is_excited(
                cand["element"], family, excitation, overvoltage=VETO_OVERVOLTAGE
            ):
                continue
            higher = matching(energy)
            if higher is not None and prominence[cand["peak"]] > LOWER_FAMILY_MAX_RATIO * prominence[higher]:
                ratio = prominence[cand["peak"]] / prominence[higher]
                _veto(cand, f"{ratio:.0f}x as prominent as {lines[0].label}: not this element's line")
                continue
            # the stricter tests (hidden lines, the other strong lines, local noise) only where
            # absence vetoes (known excitation); self-calibration relies on the milder one
            known = excitation is not None
            hidden = masked if known else (lambda energy: False)
            deciding = lines if known else lines[:1]
            shows = functools.partial(_shows, x, spectra, width=width, local=known)
            if _family_shown(deciding, matching, hidden, shows):
                continue
            if excitation is None:
                cand["confidence"] *= MISSING_FAMILY_FACTOR
                cand["notes"].append(f"{lines[0].label} ({energy:.3g} keV) in range but absent")
            else:
                _veto(
                    cand,
                    f"{cand['element']} {family} lines ({lines[0].name} at {energy:.3g} keV) on the axis and excited "
                    f"at {excitation:.3g} keV, but absent",
                )
        if cand["family"] == "M" and "L" not in families:
            cand["confidence"] = min(cand["confidence"], AMBIGUOUS_CONFIDENCE)
            cand["notes"].append("M lines only (its L lines are out of range): not conclusive")


def _veto(candidate: dict, why: str) -> None:
    """Rule the candidate family out (confidence 0), saying why in ``vetoed_by`` and its notes."""
    candidate["confidence"] = 0.0
    candidate["vetoed_by"] = why
    candidate["notes"].append(why)


#: Lines of a family at least this strong (relative to its strongest) decide whether the
#: family shows: Ta Lβ1 answers for Ta Lα hidden on a Cu Kα flank.
DECIDING_INTENSITY = 0.25


def _family_shown(lines, matching, masked, shows) -> bool:
    """Whether a family shows in the spectrum: one of its deciding lines (the strongest and
    those of :data:`DECIDING_INTENSITY` or more) is a peak (``matching``) or, where no other
    peak's flank hides it (``masked``), stands above the noise (``shows``). A family whose
    deciding lines are all hidden cannot be judged absent and counts as shown."""
    judged = False
    for line in lines:
        if line is not lines[0] and line.intensity < DECIDING_INTENSITY:
            continue
        if matching(line.energy) is not None:
            return True
        if masked(line.energy):
            continue
        if shows(line.energy):
            return True
        judged = True
    return not judged


def _shows(x, spectra, energy: float, width: float, *, local: bool = True) -> bool:
    """Whether a line at ``energy`` stands three noise sigmas above a local baseline in any of
    ``spectra`` ((spectrum, sigma) pairs); with ``local``, the sigma is the larger of the
    spectrum's and the one of the channels around ``energy`` (counting noise grows with the
    counts, so a spectrum's median noise understates it where the spectrum is high)."""
    return any(
        _line_signal(x, y, energy, width) > 3 * max(sigma, _local_noise(x, y, energy, width) if local else 0.0)
        for y, sigma in spectra
    )


def _local_noise(x, y, energy: float, width: float) -> float:
    """White-noise sigma of the channels within four ``width`` of ``energy`` (robust spread of
    their second differences)."""
    near = y[np.abs(x - energy) <= 4 * width]
    if near.size < 8:
        return 0.0
    second = np.diff(near, 2)
    return float(MAD_TO_SIGMA * np.median(np.abs(second - np.median(second))) / np.sqrt(6.0))


def _line_signal(x, y, energy: float, width: float) -> float:
    """Mean height within a quarter ``width`` of ``energy`` above the straight baseline
    through the means 1.25-2 widths away on both sides (0 where a side is off the axis)."""
    centre = np.abs(x - energy) <= width / 4
    left = (x >= energy - 2 * width) & (x <= energy - 1.25 * width)
    right = (x >= energy + 1.25 * width) & (x <= energy + 2 * width)
    if not (centre.any() and left.any() and right.any()):
        return 0.0
    return float(y[centre].mean() - (y[left].mean() + y[right].mean()) / 2)


def _mark_ambiguous(accepted: list[dict], candidates: list[dict]) -> None:
    """Cap an accepted family below :data:`CONFIDENT` when another element's family rests
    on the same peak almost as well: the spectrum cannot tell them apart."""
    for cand in accepted:
        rivals = [
            c
            for c in candidates
            if c["peak"] == cand["peak"]
            and c["element"] != cand["element"]
            and c["confidence"] >= AMBIGUOUS_SHARE * cand["confidence"]
        ]
        if rivals and cand["confidence"] >= CONFIDENT:
            cand["confidence"] = AMBIGUOUS_CONFIDENCE
            names = ", ".join(f"{c['element']} {c['family']}" for c in rivals[:3])
            cand["notes"].append(f"ambiguous: {names} fit the same peak")


def _line_at(candidate: dict, peak: int) -> str:
    return next(name for name, j in candidate["lines"].items() if j == peak)


def _explain(candidates: list[dict], prominence: list[float]) -> list[dict]:
    """Accept families one at a time, each claiming its peaks; a family whose strongest
    line's peak is already claimed is explained away.

    Order: confident families first, then an element already accepted (through another
    family: Pb L claims the peaks it explains before As K), then confidence times the
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
                c["confidence"] >= CONFIDENT,
                c["element"] in elements,
                c["confidence"] * prominence[c["peak"]],
            ),
        )
        accepted.append(best)
        claimed.update(best["lines"].values())
        remaining.remove(best)
