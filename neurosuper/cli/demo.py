"""``neurosuper demo --out DIR``: build the embedded demo data and run every analysis on it.

Every command module of :mod:`neurosuper.cli` that defines ``demo(ctx)`` adds a step; a step reads
``ctx.brain`` / ``ctx.network``, writes its files with ``ctx.path(name)`` (atomically, via ``save_result``
or ``ctx.write_json``) and records headline numbers in ``ctx.summary[step]``. The summary is written last
to ``DIR/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoContext:
    out: Path
    brain: Any
    network: Any
    progress: bool = True
    summary: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.out / name

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as JSON atomically (temporary file, then rename)."""
        target = self.path(name)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(obj, indent=2, default=str))
        os.replace(tmp, target)
        return target

    def log(self, message: str) -> None:
        if self.progress:
            print(message, file=sys.stderr)


def demo_data_step(ctx: DemoContext) -> None:
    from ..storage import save

    for name, ds in (("brain", ctx.brain), ("network", ctx.network)):
        save(ds, ctx.path(f"demo_{name}.nc"), overwrite=True)
    ctx.summary["data"] = {
        name: {"sizes": {k: int(v) for k, v in ds.sizes.items()}, "system": ds.attrs["system"],
               "measure": ds.attrs["measure"], "file": f"demo_{name}.nc"}
        for name, ds in (("brain", ctx.brain), ("network", ctx.network))
    }


def run(args: argparse.Namespace) -> int:
    from .. import datasets
    from . import _modules

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    start = time.perf_counter()
    if progress:
        print("building the demo data (cached after the first run) ...", file=sys.stderr)
    ctx = DemoContext(out=out, brain=datasets.demo_brain(progress=progress),
                      network=datasets.demo_network(progress=progress), progress=progress)
    steps = [demo_data_step] + [m.demo for m in _modules() if hasattr(m, "demo")]
    timings = {}
    for step in steps:
        name = step.__module__.rsplit(".", 1)[-1]
        ctx.log(f"- {name}")
        t0 = time.perf_counter()
        step(ctx)
        timings[name] = round(time.perf_counter() - t0, 1)
    ctx.summary["step_seconds"] = timings
    ctx.summary["seconds"] = round(time.perf_counter() - start, 1)
    ctx.write_json("summary.json", ctx.summary)
    print(f"neurosuper demo: results in {out}/ (summary.json lists them)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the demo data and run every analysis on it")
    p.add_argument("--out", default="demo-out", help="folder for the results (default: demo-out)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
