"""``neurosuper demo --out DIR``: build the embedded demo data, run every analysis on it, write the report.

The steps are :data:`neurosuper.pipeline.DEMO_STEPS` (the same list ``neurosuper report`` runs, plus the two
data steps); each step reads the demo data from the pipeline's context, writes its files with
``ctx.path(name)`` (atomically) and records its headline numbers in ``ctx.summary[step]``. The last step writes
``DIR/report.html`` (:mod:`neurosuper.report`). At the end ``DIR/summary.json`` holds every step's summary and
``DIR/summary.md`` a few plain sentences saying what was found; the command prints where the report is and
those sentences.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..pipeline import Context
from ..report.text import headline as text_headline

__all__ = ["data_step", "headline", "run", "register", "DemoContext"]


def DemoContext(
    out: str | Path, *, brain: Any = None, network: Any = None, data: dict[str, Any] | None = None, **kwargs: Any
) -> Context:  # noqa: N802 - kept under the name of the old class
    """A :class:`~neurosuper.pipeline.Context` (kept for code that built one by this name, ``brain=``/``network=``
    included)."""
    data = dict(data or {})
    if brain is not None:
        data.setdefault("brain", brain)
    if network is not None:
        data.setdefault("network", network)
    return Context(out=Path(out), data=data, **kwargs)


def data_step(ctx) -> None:
    """Save the demo brain (simulated) and network as ResponseSet files."""
    from ..storage import save

    sets = (("brain", ctx.data["brain_simulated"]), ("network", ctx.network))
    for name, ds in sets:
        save(ds, ctx.path(f"demo_{name}.nc"), overwrite=True)
    ctx.summary["data"] = {
        name: {
            "sizes": {k: int(v) for k, v in ds["responses"].sizes.items()},
            "system": ds.attrs["system"],
            "measure": ds.attrs["measure"],
            "file": f"demo_{name}.nc",
        }
        for name, ds in sets
    }


def headline(summary: dict[str, Any]) -> list[str]:
    """A few plain sentences from the demo's summaries (see :func:`neurosuper.report.text.headline`)."""
    return text_headline(summary, labels=("brain", "network"), demo=True)


def _check_out(out: Path) -> None:
    from ..errors import FormatError, fail

    if out.exists() and not out.is_dir():
        raise fail(
            f"--out {str(out)!r}",
            "an existing file",
            "a folder (new, or an existing one to refill)",
            f"--out {out.name}-demo",
            FormatError,
        )


def run(args: argparse.Namespace) -> int:
    from .. import datasets
    from .._atomic import write_text
    from ..pipeline import DEMO_STEPS, run_steps
    from ..report import REPORT_FILE

    out = Path(args.out)
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    start = time.perf_counter()
    if progress:
        print("building the demo data (cached after the first run) ...", file=sys.stderr)
    ctx = Context(
        out=out,
        progress=progress,
        demo=True,
        data={
            "brain_simulated": datasets.demo_brain(progress=progress),
            "network": datasets.demo_network(progress=progress),
        },
    )
    ctx.settings["report"] = {
        "title": "neurosuper demo: a simulated V1 population and a network trained on the same image patches"
    }
    ctx.summary["sets"] = {
        "brain": "the demo brain, read back from demo_brain.nwb",
        "network": "the demo network (hidden layers of an MLP autoencoder)",
    }
    run_steps(ctx, DEMO_STEPS)
    ctx.summary["seconds"] = round(time.perf_counter() - start, 1)
    sentences = headline(ctx.summary)
    ctx.summary["headline"] = sentences
    ctx.write_json("summary.json", ctx.summary)
    write_text(
        out / "summary.md",
        "# neurosuper demo: what it found\n\n" + "".join(f"- {s}\n" for s in sentences),
        overwrite=True,
    )
    report = out / REPORT_FILE
    where = f"the report is {report}" if report.exists() else "no report (its step was skipped)"
    print(f"neurosuper demo: {where}; results in {out}/ (summary.json lists them, summary.md says what they show)")
    for name, reason in ctx.skipped.items():
        print(f"  skipped {name}: {reason}")
    for sentence in sentences:
        print(f"  {sentence}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the demo data, run every analysis on it and write the HTML report")
    p.add_argument("--out", default="demo-out", help="folder for the results and report.html (default: demo-out)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
