"""Which dimension of a stored 3-D array is spectral, and moving it last.

Synchrotron XRF beamlines, many MATLAB exports and some HDF5 writers store cubes
channels-first ``(C, H, W)``; chemmap works on ``(H, W, C)``. The readers' ``layout`` option
says which; ``"auto"`` takes what the file states (a dimension label, or an axis vector
whose length matches one dimension only) and otherwise reads channels last, warning when
the shape suggests the file is channels-first.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from chemmap.core.cube import is_lazy_array
from chemmap.core.exceptions import DataWarning

__all__ = ["LAYOUTS", "SPECTRAL_NAMES", "move_spectral_last", "stated_spectral_dim"]

LAYOUTS = ("auto", "bands_last", "bands_first")
#: Names (of dimensions, axis datasets or variables) that mean the spectral dimension.
SPECTRAL_NAMES = re.compile(
    r"^(c|e|ch|chan|channels?|bands?|energy|energies|wavelengths?|wl|wavenumbers?|lambda|spectrum|spectral|"
    r"spectral_axis|raman_?shift|shift|m/?z|mass|mass_?axis|frequency|axis|bands_nm|dimensionscalec)$",
    re.IGNORECASE,
)
#: A first dimension this many times longer than both others looks like channels-first.
CHANNELS_FIRST_RATIO = 4


def stated_spectral_dim(shape, *, labels=None, axis_length: int | None = None) -> tuple[int | None, str]:
    """The spectral dimension the file states, and how it says so.

    Parameters
    ----------
    shape : tuple of int
        The stored array's shape.
    labels : sequence of str or None, optional
        A name per dimension (HDF5 dimension labels, NeXus ``axes``).
    axis_length : int, optional
        Length of the file's spectral axis vector.

    Returns
    -------
    (int or None, str)
        The dimension (None when the file does not say) and the reason, for messages.
    """
    if labels is not None:
        named = [i for i, name in enumerate(labels) if name and SPECTRAL_NAMES.match(str(name).strip())]
        if len(named) == 1:
            return named[0], f"its dimension {named[0]} is labelled {str(labels[named[0]])!r}"
    if axis_length is not None:
        fitting = [i for i, n in enumerate(shape) if n == axis_length]
        if len(fitting) == 1:
            return fitting[0], f"the spectral axis has {axis_length} values, as dimension {fitting[0]} has"
    return None, ""


def move_spectral_last(
    data, layout: str, *, source: str, labels=None, axis_length: int | None = None, stated: int | None = None
):
    """``data`` with its spectral dimension last, and a note saying how it was found.

    Parameters
    ----------
    data : array-like (NumPy, memory map or Dask) of 3 dimensions
    layout : {"auto", "bands_last", "bands_first"}
    source : str
        File name for messages.
    labels, axis_length
        What the file states (see :func:`stated_spectral_dim`).
    stated : int, optional
        The spectral dimension as the reader found it in the file (a dimension scale).

    Returns
    -------
    (array, str or None)
        The ``(H, W, C)`` array (a view where possible) and a note for ``info`` (None when the
        data were already channels-last by default).
    """
    from chemmap._shared.validation import check_choice

    layout = check_choice(layout, LAYOUTS, name="layout", func="read")
    if data.ndim != 3:
        return data, None
    shape = tuple(int(n) for n in data.shape)
    if layout == "bands_first":
        dim, note = 0, "channels first (layout='bands_first')"
    elif layout == "bands_last":
        dim, note = 2, None
    else:
        dim, why = stated_spectral_dim(shape, labels=labels, axis_length=axis_length)
        if stated is not None:
            dim, why = stated, "the file states it (dimension scale or label)"
        note = None if dim in (None, 2) else f"spectral dimension {dim} of {shape} moved last: {why}"
        if dim is None:
            dim = 2
            if shape[0] >= CHANNELS_FIRST_RATIO * max(shape[1], shape[2]):
                warnings.warn(
                    f"{source}: read as (height, width, channels) = {shape}, but the first dimension is "
                    f"{CHANNELS_FIRST_RATIO}x longer than the others, as in channels-first (C, H, W) files. "
                    "If the file is channels-first, pass layout='bands_first'; layout='bands_last' "
                    "silences this warning.",
                    DataWarning,
                    stacklevel=3,
                )
    if dim == 2:
        return data, note
    if is_lazy_array(data):
        import dask.array as da

        from chemmap._shared.blockwise import bounded_chunks

        moved = da.moveaxis(data, dim, -1)
        return moved.rechunk(bounded_chunks(moved.shape, np.dtype(moved.dtype).itemsize)), note
    return np.moveaxis(data, dim, -1), note
