"""``neurosuper demo --out DIR``: build the embedded demo data and run every analysis on it.

The steps are :data:`neurosuper.pipeline.DEMO_STEPS` (the same list the report runs); each step reads the demo
data from the pipeline's context, writes its files with ``ctx.path(name)`` (atomically) and records its
headline numbers in ``ctx.summary[step]``. At the end ``DIR/summary.json`` holds every step's summary and
``DIR/summary.md`` a few plain sentences saying what was found.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

#: Kept for code that built a context by this name.
from ..pipeline import Context as DemoContext  # noqa: F401


def data_step(ctx) -> None:
    """Save the demo brain (simulated) and network as ResponseSet files."""
    from ..storage import save

    sets = (("brain", ctx.data["brain_simulated"]), ("network", ctx.network))
    for name, ds in sets:
        save(ds, ctx.path(f"demo_{name}.nc"), overwrite=True)
    ctx.summary["data"] = {
        name: {"sizes": {k: int(v) for k, v in ds.sizes.items()}, "system": ds.attrs["system"],
               "measure": ds.attrs["measure"], "file": f"demo_{name}.nc"}
        for name, ds in sets
    }


def _fmt(x: Any, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if isinstance(x, int | float) else str(x)


def headline(summary: dict[str, Any]) -> list[str]:
    """A few plain sentences from the steps' summaries (what the demo found); missing parts are skipped."""
    lines: list[str] = []
    spectrum = summary.get("spectrum", {})
    for name in ("brain", "network"):
        entry = spectrum.get(name, {})
        if "alpha" not in entry or entry["alpha"] is None:
            continue
        ci = entry.get("alpha_ci")
        text = f"The demo {name}'s covariance spectrum decays as a power law with α = {_fmt(entry['alpha'])}"
        if ci and None not in ci:
            text += f" (95% CI {_fmt(ci[0])}–{_fmt(ci[1])})"
        if entry.get("r2") is not None:
            text += f", fit r² = {_fmt(entry['r2'])}"
        if entry.get("ranks"):
            text += f" over ranks {entry['ranks'][0]}–{entry['ranks'][1]}"
        if name == "brain" and entry.get("alpha_true") is not None:
            text += f"; the simulation's generating α is {_fmt(entry['alpha_true'])}"
        lines.append(text + ".")
        if entry.get("smooth") is not None:
            lines.append(f"With α {'above' if entry['smooth'] else 'at or below'} 1 + 2/d, the {name}'s code is "
                         f"{'smooth (differentiable)' if entry['smooth'] else 'not smooth'} "
                         "(Stringer et al. 2019).")
    interpret = summary.get("interpret", {})
    for name in ("brain", "network"):
        entry = interpret.get(name, {})
        share = entry.get("fraction_above_null")
        if share is not None:
            lines.append(f"{round(100 * share)}% of the {name}'s units are more interpretable than the null "
                         f"(II above the {entry.get('null', 'null')}'s 95th percentile; mean II "
                         f"{_fmt(entry.get('mean_ii'))}, similarity {entry.get('similarity', '?')}).")
    for key in ("directions", "capacity", "compare", "toy"):
        text = summary.get(key, {}).get("headline") if isinstance(summary.get(key), dict) else None
        if text:
            lines.extend([text] if isinstance(text, str) else list(text))
    return lines


def run(args: argparse.Namespace) -> int:
    from .. import datasets
    from .._atomic import write_text
    from ..pipeline import DEMO_STEPS, Context, run_steps

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    start = time.perf_counter()
    if progress:
        print("building the demo data (cached after the first run) ...", file=sys.stderr)
    ctx = Context(out=out, progress=progress,
                  data={"brain_simulated": datasets.demo_brain(progress=progress),
                        "network": datasets.demo_network(progress=progress)})
    run_steps(ctx, DEMO_STEPS)
    ctx.summary["seconds"] = round(time.perf_counter() - start, 1)
    sentences = headline(ctx.summary)
    ctx.summary["headline"] = sentences
    ctx.write_json("summary.json", ctx.summary)
    write_text(out / "summary.md", "# neurosuper demo: what it found\n\n" + "".join(f"- {s}\n" for s in sentences),
               overwrite=True)
    print(f"neurosuper demo: results in {out}/ (summary.json lists them; summary.md says what they show)")
    for sentence in sentences:
        print(f"  {sentence}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the demo data and run every analysis on it")
    p.add_argument("--out", default="demo-out", help="folder for the results (default: demo-out)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)

