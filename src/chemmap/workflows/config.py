"""The run configuration: sections, fields, defaults and validation.

A config file (TOML), CLI flags and a Python dict all pass through :func:`validate_config`,
which checks every field before any data are read.

Sections: ``[input]``, ``[[preprocessing]]`` (a list of steps, see
:mod:`chemmap.preprocessing`), ``[maps]``, ``[clustering]``, ``[run]``.
"""

from __future__ import annotations

import numbers
import tomllib
from pathlib import Path
from typing import Any

from chemmap._shared.compute import parse_cluster, parse_memory
from chemmap._shared.params import Param, validate_params
from chemmap.cluster.methods import cluster_methods
from chemmap.core.exceptions import ConfigError, InputFileNotFoundError, InvalidParameterError
from chemmap.preprocessing.chain import Chain

__all__ = [
    "SECTIONS",
    "SESSION_PARAMS",
    "check_k",
    "check_k_range",
    "load_config",
    "read_config_file",
    "reader_options",
    "validate_config",
    "validate_workflow_config",
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


def _image_shape(value, name, func):
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be two positive integers [height, width]. Got {value!r} instead."
        )
    return [int(v) for v in value]


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
    if not isinstance(value, dict):
        raise InvalidParameterError(f"The {name!r} parameter of {func} must be a table. Got {value!r} instead.")
    return dict(value)


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
            "any", None, allow_none=True, check=_image_shape, doc="[height, width] in pixels, for flat tables"
        ),
        "label_column": Param("str", None, allow_none=True, doc="ground-truth column of a flat table"),
        "label_mask": Param(
            "str",
            None,
            allow_none=True,
            doc="ground truth for any cube: a 2-D class image file (relative to the config)",
        ),
        "axis_unit": Param("str", None, allow_none=True, doc="unit of the spectral axis"),
        "options": Param("any", {}, check=_options, doc="further reader options"),
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
            "none",
            check=_unmix_method,
            flag="unmix",
            doc="none | mcr | nmf | EXTRACTOR+SOLVER (vca, nfindr, atgp, ppi, smacc + fcls, scaled, nnls, ls)",
        ),
        "components": Param("any", "auto", check=check_k, doc="number of unmixing components or 'auto' (HySime)"),
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
        "truth_abundances": Param("str", None, allow_none=True, doc=".npy (H, W, K) reference abundances"),
        "truth_endmembers": Param("str", None, allow_none=True, doc=".npy (K, C) reference spectra"),
    },
    "classification": {
        "labels": Param(
            "str", None, allow_none=True, flag="classify", doc=".npy (H, W) int class per pixel; enables the step"
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


def validate_config(
    config: dict[str, Any], *, base_dir: Path | None = None, check_input_exists: bool = True
) -> dict[str, Any]:
    """Check every section and field; return the resolved config with defaults filled in.

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
    resolved = _validate_tables(config, SECTIONS, lists=("preprocessing",))
    steps = config.get("preprocessing", [])
    if not isinstance(steps, list):
        raise ConfigError("preprocessing must be a list of steps ([[preprocessing]] tables in TOML).")
    resolved["preprocessing"] = Chain(steps).to_list()
    _resolve_paths(resolved, base_dir, check_input_exists)
    clustering = resolved["clustering"]
    if clustering["features"] == "ratios" and not clustering["ratios"]:
        clustering["ratios"] = [list(pair) for pair in resolved["maps"]["ratio"] or []]  # the ratio maps' bands
    return resolved


def validate_workflow_config(
    config: dict[str, Any], settings_class, *, base_dir: Path | None = None, check_input_exists: bool = True
) -> dict[str, Any]:
    """Check the config of a workflow other than ``run``: ``[input]``, the table of its
    :class:`~chemmap._shared.params.Settings` (e.g. ``[peaks]``) and ``[run]`` (memory limit,
    scheduler, cluster); return it resolved, defaults filled in, relative paths made absolute.

    Raises
    ------
    ConfigError
        Naming the section, the field, the constraint and the value.
    """
    section = settings_class.SECTION
    resolved = _validate_tables(
        config, {"input": SECTIONS["input"], section: settings_class.PARAMS, "run": SESSION_PARAMS}
    )
    try:
        settings_class(**resolved[section])  # the rules across parameters
    except InvalidParameterError as exc:
        raise ConfigError(str(exc)) from None
    _resolve_paths(resolved, base_dir, check_input_exists)
    return resolved


def _validate_tables(config, sections: dict[str, dict[str, Param]], *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
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


#: Fields holding file names, relative to the config file.
PATH_FIELDS = (
    ("input", "label_mask"),
    ("unmixing", "truth_abundances"),
    ("unmixing", "truth_endmembers"),
    ("classification", "labels"),
)


def _resolve_paths(resolved: dict[str, Any], base_dir: Path | None, check_input_exists: bool) -> None:
    """The input path and the other file names made relative to ``base_dir``; a missing input is an error."""
    path = Path(resolved["input"]["path"])
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if check_input_exists and not path.exists():
        raise InputFileNotFoundError(f"Input file {str(path)!r} (from [input] path) does not exist.")
    resolved["input"]["path"] = str(path)
    for section, key in PATH_FIELDS:
        given = resolved.get(section, {}).get(key)
        if given is not None and base_dir is not None and not Path(given).is_absolute():
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
