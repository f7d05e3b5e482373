"""``neurosuper compare A B``: RSA (with a bootstrap CI), linear CKA, debiased CKA and the Procrustes shape distance
between two saved sets, whole and per ``layer``/``area`` pair — or, when B is an RDM file (a published RDM, or
one RDM per subject stacked along a first dim), A's RSA score against B's RDMs with their noise ceiling
(rsatoolbox's convention), whole and per layer.

The numbers come from :func:`neurosuper.compare.overview`, :func:`neurosuper.compare.score_against`,
:func:`neurosuper.compare.profile` and :func:`neurosuper.compare.summary`; this module only parses, checks outputs
and prints. The report's ``compare`` step is :mod:`neurosuper.pipeline.compare`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_outputs, integer, reraise, warn


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


def _is_rdm(obj: Any) -> bool:
    return "stimulus_a" in getattr(obj, "dims", ())


def format_score(s: dict[str, Any], layers: dict[str, Any] | None, a: str, b: str) -> str:
    """The human-readable report of ``compare SET RDM_FILE`` (the JSON has the same numbers)."""
    ci = s["ci"]
    lo, hi = s["ceiling"]
    data = f"{s['n_rdms']} RDMs (mean over them)" if s["n_rdms"] > 1 else "1 RDM"
    lines = [
        f"{a}  vs  {b}: {data}, {s['n_stimuli']} shared stimuli",
        f"  RSA ({s['method']}) = {_fmt(s['value'])} [{_fmt(ci[0])}, {_fmt(ci[1])}]"
        + (f"  SEM over RDMs {_fmt(s['sem'])}" if s["sem"] is not None else ""),
        f"  noise ceiling: {_fmt(lo)} - {_fmt(hi)} ({s['ceiling_kind']})"
        if s["ceiling_kind"] != "none"
        else f"  noise ceiling: n/a ({s['ceiling_note']})",
    ]
    if layers is not None:
        for label, value in layers["score"].items():
            l_lo, l_hi = layers["ci"][label]
            lines.append(f"  {layers['groupby']} {label}: RSA = {_fmt(value)} [{_fmt(l_lo)}, {_fmt(l_hi)}]")
        lines.append(f"  {layers['best_status']}: {layers['best']}")
    return "\n".join(lines)


def run_rdms(args: argparse.Namespace, a: Any, b: Any, out: Path | None, figure: Path | None) -> int:
    """``compare A RDM_FILE``: A (a set or one RDM) scored against B's RDMs with their noise ceiling."""
    from .. import compare
    from ..errors import FormatError, NeurosuperError, fail, recorded_warnings
    from ..storage import save_result

    if _is_rdm(a) and len(a.dims) == 3:
        raise fail(
            f"A {args.a!r}",
            f"{a.sizes[a.dims[0]]} RDMs (dim {a.dims[0]!r})",
            "the model first (a set, or one RDM) and the data's RDMs (one per subject) second",
            f"neurosuper compare {args.b} {args.a}",
            FormatError,
        )
    with recorded_warnings() as notes:
        try:
            result = compare.score_against(
                a,
                b,
                metric=args.metric,
                method=args.method,
                n_boot=args.n_boot,
                seed=args.seed,
                progress=not args.json and sys.stderr.isatty(),
            )
            layers = None
            if not _is_rdm(a) and args.groupby != "none":
                prof = compare.profile(
                    a,
                    b,
                    metric=args.metric,
                    method=args.method,
                    groupby=args.groupby,
                    n_boot=args.n_boot,
                    seed=args.seed,
                    progress=not args.json and sys.stderr.isatty(),
                )
                layers = compare.summary(prof)
                layers = layers if len(layers["score"]) > 1 else None
            if figure:
                _draw_rdms(args, a, b, figure)
        except NeurosuperError as err:
            raise reraise(err, getattr(args, "cli_flags", None)) from None
    warn(notes, flags=getattr(args, "cli_flags", None))
    if out:
        save_result(result, out, overwrite=args.overwrite, full_paths=args.full_paths)
    s = compare.summary(result)
    if layers is not None:
        s["layers"] = layers
    print(json.dumps(s) if args.json else format_score(s, layers, args.a, args.b))
    return 0


def _draw_rdms(args: argparse.Namespace, a: Any, b: Any, figure: Path) -> None:
    """``--figure``: the two inputs' RDMs side by side, on their shared stimuli."""
    from .._atomic import save_figure
    from ..plot.compare import plot_rdm_pair

    names = (Path(args.a).name, Path(args.b).name)
    fig = plot_rdm_pair(a, b, metric=args.metric, order_by=args.order_by, names=names)
    save_figure(fig, figure, overwrite=args.overwrite, dpi=120)


def run(args: argparse.Namespace) -> int:
    from .. import compare
    from ..errors import NeurosuperError, recorded_warnings
    from ..io.rdms import load_set_or_rdms
    from ..storage import save_result

    out, figure = check_outputs(args, inputs=[args.a, args.b])
    a = load_set_or_rdms(args.a, lazy=True)
    b = load_set_or_rdms(args.b, lazy=True)
    if _is_rdm(a) or _is_rdm(b):
        return run_rdms(args, a, b, out, figure)
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
                _draw_rdms(args, a, b, figure)
        except NeurosuperError as err:
            raise reraise(err, getattr(args, "cli_flags", None)) from None
    warn(notes, flags=getattr(args, "cli_flags", None))
    if out:
        save_result(result, out, overwrite=args.overwrite, full_paths=args.full_paths)
    s = compare.summary(result)
    print(json.dumps(s) if args.json else format_text(s, args.a, args.b))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..compare import METHODS, METRICS

    p = sub.add_parser(
        "compare",
        help="RSA, CKA and Procrustes between two sets (whole and per layer/area pair), or a set's RSA score "
        "against published RDMs with their noise ceiling",
    )
    p.add_argument("a", help="a .nc or .zarr ResponseSet (e.g. a network's activations), or one RDM file")
    p.add_argument(
        "b",
        help="a .nc or .zarr ResponseSet (e.g. a recording), or an RDM file: one (published) RDM, or one per "
        "subject stacked along a first dim (then A is scored against each, averaged, beside their noise ceiling); "
        "matched to A on stimulus ids",
    )
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
        type=integer(0),
        default=1000,
        help="bootstrap resamples over stimuli for the RSA CI (default 1000; 0: none)",
    )
    p.add_argument(
        "--groupby", default="auto", help="unit coord giving the pairs: auto (layer, else area), a coord name, or none"
    )
    p.add_argument("--seed", type=integer(0), default=0)
    add_outputs(p, out="save the result (.nc or .zarr)", figure="save the two RDMs as heatmaps", full_paths=True)
    p.add_argument("--order-by", default="category", help="stimulus coord ordering the heatmaps (default category)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (n_stimuli, rsa, cka, cka_debiased, procrustes, pairs; against RDMs: value, ci, "
        "sem, ceiling, layers)",
    )
    p.set_defaults(func=run)
