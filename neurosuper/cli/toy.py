"""``neurosuper toy``: train a toy model of superposition and print each feature's capacity.

The models and their training are :func:`neurosuper.toy.train` (``docs/toy.md``); the demo's ``toy`` step is
:mod:`neurosuper.pipeline.toy`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._numbers import rounded
from ._common import add_outputs, check_outputs, integer, number, reraise, warn


def _inputs(result: Any) -> dict[str, Any]:
    """The input distribution of a trained model (density, and kurtosis for the quadratic model), JSON-safe."""
    out: dict[str, Any] = {"density": rounded(float(result["density"]))}
    if "kurtosis" in result:
        out["kurtosis"] = rounded(float(result["kurtosis"]))
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


def _train_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`neurosuper.toy.train`: each flag is the argument of the same name."""
    names = ("model", "density", "kurtosis", "importance_ratio", "steps", "batch_size", "lr", "n_seeds", "seed")
    kwargs = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    kwargs["backend"] = args.backend
    return kwargs


def run(args: argparse.Namespace) -> int:
    from .. import toy
    from .._atomic import save_figure
    from ..errors import NeurosuperError, recorded_warnings
    from ..storage import save_result

    check_outputs(args)  # before training: a bad path fails at once
    with recorded_warnings() as notes:
        try:
            result = toy.train(args.n_features, args.n_hidden, **_train_kwargs(args), progress=not args.json)
        except NeurosuperError as err:
            raise reraise(err) from None
    out = {**toy.summary(result), **_inputs(result)}
    if notes:
        out["warnings"] = notes
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite, full_paths=args.full_paths))
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
    warn(notes, flags=getattr(args, "cli_flags", None))
    for key in ("result", "figure"):
        if key in out:
            print(f"  {key}: {out[key]}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..toy import MODELS

    p = sub.add_parser(
        "toy",
        help="train a toy model of superposition and print each feature's capacity "
        "(Elhage et al. 2022; Scherlis et al. 2022)",
    )
    p.add_argument("--n-features", type=integer(1), default=5, help="number of input features n (default 5)")
    p.add_argument("--n-hidden", type=integer(1), default=2, help="hidden dims m (default 2; m < n for superposition)")
    p.add_argument(
        "--model",
        default="relu",
        choices=MODELS,
        help="relu / linear (Elhage: x' = ReLU(WᵀWx + b)) or quadratic (Scherlis; default relu)",
    )
    p.add_argument(
        "--density",
        type=number(0, 1, low_open=True),
        default=None,
        help="probability a feature is non-zero, in (0, 1] (default 1, dense, as in Python; superposition needs "
        "sparse inputs: --density 0.05 gives Elhage's pentagon; for the quadratic model 1/kurtosis)",
    )
    p.add_argument("--kurtosis", type=number(), default=None, help="input kurtosis K >= 1 (quadratic model only)")
    p.add_argument(
        "--importance-ratio",
        type=number(0, low_open=True),
        default=None,
        metavar="R",
        help="feature i has importance R**i (e.g. 0.7, Elhage et al.; default: every feature 1)",
    )
    p.add_argument("--steps", type=integer(1), default=10_000, help="AdamW steps (default 10000)")
    p.add_argument("--batch-size", type=integer(1), default=1024, help="samples per step (default 1024)")
    p.add_argument("--lr", type=number(0, low_open=True), default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument(
        "--n-seeds",
        type=integer(1),
        default=1,
        help="restarts trained at once; the best is kept (default 1, as in Python)",
    )
    p.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    p.add_argument(
        "--backend",
        default="numpy",
        choices=("numpy", "torch"),
        help="numpy (analytic gradients) or torch (autograd); the same numbers (default numpy)",
    )
    add_outputs(
        p,
        out="write the trained model here (.nc or .zarr)",
        figure="write the geometry figure (m = 2) or capacity figure here",
        full_paths=True,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(func=run)
