"""``chemmap quantify compare | train | predict``: quantitative maps from per-sample
reference values."""

from __future__ import annotations

from pathlib import Path

from chemmap.cli.flags import add_param_flags, workflow_config
from chemmap.cli.session import session_options
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["add_quantify_parser", "cmd_quantify"]


def add_quantify_parser(sub, common, scale, read_option) -> None:
    """Add ``quantify`` and its three actions to the subparsers ``sub``; the flags of the
    settings are made from :data:`QuantifySettings.PARAMS`."""
    from chemmap.workflows.quantify import MODEL_NAMES, QuantifySettings

    quantify = sub.add_parser(
        "quantify", help="maps of a quantity (e.g. fat %%) learned from one reference value per sample"
    )
    actions = quantify.add_subparsers(dest="action", required=True, parser_class=type(quantify))

    def shared(p, params):
        add_param_flags(p, params)
        p.add_argument("--read-option", type=read_option, action="append", metavar="KEY=VALUE", help="reader option")
        scale(p)
        common(p)

    manifest = "CSV: cube, reference[, mask, split, truth], or a .toml config"
    compare = actions.add_parser(
        "compare", help="train every model on the same splits and compare them on test samples"
    )
    compare.add_argument("input", metavar="manifest", type=Path, help=manifest)
    compare.add_argument("--out", required=True, type=Path, help="output folder")
    shared(compare, QuantifySettings.PARAMS)

    train = actions.add_parser("train", help="train one model on the non-test samples and save it")
    train.add_argument("input", metavar="manifest", type=Path, help=manifest)
    train.add_argument("--model", choices=("pls", *MODEL_NAMES), help="the model (pls = pls-mean), or one of --models")
    train.add_argument("--out", required=True, type=Path, help="model folder to write")
    shared(train, QuantifySettings.PARAMS)

    predict = actions.add_parser("predict", help="map a cube, or every sample of a manifest, with a saved model")
    predict.add_argument("model_dir", type=Path, help="folder written by 'chemmap quantify train'")
    predict.add_argument("input", type=Path, help="a cube file (any format chemmap reads) or a manifest .csv")
    predict.add_argument("--out", required=True, type=Path, help="output folder")
    predict.add_argument("--format", help="reader name for a cube file (guessed when omitted)")
    shared(predict, {k: QuantifySettings.PARAMS[k] for k in ("low", "high", "unit")})


def _resolved(args):
    """The settings and reader options of ``compare`` or ``train``: the input TOML or the
    manifest, flags merged, checked before any sample is read."""
    from chemmap.workflows.config import reader_options, validate_workflow_config
    from chemmap.workflows.quantify import QuantifySettings

    if getattr(args, "model", None) is not None:
        args.models = "pls-mean" if args.model == "pls" else args.model
    config, base_dir = workflow_config(args, QuantifySettings.SECTION, QuantifySettings.PARAMS)
    resolved = validate_workflow_config(config, QuantifySettings, base_dir=base_dir)
    settings = QuantifySettings(**resolved["quantify"])
    return resolved["input"]["path"], settings, reader_options(resolved["input"]), resolved["run"]


def cmd_quantify(args) -> int:
    from chemmap.workflows import quantify

    if args.action == "compare":
        manifest, settings, read_options, run = _resolved(args)
        options = {"read_options": read_options, "session": session_options(args, run)}
        comparison = quantify.run_compare(manifest, args.out, settings, **options)
        for name, scores in comparison.items():
            pixel = scores.get("pixel_rmse")
            svf = scores.get("spatial_variance_fraction")
            print(
                f"chemmap: {name}: RMSE of the mean {scores['rmse_mean']:.3g}, "
                f"out of range {scores['out_of_range_fraction']:.1%}"
                + (f", spatial variance {svf:.1%}" if svf is not None else "")
                + (f", pixel RMSE {pixel:.3g}" if pixel is not None else "")
            )
        print(f"chemmap: wrote comparison.json, maps.png and report.md to {args.out}")
        return 0
    if args.action == "train":
        manifest, settings, read_options, run = _resolved(args)
        if settings.models is None or len(settings.models) != 1:
            raise InvalidParameterError("quantify train trains one model: give --model (or models with one name).")
        options = {"read_options": read_options, "session": session_options(args, run)}
        (model,) = settings.models
        summary = quantify.run_train(manifest, model, args.out, settings, **options)
        fit = summary["training_fit"]
        print(
            f"chemmap: {model} trained on {summary['training_samples']} samples; "
            f"training RMSE of the mean {fit['rmse_mean']:.3g}"
        )
        print(f"chemmap: wrote the model to {args.out}")
        return 0
    options = {"read_options": dict(args.read_option or []), "session": session_options(args)}
    ranges = {k: v for k, v in {"low": args.low, "high": args.high, "unit": args.unit}.items() if v is not None}
    rows = quantify.run_predict(args.model_dir, args.input, args.out, format=args.format, **ranges, **options)
    for row in rows[:10]:
        print(
            f"chemmap: {row['name']}: mean {row['predicted_mean']:.3g}, out of range {row['out_of_range_fraction']:.1%}"
        )
    print(f"chemmap: wrote {len(rows)} map(s) and predictions.csv to {args.out}")
    return 0
