"""``neurosuper toy``: train a toy model of superposition and print each feature's capacity.

The models and their training are :func:`neurosuper.toy.train` (``docs/toy.md``); the demo's ``toy`` step is
:mod:`neurosuper.pipeline.toy`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _inputs(result) -> dict[str, Any]:
    """The input distribution of a trained model (density, and kurtosis for the quadratic model), JSON-safe."""
    out: dict[str, Any] = {"density": round(float(result["density"]), 6)}
    if "kurtosis" in result:
        out["kurtosis"] = round(float(result["kurtosis"]), 6)
    return out


def _format(out: dict[str, Any]) -> str:
    sparsity = f"density {out.get('density')}" + (f", kurtosis {out['kurtosis']}" if "kurtosis" in out else "")
    lines = [
        f"toy model ({out.get('model')}): {out.get('n_features')} features in {out.get('n_hidden')} hidden dims, "
        f"{sparsity}; {out.get('steps')} steps, best of {out.get('n_seeds')} seeds (seed {out.get('best_seed')})",
        "  capacity per feature: " + ", ".join(f"{c:.3f}" if c is not None else "nan" for c in out.get("capacity", [])),
        f"  ΣC = {out.get('capacity_sum')} (of {out.get('n_hidden')} dims); {out.get('n_monosemantic')} "
        f"monosemantic, {out.get('n_polysemantic')} polysemantic, {out.get('n_ignored')} ignored",
        f"  final loss: {out.get('loss')}",
    ]
    return "\n".join(lines)


#: The command's flag for each argument of :func:`neurosuper.toy.train` (named in error messages).
FLAGS = {
    "n_features": "--features",
    "n_hidden": "--hidden",
    "model": "--model",
    "density": "--density",
    "kurtosis": "--kurtosis",
    "steps": "--steps",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "n_seeds": "--seeds",
    "seed": "--seed",
    "backend": "--backend",
}


def _train_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`neurosuper.toy.train` the command's flags stand for."""
    kwargs: dict[str, Any] = {
        "model": args.model,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "n_seeds": args.seeds,
        "seed": args.seed,
        "backend": args.backend,
    }
    if args.density is not None:
        kwargs["density"] = args.density
    elif args.kurtosis is None:
        kwargs["density"] = 0.05
    if args.kurtosis is not None:
        kwargs["kurtosis"] = args.kurtosis
    if args.importance_ratio is not None:  # feature i's importance r**i (Elhage's 0.7**i), as toy.sweep
        import numpy as np

        from .._validation import check_float

        r = check_float(
            "importance_ratio",
            args.importance_ratio,
            low=0.0,
            low_open=True,
            caller="neurosuper toy",
            fix="pass --importance-ratio in (0, 1], e.g. 0.7 (feature i has importance 0.7**i)",
        )
        kwargs["importance"] = r ** np.arange(max(int(args.features), 0), dtype=float)
    return kwargs


def run(args: argparse.Namespace) -> int:
    from .. import toy
    from .._atomic import check_figure_path, check_target, save_figure
    from ..errors import AnalysisError, recorded_warnings
    from ..storage import save_result

    if args.out:  # before training: a bad path fails at once
        check_target(args.out, overwrite=args.overwrite)
    if args.figure:
        check_figure_path(args.figure)
        check_target(args.figure, overwrite=args.overwrite)
    with recorded_warnings() as notes:
        try:
            result = toy.train(args.features, args.hidden, **_train_kwargs(args), progress=not args.json)
        except AnalysisError as err:  # name the command's flag, not only the function's argument
            name = str(err).split(":")[1].strip() if str(err).startswith("toy.train:") else ""
            if name in FLAGS:
                raise AnalysisError(f"{err} (command line: {FLAGS[name]})") from err
            raise
    out = {**toy.summary(result), **_inputs(result)}
    if notes:
        out["warnings"] = notes
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite))
    if args.figure:
        from ..plot.toy import model_title

        title = model_title(result)
        if out["n_hidden"] == 2:
            from ..plot.toy import plot_geometry

            fig = plot_geometry(result, title=title)
        else:
            from ..plot.capacity import plot_capacity

            fig = plot_capacity(result, title=title)
        out["figure"] = str(save_figure(fig, args.figure, overwrite=args.overwrite, dpi=130))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(_format(out))
    for note in notes:
        print(f"neurosuper: warning: {note}", file=sys.stderr)
    for key in ("result", "figure"):
        if key in out:
            print(f"  {key}: {out[key]}")
    return 0


def register(sub) -> None:
    from ..toy import MODELS

    p = sub.add_parser(
        "toy",
        help="train a toy model of superposition and print each feature's capacity "
        "(Elhage et al. 2022; Scherlis et al. 2022)",
    )
    p.add_argument("--features", type=int, default=5, help="number of input features n (default 5)")
    p.add_argument("--hidden", type=int, default=2, help="hidden dims m (default 2; m < n for superposition)")
    p.add_argument(
        "--model",
        default="relu",
        choices=MODELS,
        help="relu / linear (Elhage: x' = ReLU(WᵀWx + b)) or quadratic (Scherlis; default relu)",
    )
    p.add_argument(
        "--density",
        type=float,
        default=None,
        help="probability a feature is non-zero, in (0, 1] (default 0.05; for the quadratic model 1/kurtosis)",
    )
    p.add_argument("--kurtosis", type=float, default=None, help="input kurtosis K >= 1 (quadratic model only)")
    p.add_argument(
        "--importance-ratio",
        type=float,
        default=None,
        metavar="R",
        help="feature i has importance R**i (e.g. 0.7, Elhage et al.; default: every feature 1)",
    )
    p.add_argument("--steps", type=int, default=10_000, help="AdamW steps (default 10000)")
    p.add_argument("--batch-size", type=int, default=1024, help="samples per step (default 1024)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--seeds", type=int, default=4, help="restarts trained at once; the best is kept (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--backend",
        default="numpy",
        choices=("numpy", "torch"),
        help="numpy (analytic gradients) or torch (autograd); the same numbers (default numpy)",
    )
    p.add_argument("--out", help="write the trained model here (.nc or .zarr)")
    p.add_argument("--figure", help="write the geometry figure (m = 2) or capacity figure here (.png/.pdf/.svg)")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --figure if they exist")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(func=run)
