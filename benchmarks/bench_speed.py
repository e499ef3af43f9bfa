"""skae's speed in one table: training overhead, bfloat16, inference throughput, grid search n_jobs.

1. Training epoch time, 784-64-8 at batch 64 and 784-1000-500-250-30 at batch 256 (fp32 and bf16), against a
   minimal torch loop, skorch and scikit-learn's MLPRegressor, alternating, medians (bench_overhead.py's code).
2. Inference: transform and score_samples rows/s on MNIST for both networks, against PCA.transform and the
   minimal torch forward pass, with the peak anonymous-memory growth for 10k and 60k rows (batched: flat).
3. GridSearchCV(Pipeline(MinMaxScaler -> SparseAutoencoder -> LogisticRegression)), 6 settings x 3-fold CV on
   digits, n_jobs=2 vs n_jobs=1 wall time.

    python benchmarks/bench_speed.py [--rows 60000] [--repeats 3] [--skip-training]
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402
from bench_memory import PeakAnon  # noqa: E402
from bench_overhead import CONFIGS, raw_torch_model, time_epochs  # noqa: E402

from skae import Autoencoder  # noqa: E402


def training(X, repeats):
    rows = []
    for name, hidden, k, bs, target in CONFIGS:
        large = hidden[0] == 1000
        times = time_epochs(X, hidden, k, bs, repeats, bf16=large)
        ref = np.median(times["raw torch fp32"])
        mlp = np.median(times["sklearn MLPRegressor"]) if "sklearn MLPRegressor" in times else None
        for cname, ctimes in times.items():
            med = np.median(ctimes)
            goal = ""
            if cname == "skae":
                goal = f"≤ {target:.2f}× raw: {'met' if med / ref <= target else 'MISSED'}"
                if not large and mlp is not None:
                    goal += f"; ≤ MLPRegressor: {'met' if med <= mlp else 'MISSED'} ({med / mlp:.2f}×)"
            if cname == "skae bf16":
                goal = f"≤ 0.50× raw fp32: {'met' if med / ref <= 0.5 else 'MISSED'}"
            rows.append([f"train {name}", cname, f"{med:.3f} s/epoch", f"{med / ref:.3f}", goal])
    return rows


def inference(X, repeats):
    from sklearn.decomposition import PCA

    rows = []
    for name, hidden, k, bs, _ in CONFIGS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = Autoencoder(n_components=k, hidden_layer_sizes=hidden, batch_size=bs, random_state=0)
            est.partial_fit(X[:2048])
        torch.manual_seed(0)
        raw = raw_torch_model(hidden, k).eval()
        Xt = torch.from_numpy(X)
        pca = PCA(k, random_state=0).fit(X[:10000])

        def raw_forward(raw=raw, Xt=Xt):
            with torch.inference_mode():
                for i in range(0, len(Xt), 2048):
                    raw(Xt[i : i + 2048])

        cases = [
            ("skae transform", lambda est=est: est.transform(X)),
            ("skae score_samples", lambda est=est: est.score_samples(X)),
            ("raw torch forward (enc+dec)", raw_forward),
            ("PCA.transform", lambda pca=pca: pca.transform(X)),
        ]
        for label, fn in cases:
            fn()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            med = float(np.median(times))
            mem = ""
            if label.startswith("skae"):
                growth = []
                for n in (10000, len(X)):
                    with PeakAnon() as peak:
                        (est.transform if "transform" in label else est.score_samples)(X[:n])
                    growth.append(f"{peak.growth_mb:.0f} MB @ {n // 1000}k rows")
                mem = "peak anon growth " + ", ".join(growth)
            rows.append([f"infer {name.split(',')[0]}", label, f"{len(X) / med:,.0f} rows/s", "", mem])
    return rows


def grid_search(repeats):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    import skae

    if not hasattr(skae, "SparseAutoencoder"):
        return [["grid search", "SparseAutoencoder not available", "", "", ""]]
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([
        ("scale", MinMaxScaler()),
        # 100 full epochs per fit (tol=0): enough work that process start-up does not dominate.
        ("ae", skae.SparseAutoencoder(n_components=32, hidden_layer_sizes=(128,), max_iter=100, tol=0,
                                      batch_size=64, random_state=0)),
        ("clf", LogisticRegression(max_iter=500)),
    ])
    grid = {"ae__sparsity_weight": [1e-4, 1e-3, 1e-2], "clf__C": [0.1, 1.0]}
    times = {1: [], 2: []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            for n_jobs in (1, 2):
                start = time.perf_counter()
                GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)
                times[n_jobs].append(time.perf_counter() - start)
    t1, t2 = np.median(times[1]), np.median(times[2])
    return [["grid search 6 settings × 3-fold, digits", "n_jobs=1", f"{t1:.1f} s", "1.000", ""],
            ["grid search 6 settings × 3-fold, digits", "n_jobs=2", f"{t2:.1f} s", f"{t2 / t1:.3f}",
             f"≤ 0.65: {'met' if t2 / t1 <= 0.65 else 'MISSED'}"]]


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--only-grid-search", action="store_true")
    args = p.parse_args()
    X = load_mnist(args.mnist, n_train=args.rows)[0]
    rows = []
    if not (args.skip_training or args.only_grid_search):
        rows += training(X, args.repeats)
        print(table(rows, ["what", "contender", "median", "ratio vs raw fp32", "target"]), flush=True)
    if not args.only_grid_search:
        rows += inference(X, args.repeats)
    rows += grid_search(args.repeats)
    body = table(rows, ["what", "contender", "median", "ratio vs raw fp32", "target / memory"])
    record("bench_speed: training, inference and grid-search speed", body, args,
           notes=f"{len(X)} MNIST rows; alternating contenders; medians of {args.repeats}")


if __name__ == "__main__":
    main()
