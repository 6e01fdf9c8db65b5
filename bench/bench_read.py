"""The first read of a ratings file: this project's reader beside pandas' (and pyarrow's) C reader.

    .venv/bin/python bench/bench_read.py [--rows 1000000] [--repeat 5] [--first-start]

Writes a synthetic, seeded ratings file (bench_engine's: 10,000 items, 100 ratings per user)
in a temporary directory, then times, alternating them, best of --repeat:

- project: `read_interactions` without a cache, as on a first start (fingerprint, parse, codes);
- pandas: `pandas.read_csv(path)` with its defaults (the C engine), the floor;
- pyarrow: `pyarrow.csv.read_csv(path)`, when pyarrow is installed.

It prints each time and the project's ratio to each floor. --first-start also times what the
app's first start does with the file: read (with the parsed-arrays cache) and train the default
recipe, in a fresh process.

Target (issue 11): the project's first read of 1M rows within 2x pandas' C reader; a first start
on 10M ratings within 60 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import PROJECT
from bench_engine import write_synthetic


def readers() -> dict[str, Callable[[Path], object]]:
    """The readers to time, the project's first; pyarrow only when installed."""
    import pandas

    from dataset import read_interactions

    found: dict[str, Callable[[Path], object]] = {
        "project": read_interactions,
        "pandas": pandas.read_csv,
    }
    try:
        from pyarrow import csv as arrow_csv
    except ImportError:
        pass
    else:
        found["pyarrow"] = arrow_csv.read_csv
    return found


def best_times(path: Path, repeat: int) -> dict[str, float]:
    """Best of `repeat` for each reader, taking turns so that a busy moment hits all alike."""
    timed = readers()
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(repeat):
        for name, read in timed.items():
            started = time.perf_counter()
            read(path)
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def first_start(path: Path) -> dict[str, float]:
    """Read and train in a fresh process, as the app's first start does."""
    code = (
        "import json, sys, tempfile, time\n"
        "from dataset import read_interactions\n"
        "from recommender.base import EmbeddedRecommender\n"
        "started = time.perf_counter()\n"
        "data = read_interactions(sys.argv[1], cache_dir=tempfile.mkdtemp())\n"
        "read = time.perf_counter()\n"
        "EmbeddedRecommender.train(data)\n"
        "done = time.perf_counter()\n"
        "print(json.dumps({'read_s': read - started, 'train_s': done - read,\n"
        "                  'first_start_s': done - started}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=PROJECT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--first-start", action="store_true",
                        help="also time read + train in a fresh process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-read-") as folder:
        path = Path(folder) / "ratings.csv"
        write_synthetic(path, args.rows)
        print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB; best of {args.repeat}")
        best = best_times(path, args.repeat)
        for name, seconds in best.items():
            ratio = "" if name == "project" else f"  project / {name}: " \
                f"{best['project'] / seconds:.2f}x"
            print(f"{name:>8}: {seconds:6.2f} s{ratio}")
        if args.first_start:
            start = first_start(path)
            print(f"first start: read {start['read_s']:.1f} s + train {start['train_s']:.1f} s "
                  f"= {start['first_start_s']:.1f} s")


if __name__ == "__main__":
    main()
