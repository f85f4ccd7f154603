"""The run configuration: sections, fields, defaults and validation.

A config file (TOML), CLI flags and a Python dict all pass through :func:`validate_config`,
which checks every field before any data are read.

Sections: ``[input]``, ``[[preprocessing]]`` (a list of steps, see
:mod:`chemmap.preprocessing`), ``[maps]``, ``[clustering]``, ``[run]``.
"""

from __future__ import annotations

import json
import numbers
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chemmap._shared.compute import parse_cluster, parse_memory
from chemmap._shared.params import Param, validate_params
from chemmap.cluster.methods import cluster_methods
from chemmap.core.exceptions import ConfigError, InputFileNotFoundError, InvalidParameterError
from chemmap.io._flat import parse_image_shape
from chemmap.preprocessing.chain import Chain

__all__ = [
    "SECTIONS",
    "SESSION_PARAMS",
    "STEP_FLAGS",
    "MappingSettings",
    "check_k",
    "check_k_range",
    "flag_steps",
    "load_config",
    "read_config_file",
    "reader_options",
    "resolve_paths",
    "validate_config",
    "validate_tables",
    "validate_workflow_config",
    "workflow_tables",
]


def _number(value, name, func) -> float:
    if isinstance(value, str):  # the text of a flag
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"The {name!r} parameter of {func} must be a number. Got {value!r} instead.")
    return float(value)


def _image_shape(value, name, func) -> list[int]:
    """The readers' own rule (:func:`~chemmap.io._flat.parse_image_shape`), before anything is read."""
    return list(parse_image_shape(value, source=f"The {name!r} parameter of {func}"))


def _positions(value, name, func):
    if isinstance(value, str | numbers.Real) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a list of axis positions. Got {value!r} instead."
        )
    return [_number(v, name, func) for v in value]


def _pairs(value, name, func):
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):  # flag texts "1655/1742"
        value = [v.split("/") if v.count("/") == 1 else v for v in value]
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
    ):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a list of [numerator, denominator] pairs "
            f"in axis units, e.g. [[1655, 1742]]. Got {value!r} instead."
        )
    return [[_number(a, name, func), _number(b, name, func)] for a, b in value]


def check_k(value, name, func):
    """A number of clusters or components: an int >= 1 or ``'auto'`` (or the digits of one)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value == "auto":
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be an int >= 1 or 'auto'. Got {value!r} instead."
    )


def check_k_range(value, name, func):
    """The ``[low, high]`` range that ``'auto'`` searches, 2 <= low <= high (or ``"low,high"``)."""
    if isinstance(value, str):
        parts = value.split(",")
        value = [int(v) for v in parts] if all(v.strip().isdigit() for v in parts) else value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
        and 2 <= value[0] <= value[1]
    ):
        return [int(value[0]), int(value[1])]
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be [low, high] with 2 <= low <= high. Got {value!r} instead."
    )


def _n_components(value, name, func):
    if isinstance(value, str):  # the text of a flag
        value = int(value) if value.isdigit() else _number(value, name, func)
        value = int(value) if isinstance(value, float) and value >= 1 and value == int(value) else value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if isinstance(value, float) and 0 < value < 1:
        return value
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be an int >= 1 (components) or a float in (0, 1) "
        f"(explained-variance fraction). Got {value!r} instead."
    )


def _options(value, name, func):
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        value = dict(_key_value(text, name, func) for text in value)  # the texts of --read-option
    if not isinstance(value, dict):
        raise InvalidParameterError(f"The {name!r} parameter of {func} must be a table. Got {value!r} instead.")
    return dict(value)


def _key_value(text: str, name, func) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE parsed as JSON where it can be (numbers, lists, true/false)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidParameterError(f"The {name!r} parameter of {func} must look like KEY=VALUE. Got {text!r} instead.")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _axis_range(value, name, func) -> list[float]:
    numbers_ = [_number(v, name, func) for v in value] if isinstance(value, list | tuple) else []
    if len(numbers_) != 2 or not numbers_[0] < numbers_[1]:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be two axis values LOW HIGH with LOW < HIGH. Got {value!r} instead."
        )
    return numbers_


def _checked_by(parse):
    """A ``check`` that runs ``parse`` on the value and names the field in its error."""

    def check(value, name, func):
        try:
            parse(value)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"The {name!r} parameter of {func}: {exc}") from None
        return value

    return check


def _unmix_method(value, name, func):
    # imported when used: the check needs the extractor names of chemmap.decomposition
    from chemmap.workflows.mapping_components import check_unmix_method

    return check_unmix_method(value, name, func)


def _scheduler(value, name, func):
    from chemmap._shared.compute import LOCAL_SCHEDULERS, is_address

    if value in LOCAL_SCHEDULERS or is_address(value):
        return value
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be one of {', '.join(LOCAL_SCHEDULERS)} or a Dask scheduler "
        f"address such as 'tcp://127.0.0.1:8786'. Got {value!r} instead."
    )


#: How a workflow runs (the ``[run]`` table of every workflow's config).
SESSION_PARAMS: dict[str, Param] = {
    "memory_limit": Param(
        "any",
        None,
        allow_none=True,
        check=_checked_by(parse_memory),
        doc="working-set bound, e.g. '2GiB' (default: half the free memory)",
    ),
    "scheduler": Param(
        "str", "threads", check=_scheduler, doc="threads | processes | synchronous | a Dask scheduler address"
    ),
    "cluster": Param(
        "str",
        None,
        allow_none=True,
        check=_checked_by(parse_cluster),
        doc="'local:N': a Dask LocalCluster of N worker processes",
    ),
}

SECTIONS: dict[str, dict[str, Param]] = {
    "input": {
        "path": Param("str", doc="file to read (relative to the config file)"),
        "format": Param("str", None, allow_none=True, doc="reader name; guessed when omitted"),
        "image_shape": Param(
            "any",
            None,
            allow_none=True,
            check=_image_shape,
            nargs=2,
            metavar=("H", "W"),
            doc="image height and width in pixels, for flat tables",
        ),
        "label_column": Param("str", None, allow_none=True, doc="ground-truth column of a flat table"),
        "label_mask": Param(
            "str",
            None,
            allow_none=True,
            file=True,
            doc="ground truth for any cube: a 2-D class image file (relative to the config)",
        ),
        "axis_unit": Param("str", None, allow_none=True, doc="unit of the spectral axis"),
        "options": Param(
            "any",
            {},
            check=_options,
            flag="read-option",
            repeat=True,
            metavar="KEY=VALUE",
            doc="reader option KEY=VALUE, e.g. labels_file=gt.mat or lazy=true (see chemmap info --formats)",
        ),
    },
    "maps": {
        "intensity": Param(
            "any",
            None,
            allow_none=True,
            check=_positions,
            repeat=True,
            doc="band centre in axis units (default: strongest band of the mean spectrum)",
        ),
        "ratio": Param(
            "any",
            None,
            allow_none=True,
            check=_pairs,
            repeat=True,
            doc="band ratio A/B in axis units, e.g. 1655/1742 (default: the bands that "
            "best separate the two largest clusters)",
        ),
        "window": Param(
            "float",
            None,
            low=0,
            low_inclusive=False,
            allow_none=True,
            doc="full window width in axis units (default: 5 channel spacings)",
        ),
        "mode": Param("choice", "mean", choices=("mean", "area"), flag="band-mode", doc="band value: mean or area"),
        "baseline": Param(
            "choice", "none", choices=("none", "linear"), flag="band-baseline", doc="local baseline under each band"
        ),
        "noise_threshold": Param(
            "float",
            10.0,
            low=0,
            flag="ratio-min-snr",
            doc="ratio: a band counts as present above this many noise sigmas",
        ),
        "ratio_mode": Param(
            "choice",
            "ratio",
            choices=("ratio", "difference"),
            doc="A/B (lower bounds where only A is present) or (A - B)/(A + B)",
        ),
    },
    "clustering": {
        "method": Param(
            "choice",
            "spectral-spatial",
            choices=(*cluster_methods.names(), "spectral-spatial"),
            doc="algorithm (spectral-spatial: MNF, edge-preserving smoothing, GMM with mixed pixels, Potts)",
        ),
        "k": Param("any", "auto", check=check_k, flag="clusters", doc="number of clusters or 'auto'"),
        "k_range": Param("any", [2, 8], check=check_k_range, doc="range searched when k = 'auto'"),
        "criterion": Param(
            "choice", "silhouette", choices=("silhouette", "elbow", "gap", "bic"), doc="criterion that chooses k"
        ),
        "features": Param("choice", "pca", choices=("pca", "spectra", "ratios"), doc="clustering features"),
        "n_components": Param("any", 10, check=_n_components, doc="PCA components or variance fraction"),
        "ratios": Param(
            "any",
            [],
            check=_pairs,
            flag="feature-ratio",
            repeat=True,
            doc="band pair A/B for features = 'ratios' (default: the [maps] ratio pairs)",
        ),
        "covariance_type": Param("choice", "full", choices=("full", "diag"), doc="GMM covariance"),
        "n_init": Param("int", 10, low=1, doc="restarts"),
        "stability_runs": Param(
            "int", 3, low=0, doc="refits with other seeds on perturbed features, to flag unstable clusters (0 = off)"
        ),
        "mode_filter": Param("int", 0, low=0, doc="majority-filter window in pixels (0 = off)"),
        "min_region_size": Param("int", 0, low=0, doc="merge regions smaller than this, in pixels (0 = off)"),
    },
    "unmixing": {
        "method": Param(
            "any",
            None,
            allow_none=True,
            check=_unmix_method,
            flag="unmix",
            doc="none | auto | mcr | nmf | EXTRACTOR+SOLVER (vca, nfindr, atgp, ppi, smacc + fcls, scaled, nnls, ls); "
            "auto when only components is given",
        ),
        "components": Param(
            "any", None, allow_none=True, check=check_k, doc="number of unmixing components or 'auto' (HySime, default)"
        ),
        "spatial": Param(
            "choice",
            "none",
            choices=("none", "tv", "laplacian"),
            flag="spatial-unmix",
            doc="neighbour penalty on abundances",
        ),
        "smoothing": Param(
            "float", None, low=0, allow_none=True, flag="unmix-smoothing", doc="strength of the spatial penalty"
        ),
        "sample": Param("int", 100_000, low=1, flag="unmix-sample", doc="pixels searched for endmembers"),
        "init": Param(
            "choice",
            "vca",
            choices=("vca", "nfindr", "atgp", "smacc", "simplisma"),
            flag="mcr-init",
            doc="MCR-ALS starting point",
        ),
        "closure": Param("bool", False, flag="mcr-closure", doc="MCR-ALS: concentrations sum to 1"),
        "truth_abundances": Param("str", None, allow_none=True, file=True, doc=".npy (H, W, K) reference abundances"),
        "truth_endmembers": Param("str", None, allow_none=True, file=True, doc=".npy (K, C) reference spectra"),
    },
    "classification": {
        "labels": Param(
            "str",
            None,
            allow_none=True,
            file=True,
            flag="classify",
            doc=".npy (H, W) int class per pixel; enables the step",
        ),
        "method": Param(
            "choice", "lda", choices=("lda", "plsda", "svm", "rf", "sam", "mf"), flag="classifier", doc="classifier"
        ),
        "train_fraction": Param(
            "float",
            0.1,
            low=0,
            high=1,
            low_inclusive=False,
            high_inclusive=False,
            doc="share of labelled pixels trained on (whole spatial blocks)",
        ),
        "block_size": Param(
            "int",
            None,
            low=1,
            allow_none=True,
            flag="classify-block-size",
            doc="spatial block side, pixels (default ~10x10 grid)",
        ),
        "buffer": Param(
            "int", 0, low=0, flag="classify-buffer", doc="test pixels this close to a training block are dropped"
        ),
        "smoothing": Param(
            "float", 1.0, low=0, flag="classify-smoothing", doc="Potts weight of the smoothed labels (0 = off)"
        ),
        "unlabelled": Param("int", 0, doc="label value meaning 'no class' (negative values are unlabelled too)"),
    },
    "run": {"random_state": Param("int", 0, low=0, flag="seed", doc="seed of every random choice"), **SESSION_PARAMS},
}


#: Preprocessing steps given by flags; they follow a config's ``[[preprocessing]]`` steps, in
#: this order, in every workflow that takes a ``preprocessing`` list.
STEP_FLAGS: dict[str, Param] = {
    "crop": Param(
        "any", None, allow_none=True, check=_axis_range, nargs=2, metavar=("LOW", "HIGH"), doc="keep this axis range"
    ),
    "baseline": Param(
        "str", None, allow_none=True, doc="baseline method: arpls | asls | modpoly | airpls | snip | ... (pybaselines)"
    ),
    "savgol": Param(
        "float", None, low=0, low_inclusive=False, allow_none=True, doc="Savitzky-Golay window (axis units)"
    ),
    "normalize": Param("str", None, allow_none=True, doc="snv | msc | emsc | l1 | l2 | area | max"),
    "spatial_sigma": Param(
        "float",
        None,
        low=0,
        low_inclusive=False,
        allow_none=True,
        doc="Gaussian smoothing across pixels (sigma, pixels)",
    ),
}
_FLAG_STEP = {
    "crop": lambda v: {"step": "crop", "lower": v[0], "upper": v[1]},
    "baseline": lambda v: {"step": "baseline", "method": v},
    "savgol": lambda v: {"step": "savgol", "window": v},
    "normalize": lambda v: {"step": "normalize", "method": v},
    "spatial_sigma": lambda v: {"step": "spatial_gaussian", "sigma": v},
}


def flag_steps(given: Mapping[str, Any]) -> list[dict]:
    """The preprocessing steps of the :data:`STEP_FLAGS` given (values checked here)."""
    checked = validate_params(STEP_FLAGS, given, func="the preprocessing flags")
    return [_FLAG_STEP[name](checked[name]) for name in STEP_FLAGS if checked[name] is not None]


def workflow_tables(settings_class) -> dict[str, Mapping[str, Param]]:
    """Every table of a workflow's config with its declared parameters: ``[input]``, the
    settings' tables and ``[run]`` (with the session's parameters)."""
    tables = {"input": SECTIONS["input"], **settings_class.tables()}
    tables["run"] = {**tables.get("run", {}), **SESSION_PARAMS}
    return tables


class MappingSettings(dict):
    """The settings of the mapping workflow (``chemmap run``): its tables ``[maps]``,
    ``[clustering]``, ``[unmixing]``, ``[classification]``, ``[run]`` and the
    ``[[preprocessing]]`` steps, checked against :data:`SECTIONS` and held as a dict of
    tables (``settings["clustering"]["k"]``).

    Parameters
    ----------
    tables : mapping, optional
        Some of those tables; the rest take their defaults.
    """

    TABLES = ("maps", "clustering", "unmixing", "classification", "run")
    LISTS = ("preprocessing",)

    def __init__(self, tables: Mapping[str, Any] | None = None) -> None:
        tables = dict(tables or {})
        super().__init__(validate_tables(tables, {k: SECTIONS[k] for k in self.TABLES}, lists=self.LISTS))
        steps = tables.get("preprocessing", [])
        if not isinstance(steps, list):
            raise ConfigError("preprocessing must be a list of steps ([[preprocessing]] tables in TOML).")
        self["preprocessing"] = Chain(steps).to_list()
        unmixing = self["unmixing"]
        if unmixing["method"] is None:  # no recipe named: auto when components are asked for
            unmixing["method"] = "none" if unmixing["components"] is None else "auto"
        if unmixing["components"] is None:
            unmixing["components"] = "auto"
        clustering = self["clustering"]
        if clustering["features"] == "ratios" and not clustering["ratios"]:
            clustering["ratios"] = [list(pair) for pair in self["maps"]["ratio"] or []]  # the ratio maps' bands

    @classmethod
    def tables(cls) -> dict[str, dict[str, Param]]:
        return {name: SECTIONS[name] for name in cls.TABLES}

    @classmethod
    def from_config(cls, resolved: Mapping[str, Any]) -> MappingSettings:
        return cls({name: resolved[name] for name in (*cls.TABLES, *cls.LISTS) if name in resolved})

    def config_tables(self) -> dict[str, Any]:
        return dict(self)


def validate_config(
    config: dict[str, Any], *, base_dir: Path | None = None, check_input_exists: bool = True
) -> dict[str, Any]:
    """Check every section and field of a mapping config; return it resolved, defaults filled in.

    Parameters
    ----------
    config : dict
        Parsed TOML or an equivalent dict.
    base_dir : Path, optional
        Folder that relative input paths are resolved against.
    check_input_exists : bool
        Fail early when the input file is missing.

    Raises
    ------
    ConfigError
        Naming the section, the field, the constraint, the value and the valid names.
    """
    resolved, settings = validate_workflow_config(
        config, MappingSettings, base_dir=base_dir, check_input_exists=check_input_exists
    )
    return {"input": resolved["input"], **settings}


def validate_workflow_config(
    config: dict[str, Any], settings_class, *, base_dir: Path | None = None, check_input_exists: bool = True
) -> tuple[dict[str, Any], Any]:
    """Check the config of a workflow before anything is read: ``[input]``, the tables of
    its settings (:meth:`~chemmap._shared.params.Settings.tables`, e.g. ``[peaks]``) and
    ``[run]`` (memory limit, scheduler, cluster).

    Returns
    -------
    resolved : dict
        Every table, defaults filled in, relative file names made relative to ``base_dir``.
    settings
        ``settings_class.from_config(resolved)``.

    Raises
    ------
    ConfigError
        Naming the section, the field, the constraint and the value.
    """
    tables = workflow_tables(settings_class)
    lists = settings_class.LISTS
    resolved = validate_tables(config, tables, lists=lists)
    for name in lists:
        resolved[name] = config.get(name, [])
    resolve_paths(resolved, tables, base_dir, check_input_exists)
    try:
        settings = settings_class.from_config(resolved)
    except InvalidParameterError as exc:
        raise ConfigError(str(exc)) from None
    return resolved, settings


def validate_tables(config, sections: dict[str, dict[str, Param]], *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """Each table of ``config`` checked against its declared parameters, defaults filled in."""
    if not isinstance(config, dict):
        raise ConfigError(f"A config must be a table of sections; got {type(config).__name__}.")
    unknown = sorted(set(config) - set(sections) - set(lists))
    if unknown:
        raise ConfigError(
            f"Unknown config section(s) {', '.join(map(repr, unknown))}. Valid sections are: "
            f"{', '.join([*sections, *lists])}."
        )
    resolved: dict[str, Any] = {}
    for section, spec in sections.items():
        given = config.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"[{section}] must be a table; got {given!r}.")
        if section == "input" and "path" not in given:
            raise ConfigError('[input] needs path = "...": the file to read.')
        try:
            resolved[section] = validate_params(spec, given, func=f"[{section}]")
        except InvalidParameterError as exc:
            raise ConfigError(str(exc)) from None
    return resolved


def resolve_paths(
    resolved: dict[str, Any], tables: Mapping[str, Mapping[str, Param]], base_dir: Path | None, check_input_exists: bool
) -> None:
    """The input path and every other declared file name (``Param(file=True)``) made relative
    to ``base_dir``; a missing input is an error."""
    path = Path(resolved["input"]["path"])
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if check_input_exists and not path.exists():
        raise InputFileNotFoundError(f"Input file {str(path)!r} (from [input] path) does not exist.")
    resolved["input"]["path"] = str(path)
    if base_dir is None:
        return
    for section, params in tables.items():
        for key, param in params.items():
            given = resolved.get(section, {}).get(key)
            if param.file and given is not None and not Path(given).is_absolute():
                resolved[section][key] = str(base_dir / given)


def reader_options(inp: dict[str, Any]) -> dict[str, Any]:
    """The reader options of a validated ``[input]`` section: ``options`` plus the named fields set."""
    options = dict(inp["options"])
    for key in ("image_shape", "label_column", "label_mask", "axis_unit"):
        if inp[key] is not None:
            options[key] = inp[key]
    return options


def read_config_file(path) -> dict[str, Any]:
    """Parse a TOML config file without validating it (callers merge flags first)."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"Config file {str(path)!r} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file; expected a TOML config.") from None


def load_config(path) -> dict[str, Any]:
    """Read and validate a TOML config file (relative paths are relative to it)."""
    return validate_config(read_config_file(path), base_dir=Path(path).parent)
