"""A mapping run's results as one ``xarray.Dataset`` (the ``xarray`` extra)."""

from __future__ import annotations

import json

import numpy as np

from chemmap.core.optional import optional_import

__all__ = ["run_dataset"]

_PROBABILITY = "cluster_probability_"


def run_dataset(result):
    """The results of a mapping run on dims ``("y", "x")``.

    Variables:

    - every map of ``maps.npz`` (intensity, ratio, area, ``cluster_uncertainty`` ...), float32,
      with its kind and unit in ``attrs``;
    - ``cluster_labels`` (int32, ``-1`` outside the mask);
    - ``cluster_probabilities`` on ``("y", "x", "cluster")`` where the method gives them;
    - ``abundances`` on ``("y", "x", "component")`` and ``endmembers`` on
      ``("component", "band")`` where the run unmixed (``band`` holds the processed axis).

    ``attrs["metrics"]`` and ``attrs["config"]`` hold ``metrics.json`` and the resolved config
    as JSON text. Maps of a lazy run stay Dask arrays.
    """
    xr = optional_import("xarray", extra="xarray", purpose="A run's results as an xarray Dataset")
    maps = result.maps
    info = maps.attrs.get("maps", {})
    h, w = maps.image_shape
    names = list(maps.map_names)
    variables: dict = {}
    for i, name in enumerate(names):
        if not name.startswith(_PROBABILITY):
            attrs = {k: str(v) for k, v in info.get(name, {}).items() if k in ("kind", "unit")}
            variables[name] = (("y", "x"), maps.data[..., i], attrs)
    variables["cluster_labels"] = (("y", "x"), np.asarray(result.label_image, dtype=np.int32))
    probability = [i for i, n in enumerate(names) if n.startswith(_PROBABILITY)]
    if probability:
        variables["cluster_probabilities"] = (("y", "x", "cluster"), maps.data[..., probability])
    coords = {"y": np.arange(h), "x": np.arange(w)}
    if probability:
        coords["cluster"] = [int(names[i][len(_PROBABILITY) :]) for i in probability]
    unmixing = result.unmixing
    if unmixing is not None:
        axis = result.processed.axis
        variables["abundances"] = (("y", "x", "component"), np.asarray(unmixing.abundances, np.float32))
        variables["endmembers"] = (("component", "band"), np.asarray(unmixing.endmembers, np.float32))
        coords["component"] = list(unmixing.names)
        coords["band"] = xr.Variable("band", axis.values, attrs={"units": axis.unit})
    attrs = {
        "metrics": json.dumps(result.metrics, default=str),
        "config": json.dumps(result.config, default=str),
        "source": str(result.metrics.get("source", "")),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)
