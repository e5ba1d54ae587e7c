"""`make bench`: run every benchmark module, print BENCH lines, write .omnicx/bench/.

Each module under bench/ named `*_bench.py` exposes `main()`; they run in name order, one at a
time, so they do not compete for the two cores.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from bench.common import write_results

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(p.stem for p in BENCH_DIR.glob("*_bench.py"))
    if wanted:
        modules = [m for m in modules if m in wanted or m.removesuffix("_bench") in wanted]
    for name in modules:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        importlib.import_module(f"bench.{name}").main()
        print(f"== {name} done in {time.monotonic() - t0:.0f}s", flush=True)
    out = write_results(Path(".omnicx") / "bench")
    print(f"results: {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
