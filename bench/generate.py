"""Dataset generation: rows per second and peak memory, for a small and a ten times larger row target.

Each case runs in a fresh Python process so that its peak resident memory (``ru_maxrss``) is its own: ``self`` is the
process that writes the Parquet files, ``workers`` the largest worker process. Memory must not grow with the row
target, since rows are streamed to row groups: the writer holds one row group being filled (131,072 rows) and the
replications in flight. A target below one row group never fills that buffer, so the small case sits a little
below the plateau that every larger target reaches (add ``--rows 2000000`` to see the plateau).

    python bench/generate.py [--scenario electronics_line] [--rows 100000 1000000] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(scenario_name: str, rows: int, workers: int | None) -> dict[str, float]:
    """One generation in this process; peak memory in MiB."""
    import scenarios
    from sim.dataset import generate

    scenario = scenarios.load(scenario_name)
    kib = 1024  # ru_maxrss is in KiB on Linux
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib  # after the imports, before any work
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        card = generate(scenario, rows, Path(out), workers=workers)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    return {
        "rows": card.rows["operations"],
        "job_rows": card.rows["jobs"],
        "replications": card.replications,
        "seconds": seconds,
        "rows_per_s": card.rows["operations"] / seconds,
        "baseline_mib": baseline,
        "peak_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
        "peak_workers_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
        "bytes_per_row": size / card.rows["operations"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="electronics_line")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.scenario, args.rows[0], args.workers)))
        return
    results = []
    for rows in args.rows:
        command = [sys.executable, __file__, "--child", "--scenario", args.scenario, "--rows", str(rows)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"shopfloor generate {args.scenario}, workers={args.workers or 'all cores'}")
    print(
        f"{'rows':>10} {'reps':>5} {'seconds':>8} {'rows/s':>9} {'imports MiB':>12} {'peak self MiB':>14} "
        f"{'above imports':>14} {'peak worker MiB':>16} {'bytes/row':>9}"
    )
    for r in results:
        print(
            f"{r['rows']:>10,} {r['replications']:>5} {r['seconds']:>8.1f} {r['rows_per_s']:>9,.0f} "
            f"{r['baseline_mib']:>12.0f} {r['peak_self_mib']:>14.0f} {r['peak_self_mib'] - r['baseline_mib']:>14.0f} "
            f"{r['peak_workers_mib']:>16.0f} {r['bytes_per_row']:>9.1f}"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]

        def ratio(key: str) -> float:
            return large[key] / small[key] if small[key] else float("nan")

        print(
            f"ratio at {large['rows'] / small['rows']:.0f}x the rows: peak self {ratio('peak_self_mib'):.2f}x, "
            f"peak worker {ratio('peak_workers_mib'):.2f}x, rows/s {ratio('rows_per_s'):.2f}x"
        )


if __name__ == "__main__":
    main()
