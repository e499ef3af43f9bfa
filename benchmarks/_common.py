"""Shared helpers for the benchmark scripts: MNIST loading, machine facts, RESULTS.md entries.

Benchmarks are run by hand (``python benchmarks/bench_x.py``), never by the test suite.
"""

import argparse
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Every run is appended to the dated log; benchmarks/RESULTS.md holds the latest figures of each script.
RESULTS = ROOT / "benchmarks" / "log" / "RESULTS-log.md"
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"

# Benchmarks measure this checkout, installed or not.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def mnist_path(cli_value=None):
    """``--mnist`` if given, else ``$SKAE_MNIST``, else ``../shared/data/mnist.npz``."""
    path = Path(cli_value or os.environ.get("SKAE_MNIST") or DEFAULT_MNIST)
    if not path.exists():
        sys.exit(f"MNIST not found at {path}: pass --mnist PATH or set SKAE_MNIST.")
    return path


def load_mnist(path=None, n_train=None, n_test=None):
    """MNIST as float32 in [0, 1], flattened to 784 columns: ``X_train, y_train, X_test, y_test``."""
    with np.load(mnist_path(path)) as d:
        X_train = d["x_train"].reshape(-1, 784)[:n_train].astype(np.float32) / 255.0
        X_test = d["x_test"].reshape(-1, 784)[:n_test].astype(np.float32) / 255.0
        y_train, y_test = d["y_train"][:n_train], d["y_test"][:n_test]
    return X_train, y_train, X_test, y_test


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--mnist", help="path to mnist.npz (default: $SKAE_MNIST or ../shared/data/mnist.npz)")
    p.add_argument("--no-record", action="store_true", help="do not append to benchmarks/log/RESULTS-log.md")
    return p


def machine():
    """One line of machine facts that matter for the timings."""
    import torch

    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, flags: {' '.join(wanted) or 'n/a'}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads; Python {platform.python_version()}"
    )


def git_rev():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def median_time(fn, repeats=3):
    """Median wall time of ``fn()`` over ``repeats`` calls, and the list of times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def table(rows, headers):
    """A GitHub-markdown table as a string."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def record(title, body, args=None, notes=""):
    """Print the entry and append it, dated, to benchmarks/log/RESULTS-log.md (unless --no-record)."""
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    entry = (
        f"\n## {title} — {stamp}\n\n"
        f"- machine: {machine()}\n- command: `{command}`\n- commit: {git_rev()}\n"
        + (f"- notes: {notes}\n" if notes else "")
        + f"\n{body}\n"
    )
    print(entry)
    if args is not None and getattr(args, "no_record", False):
        return
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEntries are appended by the scripts in this folder.\n")
    with open(RESULTS, "a") as f:
        f.write(entry)
