"""Semantic hashing on MNIST: retrieval quality of binary codes, and the speed of Hamming search.

Database: the 60,000 MNIST training images; queries: the 10,000 test images; a database image is
relevant to a query when it has the same label. Each method encodes both into B-bit codes (B = 16, 32,
64) and ranks the whole database by Hamming distance to each query; ties are broken by database index
(a stable sort of the distances, the order HammingIndex returns). Reported: mean average precision
over the full 60,000-item ranking (mAP) and the precision of the top 100 (P@100).

Methods, all written here except HashingAutoencoder and all fitted on the database images only:

- LSH: signs of random Gaussian projections of the centred pixels (Charikar 2002);
- PCA: signs of the top-B principal components;
- PCA-ITQ: PCA, then the rotation minimizing the quantization error ||sign(VR) - VR||_F, 50 alternating
  steps (Gong & Lazebnik 2011);
- HashingAutoencoder (skae), at its own stopping defaults, for a fixed budget of ``--epochs`` epochs.

HashingAutoencoder's noise level and hidden layers are chosen on a validation split of the database,
never on the test queries: ``--val-size`` database images (a seeded draw) become validation queries
against the remaining database images, every candidate of ``--val-noise-levels`` x ``--val-hidden`` is
fitted on those remaining images and ranked by its validation mAP (PCA-ITQ is scored there too, for
scale), and the best candidate at each bit length is refitted on the whole database and scored on the
test queries. ``--val-size 0`` skips the selection and uses the default noise level with ``--hidden``.

Then the search: queries per second of HammingIndex against 1,000,000 random 64-bit codes, and on MNIST
(60,000 codes of 64 bits) beside exact float k-NN on the 784 pixels and scikit-learn's brute-force
Hamming search on the same codes.

Usage: python benchmarks/bench_hashing.py [--bits 16 32 64] [--epochs 20] [--threads 1] [--ablation]
"""

import os
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, machine, parser, record, table
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from skae import HammingIndex, HashingAutoencoder

# Published MNIST mAP (Liong et al., "Deep Hashing", CVPR 2015, Table 2 as commonly quoted; unverified).
PUBLISHED = {
    "LSH": (20.9, 25.8, 31.7),
    "PCA-ITQ": (41.2, 43.8, 45.4),
    "Deep Hashing": (43.1, 45.0, 46.7),
}


# ----------------------------------------------------------------------------------------- baselines


def lsh(X_db, n_bits, seed=0):
    mean = X_db.mean(axis=0)
    planes = np.random.RandomState(seed).normal(size=(X_db.shape[1], n_bits))
    return lambda X: (X - mean) @ planes > 0


def pca_projection(X_db, n_bits):
    mean = X_db.mean(axis=0, dtype=np.float64)
    Xc = X_db - mean
    _, vectors = np.linalg.eigh(Xc.T @ Xc)
    return mean, vectors[:, ::-1][:, :n_bits]  # the top n_bits principal directions


def pca_sign(X_db, n_bits):
    mean, W = pca_projection(X_db, n_bits)
    return lambda X: (X - mean) @ W > 0


def pca_itq(X_db, n_bits, n_iter=50, seed=0):
    """Iterative quantization: alternate B = sign(VR) and R = the orthogonal Procrustes solution."""
    mean, W = pca_projection(X_db, n_bits)
    V = (X_db - mean) @ W
    R, _ = np.linalg.qr(np.random.RandomState(seed).normal(size=(n_bits, n_bits)))
    for _ in range(n_iter):
        B = np.where(V @ R >= 0, 1.0, -1.0)
        U, _, Wt = np.linalg.svd(B.T @ V)  # min ||B - VR||_F over orthogonal R: R = Wt' U'
        R = Wt.T @ U.T
    return lambda X: (X - mean) @ W @ R >= 0


# ---------------------------------------------------------------------------------------- evaluation


def hamming_distances(queries, database):
    """(n_queries, n_database) uint8 Hamming distances of codes of at most 64 bits."""
    def word(codes):
        packed = np.zeros((len(codes), 8), dtype=np.uint8)
        packed[:, : -(-codes.shape[1] // 8)] = np.packbits(codes.astype(bool), axis=1)
        return packed.view(np.uint64).ravel()

    return np.bitwise_count(word(queries)[:, None] ^ word(database)[None, :])


def retrieval_scores(codes_q, codes_db, y_q, y_db, top=100, chunk=250):
    """mAP over the full ranking and precision of the top ``top``, in percent."""
    n_relevant = np.bincount(y_db, minlength=y_q.max() + 1)[y_q]
    rank = np.arange(1, len(y_db) + 1, dtype=np.float64)
    ap = np.empty(len(y_q))
    p_top = np.empty(len(y_q))
    for s in range(0, len(y_q), chunk):
        D = hamming_distances(codes_q[s : s + chunk], codes_db)
        order = np.argsort(D, axis=1, kind="stable")  # equal distances: lower database index first
        relevant = y_db[order] == y_q[s : s + chunk, None]
        hits = np.cumsum(relevant, axis=1)
        ap[s : s + chunk] = np.where(relevant, hits / rank, 0.0).sum(axis=1) / n_relevant[s : s + chunk]
        p_top[s : s + chunk] = hits[:, top - 1] / top
    return 100 * ap.mean(), 100 * p_top.mean()


# -------------------------------------------------------------------------------------------- search


def queries_per_second(fn, n_queries, repeats=3):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_queries / best


def search_speed(hasher, X_db, X_q, n_random, n_queries, k):
    rows = []
    rng = np.random.RandomState(0)
    big = rng.randint(0, 256, size=(n_random, 8), dtype=np.uint8)
    big_q = rng.randint(0, 256, size=(n_queries, 8), dtype=np.uint8)
    index = HammingIndex(packed=True).fit(big)
    for kk in (1, k):
        qps = queries_per_second(lambda kk=kk: index.kneighbors(big_q, n_neighbors=kk), n_queries)
        rows.append([f"HammingIndex, {n_random:,} random 64-bit codes", f"k={kk}", f"{qps:,.0f}",
                     f"{big.nbytes / 2**20:.0f} MB"])

    codes_db, Xq = hasher.transform_packed(X_db), X_q[:n_queries]
    index = HammingIndex(n_neighbors=k, packed=True).fit(codes_db)
    qps = queries_per_second(lambda: index.kneighbors(hasher.transform_packed(Xq)), n_queries)
    rows.append([f"HashingAutoencoder + HammingIndex, MNIST {len(X_db):,} x 64 bits (encoding included)",
                 f"k={k}", f"{qps:,.0f}", f"{codes_db.nbytes / 2**20:.1f} MB"])
    codes_q = hasher.transform_packed(Xq)
    qps = queries_per_second(lambda: index.kneighbors(codes_q), n_queries)
    rows.append([f"HammingIndex alone, MNIST {len(X_db):,} x 64 bits", f"k={k}", f"{qps:,.0f}",
                 f"{codes_db.nbytes / 2**20:.1f} MB"])
    bits_db, bits_q = hasher.transform(X_db), hasher.transform(Xq)
    nn = NearestNeighbors(n_neighbors=k, metric="hamming", algorithm="brute").fit(bits_db)
    qps = queries_per_second(lambda: nn.kneighbors(bits_q), n_queries, repeats=1)
    rows.append(["sklearn NearestNeighbors(metric='hamming'), same 0/1 codes", f"k={k}", f"{qps:,.0f}",
                 f"{bits_db.nbytes / 2**20:.0f} MB"])
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X_db)
    qps = queries_per_second(lambda: nn.kneighbors(Xq), n_queries, repeats=1)
    rows.append([f"exact float k-NN (sklearn brute, euclidean), MNIST {len(X_db):,} x 784 float32", f"k={k}",
                 f"{qps:,.0f}", f"{X_db.nbytes / 2**20:.0f} MB"])
    return rows


# ---------------------------------------------------------------------------------------------- main


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, nargs="*", default=[512, 256])
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    p.add_argument("--queries", type=int, default=10_000, help="number of test images used as queries")
    p.add_argument("--noise-levels", type=float, nargs="*", default=[],
                   help="also train HashingAutoencoder with these noise levels (besides the chosen one)")
    p.add_argument("--val-size", type=int, default=10_000,
                   help="database images held out as validation queries for the choice (0: no choice)")
    p.add_argument("--val-noise-levels", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    p.add_argument("--val-hidden", nargs="+", default=["256", "512,256"],
                   help="candidate hidden layers, comma-separated sizes per candidate")
    p.add_argument("--ablation", action="store_true", help="also train the other binarizations at 32 bits")
    p.add_argument("--search-size", type=int, default=1_000_000, help="random codes in the search benchmark")
    p.add_argument("--search-queries", type=int, default=1_000)
    p.add_argument("--skip-search", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    load_before, wall = os.getloadavg(), time.perf_counter()
    warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget, on purpose

    X_db, y_db, X_q, y_q = load_mnist(args.mnist, n_test=args.queries)
    y_db, y_q = y_db.astype(np.int64), y_q.astype(np.int64)
    candidates = [(level, tuple(int(h) for h in spec.split(",") if h))
                  for spec in args.val_hidden for level in args.val_noise_levels]

    def hasher(n_bits, hidden, **kw):
        return HashingAutoencoder(n_components=n_bits, hidden_layer_sizes=hidden, max_iter=args.epochs,
                                  random_state=0, **kw)

    results, hashers, rows, chosen, val_rows = {}, {}, [], {}, []
    with threadpool_limits(args.threads):
        if args.val_size:
            perm = np.random.RandomState(0).permutation(len(X_db))
            fit_rows, val_rows_idx = np.sort(perm[args.val_size:]), np.sort(perm[: args.val_size])
            X_fit, y_fit, X_val, y_val = X_db[fit_rows], y_db[fit_rows], X_db[val_rows_idx], y_db[val_rows_idx]
            for n_bits in args.bits:
                encode = pca_itq(X_fit, n_bits)
                itq_val = retrieval_scores(encode(X_val), encode(X_fit), y_val, y_fit)[0]
                scored = []
                for level, hidden in candidates:
                    start = time.perf_counter()
                    model = hasher(n_bits, hidden, noise_level=level).fit(X_fit)
                    val_map, val_p = retrieval_scores(model.transform(X_val), model.transform(X_fit), y_val, y_fit)
                    scored.append((val_map, level, hidden))
                    val_rows.append([n_bits, f"784-{'-'.join(map(str, hidden))}-{n_bits}", f"{level:g}",
                                     f"{val_map:.1f}", f"{val_p:.1f}", f"{itq_val:.1f}",
                                     f"{time.perf_counter() - start:.0f}"])
                    print("validation", val_rows[-1], flush=True)
                best = max(scored)
                chosen[n_bits] = (best[1], best[2])
                for r in val_rows:
                    net = f"784-{'-'.join(map(str, best[2]))}-{n_bits}"
                    if r[0] == n_bits and r[1] == net and r[2] == f"{best[1]:g}":
                        r[3] += " (chosen)"
        for n_bits in args.bits:
            level, hidden = chosen.get(n_bits, ("auto", tuple(args.hidden)))
            for name, make in [("LSH", lsh), ("PCA", pca_sign), ("PCA-ITQ", pca_itq)]:
                start = time.perf_counter()
                encode = make(X_db, n_bits)
                codes_db, codes_q = encode(X_db), encode(X_q)
                seconds = time.perf_counter() - start
                results[name, n_bits] = (*retrieval_scores(codes_q, codes_db, y_q, y_db), seconds)
                print(name, n_bits, results[name, n_bits], flush=True)
            variants = [("HashingAutoencoder", {"noise_level": level})]
            variants += [(f"  noise_level={lv:g}", {"noise_level": lv}) for lv in args.noise_levels if lv != level]
            if args.ablation and n_bits == 32:
                variants += [("  binarization='sigmoid' (noise_level 4)", {"binarization": "sigmoid"}),
                             ("  straight-through, noise_level=0", {"noise_level": 0.0})]
            for name, kw in variants:
                start = time.perf_counter()
                model = hasher(n_bits, hidden, **kw).fit(X_db)
                seconds = time.perf_counter() - start
                results[name, n_bits] = (*retrieval_scores(model.transform(X_q), model.transform(X_db), y_q, y_db),
                                         seconds)
                print(name, n_bits, results[name, n_bits], flush=True)
                if name == "HashingAutoencoder":
                    hashers[n_bits] = model

        names = ["LSH", "PCA", "PCA-ITQ", "HashingAutoencoder"]
        names += [name for name in dict.fromkeys(name for name, _ in results) if name not in names]
        for name in names:
            cells = [results.get((name, b)) for b in args.bits]
            rows.append([name] + [f"{c[i]:.{1 if i < 2 else 0}f}" if c else "-" for i in range(3) for c in cells])
        for name, published in PUBLISHED.items():
            by_bits = dict(zip((16, 32, 64), published))
            rows.append([f"{name} (published)"] + [str(by_bits.get(b, "-")) for b in args.bits]
                        + ["-"] * (2 * len(args.bits)))
        headers = (["method"] + [f"mAP {b}" for b in args.bits] + [f"P@100 {b}" for b in args.bits]
                   + [f"fit+encode s {b}" for b in args.bits])
        body = table(rows, headers)

        misses = []
        for b in args.bits:
            ours, itq = results["HashingAutoencoder", b][0], results["PCA-ITQ", b][0]
            verdict = "beats" if ours > itq else "MISSES"
            misses.append(f"{b} bits: HashingAutoencoder {ours:.1f} vs PCA-ITQ {itq:.1f} mAP ({verdict}, "
                          f"{ours - itq:+.1f})")
        body += "\n\nGoal (mAP above our own PCA-ITQ at every bit length): " + "; ".join(misses) + "."
        setting = "; ".join(
            f"{b} bits: 784-{'-'.join(map(str, chosen[b][1]))}-{b}, noise_level={chosen[b][0]:g}" for b in chosen
        ) or f"784-{'-'.join(map(str, args.hidden))}-B, noise_level='auto' (1.5)"
        body += (f"\n\nHashingAutoencoder: straight-through bits ({setting}), loss='mse', Adam 1e-3, batch 256, "
                 f"{args.epochs} epochs, tol and n_iter_no_change at their defaults, random_state=0, trained on "
                 f"the {len(X_db):,} database images; {args.queries:,} test queries.")
        if val_rows:
            body += (f"\n\nChoice on a validation split of the database (never the test queries): "
                     f"{args.val_size:,} database images (seeded draw) as queries against the other "
                     f"{len(X_db) - args.val_size:,}, on which each candidate was fitted; the highest validation "
                     "mAP is chosen per bit length.\n\n")
            body += table(val_rows, ["bits", "network", "noise_level", "validation mAP", "validation P@100",
                                     "PCA-ITQ validation mAP", "fit+encode s"])

        if not args.skip_search and 64 in hashers:
            search_rows = search_speed(hashers[64], X_db, X_q, args.search_size, args.search_queries, k=100)
            body += "\n\n" + table(search_rows, ["search", "neighbours", "queries/s", "database memory"])
            body += (f"\n\nSearch: {args.search_queries:,} queries, best of 3 runs (1 run for the scikit-learn "
                     "rows); HammingIndex and numpy run in one thread, BLAS limited to "
                     f"{args.threads} thread(s).")

    notes = (f"torch and BLAS threads: {args.threads}; load average {load_before[0]:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end (the 2-core machine is shared with other jobs); "
             f"{(time.perf_counter() - wall) / 60:.1f} min in all")
    record("Semantic hashing on MNIST (bench_hashing.py)", body, args=args, notes=notes)
    print(machine())


if __name__ == "__main__":
    main()
