"""``neurosuper compare A B``: RSA (with a bootstrap CI), linear CKA, debiased CKA and the Procrustes shape distance
between two saved sets, whole and per ``layer``/``area`` pair.

The numbers come from :func:`neurosuper.compare.overview` and :func:`neurosuper.compare.summary`; this module only
parses, checks outputs and prints. The report's ``compare`` step is :mod:`neurosuper.pipeline.compare`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_outputs, reraise, warn


def _fmt(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def format_text(s: dict[str, Any], a: str, b: str) -> str:
    """The human-readable report of ``compare`` (the JSON has the same numbers)."""
    rsa = s["rsa"]
    ci = rsa["ci"]
    lines = [
        f"{a}  vs  {b}",
        f"  stimuli: {s['n_stimuli']}  units: {s['n_units_a']} vs {s['n_units_b']}",
        f"  RSA ({rsa['method']} of {rsa['metric']} RDMs) = {_fmt(rsa['value'])} [{_fmt(ci[0])}, {_fmt(ci[1])}]",
        f"  CKA = {_fmt(s['cka'])}  debiased CKA = {_fmt(s['cka_debiased'])}  "
        f"Procrustes = {_fmt(s['procrustes'])} rad"
        + ("  (degenerate: units >= stimuli)" if s["procrustes_degenerate"] else ""),
    ]
    for p in s.get("pairs", []):
        pa = f"{p['a']}" if "a" in p else "all"
        pb = f"{p['b']}" if "b" in p else "all"
        lo, hi = p["rsa"]["ci"]
        lines.append(
            f"  {pa} vs {pb}: RSA = {_fmt(p['rsa']['value'])} [{_fmt(lo)}, {_fmt(hi)}]  "
            f"CKA = {_fmt(p['cka'])}  dCKA = {_fmt(p['cka_debiased'])}  Procrustes = {_fmt(p['procrustes'])}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from .. import compare
    from .._atomic import save_figure
    from ..errors import NeurosuperError, recorded_warnings
    from ..storage import load, save_result

    out, figure = check_outputs(args, inputs=[args.a, args.b])
    a = load(args.a, lazy=True)
    b = load(args.b, lazy=True)
    with recorded_warnings() as notes:
        try:
            result = compare.overview(
                a,
                b,
                metric=args.metric,
                method=args.method,
                n_boot=args.n_boot,
                seed=args.seed,
                groupby=None if args.groupby == "none" else args.groupby,
                progress=not args.json and sys.stderr.isatty(),
            )
            if figure:
                from ..plot.compare import plot_rdm_pair

                fig = plot_rdm_pair(
                    a, b, metric=args.metric, order_by=args.order_by, names=(Path(args.a).name, Path(args.b).name)
                )
                save_figure(fig, figure, overwrite=args.overwrite, dpi=120)
        except NeurosuperError as err:
            raise reraise(err) from None
    warn(notes)
    if out:
        save_result(result, out, overwrite=args.overwrite)
    s = compare.summary(result)
    print(json.dumps(s) if args.json else format_text(s, args.a, args.b))
    return 0


def register(sub) -> None:
    from ..compare import METHODS, METRICS

    p = sub.add_parser("compare", help="RSA, CKA and Procrustes between two sets (whole and per layer/area pair)")
    p.add_argument("a", help="a .nc or .zarr ResponseSet (e.g. a network's activations)")
    p.add_argument("b", help="a .nc or .zarr ResponseSet (e.g. a recording); matched to A on stimulus ids")
    p.add_argument(
        "--metric",
        choices=[m for m in METRICS if m != "crossnobis"],
        default="correlation",
        help="the RDMs' distance (default correlation)",
    )
    p.add_argument(
        "--method",
        choices=list(METHODS),
        default="spearman",
        help="how the two RDMs are compared (default spearman; kendall_tau_a for tied model RDMs)",
    )
    p.add_argument(
        "--n-boot",
        type=int,
        default=1000,
        help="bootstrap resamples over stimuli for the RSA CI (default 1000; 0: none)",
    )
    p.add_argument(
        "--groupby", default="auto", help="unit coord giving the pairs: auto (layer, else area), a coord name, or none"
    )
    p.add_argument("--seed", type=int, default=0)
    add_outputs(p, out="save the result (.nc or .zarr)", figure="save the two RDMs as heatmaps")
    p.add_argument("--order-by", default="category", help="stimulus coord ordering the heatmaps (default category)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (n_stimuli, rsa, cka, cka_debiased, procrustes, pairs)",
    )
    p.set_defaults(func=run)
