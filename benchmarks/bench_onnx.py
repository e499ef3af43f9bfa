"""Inference speed: onnxruntime running a converted skae model against skae's own ``transform``, in one process.

The MNIST-sized network 784-1000-500-250-30 (weights from one short epoch: speed does not depend on
them). Throughput at batch 10k rows and latency for one row, medians of repeats, for skae (torch on
the CPU) and for the ONNX model of the same fitted estimator and of a StandardScaler → autoencoder
pipeline, with onnxruntime's default threads and with one thread. Targets (issue 34): onnxruntime at
least as fast as skae at batch 10k, and at most 0.1 ms for one row.

    python benchmarks/bench_onnx.py [--mnist PATH] [--repeats 7] [--latency-repeats 500]

MNIST comes from ``--mnist`` / ``$SKAE_MNIST`` / ``../shared/data/mnist.npz``; random rows in [0, 1]
stand in when it is absent. The entry is appended to the dated log, benchmarks/log/RESULTS-log.md
(``--no-record``: print only); benchmarks/RESULTS.md holds the latest.
"""

import datetime
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnxruntime as ort  # noqa: E402
from _common import DEFAULT_MNIST, RESULTS, ROOT, git_rev, machine, parser, table  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skae import Autoencoder  # noqa: E402
from skae.onnx import to_onnx  # noqa: E402

BATCH = 10_000
LATENCY_TARGET_MS = 0.1


def rows(path):
    """10k MNIST rows in [0, 1] (or random ones), and where they came from."""
    path = Path(path or os.environ.get("SKAE_MNIST") or DEFAULT_MNIST)
    if path.exists():
        with np.load(path) as d:
            return d["x_train"].reshape(-1, 784)[:BATCH].astype(np.float32) / 255.0, f"MNIST ({path.name})"
    return np.random.RandomState(0).rand(BATCH, 784).astype(np.float32), "random rows (no MNIST file)"


def medians(fn, repeats):
    """Median wall time and median CPU time (all the process's threads) of ``fn()``, after one warm-up.

    On a shared machine the wall time includes waits for a free core; the CPU time does not (but it
    counts the spinning of idle worker threads)."""
    fn()  # first-call allocations, thread pools
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def session(model, threads=None):
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats of the 10k-row batch")
    p.add_argument("--latency-repeats", type=int, default=500, help="repeats of the one-row call")
    args = p.parse_args()

    X, source = rows(args.mnist)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = Autoencoder(n_components=30, hidden_layer_sizes=(1000, 500, 250), max_iter=1, random_state=0)
        ae.fit(X[:2000])
        pipe = make_pipeline(StandardScaler(), Autoencoder(**ae.get_params())).fit(X[:2000])

    start = time.perf_counter()
    model = to_onnx(ae, X[:1])
    convert_s = time.perf_counter() - start
    pipe_model = to_onnx(pipe, X[:1])
    one = X[:1]

    contenders = [
        ("skae transform (torch)", ae.transform),
        ("skae pipeline (sklearn + torch)", pipe.transform),
    ]
    for name, m in [("ONNX autoencoder", model), ("ONNX pipeline", pipe_model)]:
        for threads, label in [(None, "default threads"), (1, "1 thread")]:
            s = session(m, threads)
            contenders.append(
                (f"{name}, onnxruntime {label}", lambda x, s=s: s.run(None, {"X": x})[0])
            )
    error = float(np.abs(session(model).run(None, {"X": X})[0] - ae.transform(X)).max())

    results = []
    for name, fn in contenders:
        batch_s, _ = medians(lambda fn=fn: fn(X), args.repeats)
        one_s, one_cpu = medians(lambda fn=fn: fn(one), args.latency_repeats)
        results.append((name, BATCH / batch_s, one_s * 1e3, one_cpu * 1e3))
    skae_throughput = results[0][1]
    best_onnx = max(r[1] for r in results[2:4])
    best_latency = min(r[2] for r in results[2:4])
    rows_out = [
        [name, f"{thr:,.0f}", f"{thr / skae_throughput:.2f}", f"{lat:.4f}", f"{cpu:.4f}"]
        for name, thr, lat, cpu in results
    ]
    body = table(rows_out, ["contender", "rows/s at batch 10k", "vs skae", "one row, ms", "one row, CPU ms"])
    hit_thr = best_onnx >= skae_throughput
    hit_lat = best_latency <= LATENCY_TARGET_MS
    verdict = (
        f"Targets: throughput at batch 10k ≥ skae's — {'HIT' if hit_thr else 'MISS'} "
        f"({best_onnx / skae_throughput:.2f}×); one row ≤ {LATENCY_TARGET_MS} ms — "
        f"{'HIT' if hit_lat else 'MISS'} ({best_latency:.4f} ms)."
    )
    ort_threads = session(model).get_session_options().intra_op_num_threads
    stamp = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}"
    command = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    entry = (
        f"## ONNX inference, 784-1000-500-250-30 — {stamp} UTC\n\n"
        f"- machine: {machine()}; onnxruntime {ort.__version__}, intra-op threads "
        f"{ort_threads or 'default (one per physical core)'}; "
        f"load average at the start {os.getloadavg()[0]:.1f}\n"
        f"- command: `{command}`\n- commit: {git_rev()}\n"
        f"- data: {source}; medians of {args.repeats} batches of 10k rows and {args.latency_repeats} one-row calls "
        f"(after one warm-up call each); conversion (torch.onnx.export + skl2onnx) {convert_s:.2f} s; largest "
        f"|onnxruntime − skae| on the 10k codes {error:.2e}\n\n"
        f"{body}\n\n{verdict}\n"
    )
    print(entry)
    if not args.no_record:
        with open(RESULTS, "a") as f:
            f.write("\n" + entry)


if __name__ == "__main__":
    main()
