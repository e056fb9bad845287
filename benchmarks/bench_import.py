"""Cost of ``import eq1_network; get_protocol("loopback")`` in a fresh process.

Each run starts a new interpreter, so entry-point discovery is measured cold. The
baseline is the same interpreter importing nothing (``python -c pass``); the script
prints the median of both and the difference. Byte-code caching is on (a warm-up run
writes the caches), as for an installed application.

Usage: ``python benchmarks/bench_import.py [--runs N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CODE = (
    "import time; t = time.perf_counter(); import eq1_network; "
    "eq1_network.get_protocol('loopback'); print(time.perf_counter() - t)"
)


# Byte-code caching on, as in an installed application (an environment may turn it off).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, timeout=60, env=ENV)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    inside, total, bare = [], [], []
    wall([sys.executable, "-c", CODE])  # warm-up: writes the byte-code caches
    for _ in range(runs):
        bare.append(wall([sys.executable, "-c", "pass"]))
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CODE],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
            env=ENV,
        ).stdout
        total.append(time.perf_counter() - started)
        inside.append(float(out))
    med = statistics.median
    print(f"runs: {runs}")
    print(f"import eq1_network + get_protocol('loopback'), in-process: {med(inside) * 1e3:.1f} ms")
    print(f"whole process: {med(total) * 1e3:.1f} ms; bare interpreter: {med(bare) * 1e3:.1f} ms")
    print(f"added by eq1_network: {(med(total) - med(bare)) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
