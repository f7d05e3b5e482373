"""``neurosuper compare A B``: RSA (with a bootstrap CI), linear CKA, debiased CKA and the Procrustes shape distance
between two saved sets, whole and per ``layer``/``area`` pair.

Also the ``compare`` step of ``neurosuper demo`` / ``neurosuper report``: the network's layers profiled against the
brain (RSA with the split-half ceiling, and predictivity), CKA/Procrustes per layer/area pair, RDM heatmaps and
the profile figures, on every 10th stimulus with 100 bootstrap resamples (``ctx.settings["compare"]``:
``stimulus_step``, ``n_boot``). The numbers
come from :func:`neurosuper.compare.overview`/:func:`~neurosuper.compare.profile` and
:func:`neurosuper.compare.summary`; this module only parses, checks outputs and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _none(value: str | None) -> str | None:
    return None if value in (None, "none") else value


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
    from .._atomic import check_figure_path, check_target, save_figure
    from ..errors import recorded_warnings
    from ..storage import load, save_result

    if args.out:
        check_target(args.out, overwrite=True)
    if args.plot:
        check_figure_path(args.plot)
    a = load(args.a, lazy=True)
    b = load(args.b, lazy=True)
    with recorded_warnings() as notes:
        result = compare.overview(
            a,
            b,
            rdm=args.rdm,
            compare=args.compare,
            n_boot=args.n_boot,
            seed=args.seed,
            groupby=_none(args.groupby),
            progress=not args.json and sys.stderr.isatty(),
        )
        if args.plot:
            from ..plot.compare import plot_rdms

            ra, rb = compare.align(
                compare.rdm(a, metric=args.rdm), compare.rdm(b, metric=args.rdm), names=["a", "b"], caller="compare"
            )
            key = args.order_by
            order_by = key if key in ra.coords or key in rb.coords else None
            if order_by and key not in rb.coords:  # aligned: one set's stimulus coord orders both
                rb = rb.assign_coords({key: ("stimulus_a", ra[key].values)})
            elif order_by and key not in ra.coords:
                ra = ra.assign_coords({key: ("stimulus_a", rb[key].values)})
            save_figure(
                plot_rdms({Path(args.a).name: ra, Path(args.b).name: rb}, order_by=order_by), args.plot, dpi=120
            )
    for note in notes:
        print(f"neurosuper: warning: {note}", file=sys.stderr)
    if args.out:
        save_result(result, args.out, overwrite=True)
    s = compare.summary(result)
    print(json.dumps(s) if args.json else format_text(s, args.a, args.b))
    return 0


def register(sub) -> None:
    from ..compare import METHODS, METRICS

    p = sub.add_parser("compare", help="RSA, CKA and Procrustes between two sets (whole and per layer/area pair)")
    p.add_argument("a", help="a .nc or .zarr ResponseSet (e.g. a network's activations)")
    p.add_argument("b", help="a .nc or .zarr ResponseSet (e.g. a recording); matched to A on stimulus ids")
    p.add_argument(
        "--rdm",
        choices=[m for m in METRICS if m != "crossnobis"],
        default="correlation",
        help="RDM metric (default correlation)",
    )
    p.add_argument(
        "--compare",
        choices=list(METHODS),
        default="spearman",
        help="RDM comparison (default spearman; kendall_tau_a for tied model RDMs)",
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
    p.add_argument("--out", help="save the result (.nc or .zarr)")
    p.add_argument("--plot", help="save the two RDMs as heatmaps (.png, .pdf, .svg)")
    p.add_argument("--order-by", default="category", help="stimulus coord ordering the heatmaps (default category)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (n_stimuli, rsa, cka, cka_debiased, procrustes, pairs)",
    )
    p.set_defaults(func=run)
