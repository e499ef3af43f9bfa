"""Training time when the cores are shared: skae against a raw torch loop, quiet and beside a load.

The setting of issue 37 (item 8): the digits (1797 x 64), a 64-128-32 autoencoder, Adam at 1e-3,
the batch skae's "auto" picks (56 rows), ``--epochs`` epochs, torch's intra-op threads at
``--threads``. Two phases, each a median of ``--repeats`` alternating fits: "quiet" (whatever else
the machine runs: its load average is printed beside), and "loaded", beside one process this
script starts that multiplies 512 x 512 matrices on ``--threads`` threads of its own. A row for the
raw loop on one thread (as ``OMP_NUM_THREADS=1`` would run it) shows what oversubscription costs.

The raw loop is the shortest correct one a torch user writes (``nn.Sequential``, ``F.mse_loss``,
``torch.optim.Adam``); skae's ``Autoencoder.fit`` is timed whole (validation and conditioning
included), with ``n_iter_no_change`` high enough that it runs every epoch.

    python benchmarks/bench_contention.py [--epochs 60] [--repeats 3] [--threads 2] [--no-record]
"""

import os
import signal
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, record, table  # noqa: E402

from skae import Autoencoder  # noqa: E402
from skae._threads import intra_op_threads  # noqa: E402

_LOAD = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
a, b = torch.randn(512, 512), torch.randn(512, 512)
while True:
    a @ b
"""


def digits():
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


def raw_loop(X, epochs, batch_size, threads=None):
    """The reference loop; ``threads=1`` runs it on one intra-op thread (this thread only)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.Linear(32, 128), nn.ReLU(),
                          nn.Linear(128, 64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.from_numpy(X)
    start = time.perf_counter()
    with intra_op_threads(threads):
        for _ in range(epochs):
            perm = torch.randperm(Xt.shape[0])
            for i in range(0, Xt.shape[0], batch_size):
                xb = Xt[perm[i : i + batch_size]]
                loss = F.mse_loss(model(xb), xb)
                opt.zero_grad()
                loss.backward()
                opt.step()
    return time.perf_counter() - start


def skae_fit(X, epochs):
    est = Autoencoder(n_components=32, hidden_layer_sizes=(128,), max_iter=epochs, n_iter_no_change=epochs + 1,
                      random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    assert est.n_iter_ == epochs
    return time.perf_counter() - start


def phase(contenders, repeats):
    """Median wall time of each contender, alternating, and the load average around them."""
    times = {name: [] for name in contenders}
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(fn())
    return {name: statistics.median(t) for name, t in times.items()}, (load_before, os.getloadavg()[0])


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (and the load's)")
    p.add_argument("--phases", default="quiet,loaded", help="comma-separated: quiet, loaded")
    args = p.parse_args()
    # A SIGTERM (timeout) unwinds like Ctrl-C, so that the load process is killed with this one.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    torch.set_num_threads(args.threads)
    X = digits()
    batch_size = min(256, max(16, X.shape[0] // 32))  # skae's "auto"
    contenders = {
        "raw torch loop": lambda: raw_loop(X, args.epochs, batch_size),
        "skae Autoencoder.fit": lambda: skae_fit(X, args.epochs),
        "raw torch loop, 1 thread": lambda: raw_loop(X, args.epochs, batch_size, threads=1),
    }
    raw_loop(X, 1, batch_size)  # warm-up: first-call costs out of the timings
    skae_fit(X, 1)

    rows, loads = [], []
    for name in args.phases.split(","):
        load = None
        if name == "loaded":
            load = subprocess.Popen([sys.executable, "-c", _LOAD, str(args.threads)])
            time.sleep(1.0)
        try:
            medians, around = phase(contenders, args.repeats)
        finally:
            if load is not None:
                load.kill()
                load.wait()
        ref = medians["raw torch loop"]
        rows += [[name, who, f"{t:.2f}", f"{t / ref:.2f}"] for who, t in medians.items()]
        loads.append(f"{name}: load average {around[0]:.2f} before, {around[1]:.2f} after")
        print(f"{name}: " + ", ".join(f"{who} {t:.2f} s" for who, t in medians.items()), flush=True)
    head = [f"phase ({args.epochs} epochs, {args.threads} torch threads)", "contender", "wall s (median)",
            "/ raw loop"]
    notes = (f"digits 1797x64, 64-128-32, batch {batch_size}, Adam 1e-3; medians of {args.repeats} alternating "
             f"fits; the load: one process, 512x512 matmuls on {args.threads} threads; " + "; ".join(loads)
             + f"; /proc/cpuinfo flags: {' '.join(cpu_flags())}")
    record("bench_contention: skae and a raw torch loop, quiet and beside a load", table(rows, head), args, notes)


if __name__ == "__main__":
    main()
