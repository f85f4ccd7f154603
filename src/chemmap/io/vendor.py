"""Vendor and microscopy formats through RosettaSciIO (optional extra ``vendor``).

Bruker ``.bcf``/``.spx``, Lispix/Bruker ripple ``.rpl`` + ``.raw``, Renishaw ``.wdf``,
JEOL, EDAX, Horiba JobinYvon (LabSpec ``.xml``), DigitalSurf, EMD, HyperSpy ``.hspy``, ... : whatever
RosettaSciIO opens as a spectrum image (two navigation axes, one signal axis) becomes a
Cube with the signal axis (offset + scale x index, or the file's non-uniform axis) and its
unit. Line scans become one-row images and single spectra one-pixel images; a stack of
spectrum images (three navigation axes) is summed over its outer one, with a warning. HDF5
files are taken here only with a vendor signature (Delmic, Tofwerk); chemmap's own HDF5
readers take the others.
"""

from __future__ import annotations

import glob
import importlib
import re
import warnings
from pathlib import Path

import numpy as np

from chemmap.core.axis import known_unit, parse_unit
from chemmap.core.cube import Cube, is_lazy_array
from chemmap.core.exceptions import (
    AxisError,
    DataWarning,
    FileFormatError,
    InvalidParameterError,
    MissingDependencyError,
)
from chemmap.io._build import build_cube
from chemmap.io._companion import companion_file
from chemmap.io._registry import ReaderEntry, readers

__all__ = ["VENDOR_SUFFIXES", "read_vendor"]

#: Suffixes routed to RosettaSciIO (formats chemmap reads natively are not listed).
VENDOR_SUFFIXES = (
    ".bcf", ".spx", ".rpl", ".wdf", ".spd", ".spc", ".pts", ".asw", ".emd", ".hspy", ".zspy",
    ".msa", ".emsa", ".sur", ".pro", ".tvf", ".dm3", ".dm4", ".nxs", ".elid", ".emi", ".ser", ".xml",
    ".h5", ".hdf5",
)  # fmt: skip
#: Suffixes shared with chemmap's own readers: taken only when the file has a vendor signature.
SHARED_SUFFIXES = (".xml", ".h5", ".hdf5")
#: First bytes of the XML files RosettaSciIO reads (Horiba JobinYvon LabSpec exports).
VENDOR_XML_SIGNS = (b"<LSX_Data",)
#: What the errors of RosettaSciIO's parsers say when a file ends before its structures do.
TRUNCATION_SIGNS = (
    "unpack requires a buffer", "no element found", "cannot reshape array", "out of bounds", "unexpected end",
    "end of file", "eof", "missing", "truncated", "buffer is smaller", "not enough data",
    "setting an array element with a sequence",
)  # fmt: skip
#: What to ask of plugins whose default is not the spectrum image: every Delmic stream (CL
#: spectra, SE, survey) and the Tofwerk peak data beside the sum spectrum (its default).
PLUGIN_OPTIONS = {
    "Delmic": {"signal": "all"},
    "Tofwerk": {"signal": ["sum_spectrum", "nominal_peak_data", "fib_images"]},
}
#: Units of spatial (navigation) axes, as RosettaSciIO writes them.
SPATIAL_UNITS = ("m", "mm", "µm", "um", "nm", "pm", "Å")


def _rsciio():
    from chemmap.core.optional import optional_import

    return optional_import("rsciio", extra="vendor", purpose="Reading vendor spectroscopy formats")


def _plugin_for(path: Path, plugin: str | None):
    rsciio = _rsciio()
    suffix = path.suffix.lstrip(".").lower()
    names = {p["name"].lower(): p for p in rsciio.IO_PLUGINS}
    if plugin is not None:
        if plugin.lower() not in names:
            raise InvalidParameterError(
                f"RosettaSciIO has no plugin {plugin!r}; it has {sorted(p['name'] for p in rsciio.IO_PLUGINS)}."
            )
        return names[plugin.lower()]
    flavour = _hdf5_flavour(path) if f".{suffix}" in SHARED_SUFFIXES else None
    if flavour is not None:
        return names[flavour.lower()]
    matches = [p for p in rsciio.IO_PLUGINS if suffix in (e.lower() for e in p["file_extensions"])]
    if not matches:
        raise FileFormatError(f"RosettaSciIO has no reader for {path.name} (suffix .{suffix}).")
    return matches[0]


def _signal_axis(axis: dict) -> tuple[np.ndarray, str | None]:
    """Positions and stated unit of a RosettaSciIO axis (offset + scale x index, or its values)."""
    if axis.get("axis") is not None:
        values = np.asarray(axis["axis"], dtype=np.float64)
    else:
        values = axis.get("offset", 0.0) + axis.get("scale", 1.0) * np.arange(int(axis["size"]), dtype=np.float64)
    raw = axis.get("units")
    return values, (None if raw in (None, "", "<undefined>") else str(raw))


def _n_spectral(signal: dict) -> int:
    return sum(not a.get("navigate", True) for a in signal["axes"])


def _navigation_marked_spectral(signal: dict) -> bool:
    """True for a 3-D signal whose one navigation axis is spectral and whose two signal axes
    are spatial (Gatan writes EELS spectrum images so)."""
    axes = signal["axes"]
    if len(axes) != 3 or _n_spectral(signal) != 2:
        return False
    nav = next(a for a in axes if a.get("navigate", True))
    others = [a for a in axes if not a.get("navigate", True)]
    spatial = all(str(a.get("units", "")).strip() in SPATIAL_UNITS for a in others)
    unit = str(nav.get("units", "")).strip()
    return spatial and unit not in SPATIAL_UNITS and _is_spectral_unit(unit)


def _is_spectral_unit(unit: str) -> bool:
    """A unit a spectral axis is measured in (eV, nm, cm-1, ...), not frames or slices."""
    try:
        return parse_unit(unit)[0] not in (None, "channel", "map")
    except AxisError:
        return False


def _describe_signal(signal: dict) -> str:
    data = signal["data"]
    kind = str(signal.get("metadata", {}).get("Signal", {}).get("signal_type", "") or "")
    spectral = _n_spectral(signal)
    what = "spectra" if spectral == 1 else "image" if len(signal["axes"]) == 2 else f"{len(signal['axes'])}-D data"
    dtype = getattr(data, "dtype", "")
    rgb = " (RGB)" if getattr(dtype, "names", None) else ""
    return f"{' x '.join(str(int(n)) for n in data.shape)} {what}{rgb}{f' [{kind}]' if kind else ''}"


def _spectrum_image(signals: list[dict], source: str) -> tuple[dict, list[str]]:
    """The signal holding spectra (largest first), and descriptions of the others.

    Signals with exactly one spectral axis come before images, RGB previews and thumbnails;
    a 3-D signal whose spectral axis is marked navigation (EELS spectrum images) is fixed
    with a warning.
    """
    fixed, swapped = [], []
    for signal in signals:
        if _navigation_marked_spectral(signal):
            axes = [{**a, "navigate": not a.get("navigate", True)} for a in signal["axes"]]
            signal = {**signal, "axes": axes}
            swapped.append(signal)
        fixed.append(signal)
    candidates = [s for s in fixed if _n_spectral(s) == 1 and len(s["axes"]) <= 4 and not _is_record(s)]
    if not candidates:
        shapes = "; ".join(_describe_signal(s) for s in fixed)
        raise FileFormatError(
            f"{source} holds no spectral cube: its signals are {shapes}, none with one spectral axis and "
            "up to three navigation ones. chemmap maps spectrum images, line scans and single spectra."
        )
    chosen = max(candidates, key=lambda s: int(np.prod(s["data"].shape)))
    if any(s is chosen for s in swapped):
        name = next(a.get("name", "?") for a in chosen["axes"] if not a.get("navigate", True))
        warnings.warn(
            f"{source} marks its {name!r} axis as navigation and its spatial axes as signal; read "
            f"as a spectrum image with {name!r} as the spectral axis.",
            DataWarning,
            stacklevel=4,
        )
    others = [_describe_signal(s) for s in fixed if s is not chosen]
    return chosen, others


def _is_record(signal: dict) -> bool:
    return bool(getattr(getattr(signal["data"], "dtype", None), "names", None))


def _check_complete(path: Path) -> None:
    """Refuse truncated containers whose parsers would crash the process or never return:
    a Bruker ``.bcf`` (SFS) shorter than the chunks its header declares (its reader maps
    them into memory: a bus error), a Phenom ``.elid`` whose bzip2 stream does not end
    (its reader waits for more input forever)."""
    import bz2
    import struct

    suffix = path.suffix.lower()
    truncated = False
    with open(path, "rb") as handle:
        if suffix == ".bcf":
            head = handle.read(0x14C)
            if len(head) < 0x14C or head[:8] != b"AAMVHFSS":
                truncated = True
            else:
                chunk_size = struct.unpack_from("<I", head, 0x128)[0]
                n_chunks = struct.unpack_from("<I", head, 0x148)[0]
                truncated = path.stat().st_size < chunk_size * n_chunks
        elif suffix == ".elid":
            stream = bz2.BZ2Decompressor()
            while not stream.eof and (block := handle.read(1 << 20)):
                stream.decompress(block, max_length=0)
                while not stream.needs_input and not stream.eof:
                    stream.decompress(b"", max_length=1 << 24)
            truncated = not stream.eof
    if truncated:
        raise FileFormatError(
            f"{path.name}: less than its header declares, or without the end of its data.{_truncated_hint(path)}"
        )


def _truncated_hint(path: Path) -> str:
    return f" The file looks truncated or damaged ({path.stat().st_size:,} bytes): copy it again from the instrument."


def _read_signals(module, path: Path, plugin: str, lazy: bool) -> list[dict]:
    """RosettaSciIO's signals of ``path``; every failure of its parser becomes one FileFormatError."""
    import logging

    logger = logging.getLogger("rsciio")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "cannot find lumispy" and the like are not the user's concern
    try:
        options = PLUGIN_OPTIONS.get(plugin, {})
        try:
            signals = module.file_reader(str(path), lazy=lazy, **options)
            for signal in signals:
                _read_last_block(signal.get("data"))
            return signals
        except NotImplementedError:
            if not lazy:
                raise
            return module.file_reader(str(path), lazy=False, **options)  # Delmic reads eagerly only
    except ModuleNotFoundError as exc:
        raise _missing_package(exc.name or _named_package(str(exc)), plugin, path) from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}".strip().rstrip(".")
        if "requires the" in message and (name := _named_package(message)):  # tifffile's codec errors
            raise _missing_package(name, plugin, path) from None
        truncated = any(sign in message.lower() for sign in TRUNCATION_SIGNS) or isinstance(exc, EOFError)
        hint = (
            _truncated_hint(path)
            if truncated or isinstance(exc, StopIteration)
            else " To fix this, check that the file opens in the vendor's software, or pass plugin= to pick "
            "another RosettaSciIO reader."
        )
        raise FileFormatError(f"RosettaSciIO ({plugin}) could not read {path.name}: {message}.{hint}") from None
    finally:
        logger.setLevel(level)


def _read_last_block(data) -> None:
    """Read a lazy signal's last block now, so that a file cut short fails while it is being
    opened rather than halfway through a run."""
    if is_lazy_array(data) and data.size:
        data.blocks[(-1,) * data.ndim].compute()


def _named_package(message: str) -> str | None:
    """The package a third-party error message names in quotes ("The 'sparse' library was
    not found", "requires the 'imagecodecs' package")."""
    found = re.search(r"'([A-Za-z][\w.-]*)'\s+(?:library|package|module)", message)
    return found.group(1) if found else None


def _missing_package(name: str | None, plugin: str, path: Path) -> MissingDependencyError:
    wanted = f"the package {name!r}" if name else "a package that is not installed"
    fix = f"pip install {name}" if name else "install what RosettaSciIO's documentation lists for this format"
    return MissingDependencyError(
        f"RosettaSciIO's {plugin} reader needs {wanted} to read {path.name}. To fix this, {fix} (or reinstall "
        "chemmap with pip install 'chemmap[vendor]')."
    )


#: X-ray tube anodes by atomic number (the metadata of Bruker files names them so).
TUBE_ANODES = {
    24: "Cr",
    26: "Fe",
    27: "Co",
    28: "Ni",
    29: "Cu",
    42: "Mo",
    45: "Rh",
    46: "Pd",
    47: "Ag",
    74: "W",
    79: "Au",
}
#: Largest ``.spx`` file scanned as text for its tube anode, bytes.
MAX_SCANNED_XML = 64 * 2**20
#: Metadata keys that name a tube's anode.
ANODE_KEYS = re.compile(r"^(anode|tube_?anode|tube_?target|target_?material|anode_?material)$", re.IGNORECASE)


def _tube_anode(signal: dict, path: Path) -> str | None:
    """The X-ray tube anode the file names (metadata key or, in Bruker ``.spx`` XML, the
    ``<Anode>`` element), as a symbol; None when it names none."""
    found: list = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict):
                    walk(value)
                elif ANODE_KEYS.match(str(key)):
                    found.append(value)

    walk(signal.get("original_metadata", {}))
    if not found and path.suffix.lower() == ".spx" and path.stat().st_size < MAX_SCANNED_XML:
        found += re.findall(r"<Anode>\s*([A-Za-z]{1,2}|\d{1,2})\s*</Anode>", path.read_text(errors="replace"))
    for value in found:
        text = str(value).strip()
        if text.isdigit() and int(text) in TUBE_ANODES:
            return TUBE_ANODES[int(text)]
        if text.capitalize() in TUBE_ANODES.values():
            return text.capitalize()
    return None


#: Files whose reader opens data files beside them by name: suffix -> (pattern of those files, what
#: they are). Each must really sit in the folder (:func:`~chemmap.io._companion.companion_file`).
COMPANIONS = {".emi": ("{stem}_*.ser", "TIA data file")}


def _check_companions(path: Path) -> None:
    pattern, what = COMPANIONS.get(path.suffix.lower(), (None, None))
    if pattern is None:
        return
    for companion in sorted(path.parent.glob(pattern.format(stem=glob.escape(path.stem)))):
        companion_file(path, companion, what=what, option=f"read {companion.name} itself")


def read_vendor(
    path, *, plugin: str | None = None, axis_unit: str | None = None, dtype=None, lazy: bool = False
) -> Cube:
    """Read a vendor file through RosettaSciIO.

    Parameters
    ----------
    path : str or Path
    plugin : str, optional
        RosettaSciIO plugin name (e.g. ``"Ripple"``, ``"Bruker"``, ``"Renishaw"``); chosen from
        the suffix when omitted.
    axis_unit : str, optional
        Converts from the file's unit (eV and keV; lengths are kept in nm), or labels the
        axis when the file states no unit.
    dtype : dtype, optional
        Convert the data; by default the file's type is kept (raw counts stay integers).
    lazy : bool
        Ask RosettaSciIO for a Dask array.
    """
    path = Path(path)
    entry = _plugin_for(path, plugin)
    module = importlib.import_module(entry["api"])
    _check_complete(path)
    _check_companions(path)
    signal, others = _spectrum_image(_read_signals(module, path, entry["name"], lazy), path.name)
    axes = sorted(signal["axes"], key=lambda a: a.get("index_in_array") or 0)
    data = signal["data"]
    if 0 in tuple(data.shape):
        raise FileFormatError(
            f"{path.name} holds an empty signal (shape {tuple(data.shape)}); the file looks truncated."
        )
    spectral = next(i for i, a in enumerate(axes) if not a.get("navigate", True))
    if spectral != data.ndim - 1:
        data = data.swapaxes(spectral, -1) if is_lazy_array(data) else np.moveaxis(data, spectral, -1)
    if data.ndim == 4:
        data = _sum_outer_navigation(data, axes, spectral, path.name)
    nav = data.ndim - 1
    data = data.reshape((1,) * (2 - nav) + tuple(data.shape))
    values, raw_unit = _signal_axis(axes[spectral])
    anode = _tube_anode(signal, path)
    instrument = _instrument_numbers(signal.get("metadata", {}))
    return build_cube(
        data,
        values,
        known_unit(raw_unit, path.name),
        source=path.name,
        requested_unit=axis_unit,
        dtype=dtype,
        attrs={
            "format": "vendor",
            "rsciio_plugin": entry["name"],
            "signal_type": str(signal.get("metadata", {}).get("Signal", {}).get("signal_type", "")),
            "dataset": _describe_signal(signal),
            "other_datasets": others,
            **({"anode": anode} if anode else {}),
            **instrument,
        },
    )


def _instrument_numbers(metadata: dict) -> dict:
    """The X-ray numbers RosettaSciIO reads from the file: ``beam_energy_kev`` (electron beam
    or tube voltage, kV) and ``detector_resolution_ev`` (FWHM at Mn Kα, eV), where present."""
    out = {}
    for microscope in ("SEM", "TEM"):
        node = metadata.get("Acquisition_instrument", {}).get(microscope, {})
        for key, name, path in (
            ("beam_energy_kev", "beam_energy", ()),
            ("detector_resolution_ev", "energy_resolution_MnKa", ("Detector", "EDS")),
        ):
            where = node
            for step in path:
                where = where.get(step, {}) if isinstance(where, dict) else {}
            try:
                value = float(where.get(name)) if isinstance(where, dict) and name in where else None
            except (TypeError, ValueError):
                value = None
            if value is not None and value > 0 and key not in out:
                out[key] = value
    return out


def _hdf5_flavour(path: Path) -> str | None:
    from chemmap.io._hdf5_datasets import VENDOR_FLAVOURS, hdf5_kind

    kind = hdf5_kind(path)
    return kind if kind in VENDOR_FLAVOURS else None


def _sum_outer_navigation(data, axes: list[dict], spectral: int, source: str):
    """A stack of spectrum images (depth slices of FIB-SIMS, frames, tilts) summed over its
    outer navigation axis into one image, with a warning that says so."""
    outer = next(a for i, a in enumerate(axes) if i != spectral)
    warnings.warn(
        f"{source} holds a stack of {int(data.shape[0])} spectrum images along its {outer.get('name', 'outer')!r} "
        "axis; read as their sum (one image). To map one slice, save it from the vendor software first.",
        DataWarning,
        stacklevel=3,
    )
    return data.sum(axis=0, dtype=None if data.dtype.kind == "f" else np.int64)


def _sniff(path: Path) -> bool:
    """Every vendor suffix but those chemmap reads itself, which are taken only with a vendor
    signature (LabSpec ``.xml``, Delmic or Tofwerk HDF5)."""
    suffix = path.suffix.lower()
    if suffix not in SHARED_SUFFIXES:
        return True
    if suffix != ".xml":
        return _hdf5_flavour(path) is not None
    with open(path, "rb") as handle:
        head = handle.read(1024)
    return any(sign in head for sign in VENDOR_XML_SIGNS)


readers.register(
    "vendor",
    ReaderEntry(
        "vendor",
        VENDOR_SUFFIXES,
        read_vendor,
        "vendor formats through RosettaSciIO (Bruker, ripple .rpl, Renishaw, JEOL, Horiba LabSpec .xml, ...) "
        "[extra: vendor]",
        sniff=_sniff,
    ),
)
