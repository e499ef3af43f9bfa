"""ContractiveAutoencoder: exact vs stochastic penalty, where each wins (time) and what it costs (noise).

1. Epoch time over a plain autoencoder's (same architecture, tied weights, batch 256, Adam) for
   the exact penalty and the stochastic one (one random projection), over code sizes K and
   architectures: where the exact penalty is as cheap as the estimate ("auto" picks it there).
   Epochs are short (``--chunk`` rows) and alternated round after round between the three
   estimators, ratios taken per round and their median reported, as in bench_regularizers.py.
2. Gradient noise: on a model trained 10 epochs on the 8x8 digits, the mean squared distance of a
   mini-batch gradient (batch 256) to the full-batch exact gradient, with the exact penalty and
   with the estimate: how much variance the random projections add to mini-batch sampling.

    python benchmarks/bench_contractive.py [--rounds 7] [--chunk 512] [--threads 1]
"""

import statistics
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, parser, record, table
from sklearn.datasets import load_digits

from skae import Autoencoder, ContractiveAutoencoder
from skae._training import Batch

ARCHITECTURES = [("mnist", (1000, 500, 250)), ("mnist", (256,)), ("digits", (128,))]
CODES = (2, 4, 8, 16, 30)


def digits():
    return (load_digits().data / 16.0).astype(np.float32)


def time_ratios(X, hidden, K, rounds, chunk):
    arch = dict(n_components=K, hidden_layer_sizes=hidden, batch_size=256, tied_weights=True, random_state=0)
    ests = {
        "plain": Autoencoder(**arch),
        "exact": ContractiveAutoencoder(contraction_estimator="exact", **arch),
        "stochastic": ContractiveAutoencoder(contraction_estimator="stochastic", **arch),
    }
    for est in ests.values():  # initialise, untimed
        est.partial_fit(X[:256])
    times = {name: [] for name in ests}
    order = list(ests.items())
    for r in range(rounds):
        for name, est in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            est.partial_fit(X[:chunk])
            times[name].append(time.perf_counter() - start)
    return {
        name: statistics.median(a / b for a, b in zip(times[name], times["plain"], strict=True))
        for name in ("exact", "stochastic")
    }


def gradient_noise(X, hidden, K, weight, n_projections, n_draws=100, batch=256):
    est = ContractiveAutoencoder(
        n_components=K,
        hidden_layer_sizes=hidden,
        activation="tanh",
        contraction_weight=weight,
        contraction_estimator="exact",
        n_projections=n_projections,
        max_iter=10,
        random_state=0,
    ).fit(X)
    module = est.module_.train()
    params = list(module.parameters())
    Xt = torch.from_numpy(X)

    def grad(xb, estimator, seed):
        est.contraction_estimator = estimator
        loss = est._loss(module, Batch(xb, torch.Generator().manual_seed(seed))).value
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    full = grad(Xt, "exact", 0)
    rng = np.random.RandomState(0)
    out = {}
    for estimator in ("exact", "stochastic"):
        errors = []
        for r in range(n_draws):
            index = torch.from_numpy(rng.choice(len(X), batch, replace=False))
            errors.append(float((grad(Xt[index], estimator, r) - full).square().sum()))
        out[estimator] = float(np.mean(errors))
    return out


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7, help="timed epochs per estimator")
    p.add_argument("--chunk", type=int, default=512, help="rows per timed epoch")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    data = {"mnist": load_mnist(args.mnist, n_train=max(args.chunk, 256), n_test=1)[0], "digits": digits()}

    rows = []
    for source, hidden in ARCHITECTURES:
        X = data[source]
        sizes = "-".join(map(str, (X.shape[1], *hidden)))
        exact, stochastic = [f"{sizes}-K exact"], [f"{sizes}-K stochastic"]
        for K in CODES:
            ratios = time_ratios(X, hidden, K, args.rounds, args.chunk)
            exact.append(f"{ratios['exact']:.2f}x")
            stochastic.append(f"{ratios['stochastic']:.2f}x")
            print(sizes, K, ratios, flush=True)
        rows += [exact, stochastic]
    body = table(rows, ["epoch time vs plain", *(f"K={K}" for K in CODES)])
    body += (
        f"\n\nEpoch = one partial_fit over {args.chunk} rows (MNIST, or the 1797 digits), batch 256, "
        f"Adam, tied weights, ReLU; {args.rounds} rounds alternating the order of plain, exact and "
        "stochastic (one projection); ratio = median over rounds of epoch / plain epoch of the same "
        "round.\n\n"
    )

    noise_rows = []
    X = digits()
    for hidden, K in (((64,), 16), ((128, 64), 30)):
        for weight, n_projections in ((0.01, 1), (0.1, 1), (0.1, 4)):
            noise = gradient_noise(X, hidden, K, weight, n_projections)
            noise_rows.append(
                [
                    f"64-{'-'.join(map(str, hidden))}-{K}",
                    weight,
                    n_projections,
                    f"{noise['exact']:.4g}",
                    f"{noise['stochastic']:.4g}",
                    f"{noise['stochastic'] / noise['exact']:.2f}",
                ]
            )
            print(noise_rows[-1], flush=True)
    body += table(
        noise_rows,
        [
            "digits, tanh",
            "contraction_weight",
            "n_projections",
            "E‖g_batch − g‖², exact",
            "same, stochastic",
            "ratio",
        ],
    )
    body += (
        "\n\ng = the full-batch gradient of the exact objective (all 1797 digits) of a model trained "
        "10 epochs with the exact penalty; g_batch = the gradient on a random mini-batch of 256, "
        "with the exact penalty or the estimate (fresh signs per draw); mean over 100 draws. The "
        "ratio is the gradient variance of the stochastic objective over that of the exact one."
    )
    notes = (
        f"torch threads: {torch.get_num_threads()}. The 2-core machine was shared with other jobs "
        "during the run: absolute times are inflated; the alternated same-round ratios are the "
        "figures to read."
    )
    record("Contractive penalty: exact vs stochastic (bench_contractive.py)", body, args, notes)


if __name__ == "__main__":
    main()
