"""``chemmap quantify compare | train | predict``: quantitative maps from per-sample
reference values."""

from __future__ import annotations

import argparse
from pathlib import Path

from chemmap.cli.session import session_options

__all__ = ["add_quantify_parser", "cmd_quantify"]


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--widths must look like 16,32,64,128; got {text!r}") from None
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"--widths needs two or more positive levels; got {text!r}")
    return widths


def _models(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def add_quantify_parser(sub, common, scale, read_option) -> None:
    """Add ``quantify`` and its three actions to the subparsers ``sub``."""
    from chemmap.pipeline.quantify import MODEL_NAMES

    quantify = sub.add_parser(
        "quantify", help="maps of a quantity (e.g. fat %%) learned from one reference value per sample"
    )
    actions = quantify.add_subparsers(dest="action", required=True, parser_class=type(quantify))

    def shared(p):
        p.add_argument("--low", type=float, help="physical minimum of the quantity (default 0)")
        p.add_argument("--high", type=float, help="physical maximum of the quantity (default 100)")
        p.add_argument("--unit", help="unit of the reference values (default %%)")
        p.add_argument("--read-option", type=read_option, action="append", metavar="KEY=VALUE", help="reader option")
        scale(p)
        common(p)

    def training(p):
        p.add_argument("--epochs", type=int, help="cap on U-Net epochs (presets: paper 250, improved 60)")
        p.add_argument("--widths", type=_widths, help="U-Net level widths, e.g. 16,32,64,128")
        p.add_argument("--folds", type=int, help="folds of PLS cross-validation and U-Net ensembles (default 5)")
        p.add_argument("--pls-preprocess", choices=("none", "snv", "snv+d1"), help="spectra before PLS (default none)")
        p.add_argument("--test-fraction", type=float, help="held-out share without a split column (default 0.25)")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="auto (default): CUDA when present")
        p.add_argument("--seed", type=int, help="random seed (default 0)")
        shared(p)

    compare = actions.add_parser(
        "compare", help="train every model on the same splits and compare them on test samples"
    )
    compare.add_argument("manifest", type=Path, help="CSV: cube, reference[, mask, split, truth]")
    compare.add_argument("--out", required=True, type=Path, help="output folder")
    compare.add_argument(
        "--models",
        type=_models,
        help=f"comma-separated, of {','.join(MODEL_NAMES)} (default: all with CUDA, all but unet-paper on a CPU)",
    )
    training(compare)

    train = actions.add_parser("train", help="train one model on the non-test samples and save it")
    train.add_argument("manifest", type=Path, help="CSV: cube, reference[, mask, split, truth]")
    train.add_argument("--model", required=True, choices=("pls", *MODEL_NAMES), help="pls = pls-mean; unet = improved")
    train.add_argument("--out", required=True, type=Path, help="model folder to write")
    training(train)

    predict = actions.add_parser("predict", help="map a cube, or every sample of a manifest, with a saved model")
    predict.add_argument("model_dir", type=Path, help="folder written by 'chemmap quantify train'")
    predict.add_argument("input", type=Path, help="a cube file (any format chemmap reads) or a manifest .csv")
    predict.add_argument("--out", required=True, type=Path, help="output folder")
    predict.add_argument("--format", help="reader name for a cube file (guessed when omitted)")
    shared(predict)


def _settings(args):
    from chemmap.pipeline.quantify import QuantifySettings

    chosen = {
        "models": getattr(args, "models", None),
        "low": args.low,
        "high": args.high,
        "unit": args.unit,
        "epochs": args.epochs,
        "widths": args.widths,
        "n_folds": args.folds,
        "pls_preprocess": args.pls_preprocess,
        "test_fraction": args.test_fraction,
        "device": args.device,
        "random_state": args.seed,
    }
    return QuantifySettings(**{k: v for k, v in chosen.items() if v is not None})


def cmd_quantify(args) -> int:
    from chemmap.pipeline import quantify

    options = {"read_options": dict(args.read_option or []), "session": session_options(args)}
    if args.action == "compare":
        comparison = quantify.run_compare(args.manifest, args.out, _settings(args), **options)
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
        model = "pls-mean" if args.model == "pls" else args.model
        summary = quantify.run_train(args.manifest, model, args.out, _settings(args), **options)
        fit = summary["training_fit"]
        print(
            f"chemmap: {model} trained on {summary['training_samples']} samples; "
            f"training RMSE of the mean {fit['rmse_mean']:.3g}"
        )
        print(f"chemmap: wrote the model to {args.out}")
        return 0
    ranges = {k: v for k, v in {"low": args.low, "high": args.high, "unit": args.unit}.items() if v is not None}
    rows = quantify.run_predict(args.model_dir, args.input, args.out, format=args.format, **ranges, **options)
    for row in rows[:10]:
        print(
            f"chemmap: {row['name']}: mean {row['predicted_mean']:.3g}, out of range {row['out_of_range_fraction']:.1%}"
        )
    print(f"chemmap: wrote {len(rows)} map(s) and predictions.csv to {args.out}")
    return 0
