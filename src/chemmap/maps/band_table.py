"""A user's table of known bands (name, position, tolerance) that labels the peaks found:
chemmap names no material by itself on molecular spectra."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from chemmap.core.exceptions import FileFormatError

__all__ = ["Band", "label_peaks", "read_band_table"]


@dataclass(frozen=True)
class Band:
    """A known band: ``name`` at ``position`` (axis units), matched within ``tolerance``
    (axis units; None: within half the peak's FWHM)."""

    name: str
    position: float
    tolerance: float | None = None


def read_band_table(path) -> list[Band]:
    """Bands from a CSV file (a header row with ``name``, ``position`` and optionally
    ``tolerance``) or a TOML file (``[[band]]`` tables with the same keys)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(
            f"Band table {path} does not exist. Give a CSV or TOML file of name, position, tolerance."
        )
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            rows = tomllib.loads(path.read_text()).get("band", [])
        except tomllib.TOMLDecodeError as exc:
            raise FileFormatError(f"Band table {path.name} is not valid TOML: {exc}.") from exc
        where = "a [[band]] table"
    else:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        where = "a row"
    bands = []
    for i, row in enumerate(rows, start=1):
        row = {str(k).strip().lower(): v for k, v in dict(row).items() if k is not None}
        try:
            name = str(row["name"]).strip()
            position = float(row["position"])
            raw = row.get("tolerance")
            tolerance = None if raw in (None, "") else float(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(
                f"Band table {path.name}: {where} ({i}) lacks a name or a numeric position ({exc}). Each band needs "
                "name and position (axis units) and may give a tolerance, e.g. the CSV header "
                "'name,position,tolerance'."
            ) from exc
        if not name or (tolerance is not None and tolerance <= 0):
            raise FileFormatError(f"Band table {path.name}: band {i} needs a name and a positive tolerance.")
        bands.append(Band(name, position, tolerance))
    if not bands:
        raise FileFormatError(f"Band table {path.name} holds no band. Give name, position and tolerance per band.")
    return bands


def label_peaks(peaks, bands: list[Band]) -> list[str | None]:
    """The name of the band closest to each peak within its tolerance (half the peak's FWHM
    where the table gives none), or None."""
    labels = []
    for peak in peaks:
        near = [
            (abs(b.position - peak.position), b.name)
            for b in bands
            if abs(b.position - peak.position) <= (b.tolerance if b.tolerance is not None else peak.fwhm / 2)
        ]
        labels.append(min(near)[1] if near else None)
    return labels
