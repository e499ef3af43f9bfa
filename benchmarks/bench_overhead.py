"""Training time per epoch: skae against a minimal hand-written torch loop, in one process.

Same architecture, batch size, Adam and data; the contenders alternate epoch by epoch and each figure is
the median of ``--repeats`` epochs. skorch and scikit-learn's MLPRegressor join when installed.

    python benchmarks/bench_overhead.py [--rows 60000] [--repeats 3]
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402

from skae import Autoencoder, SparseAutoencoder  # noqa: E402

TOPK = 50  # the wide route's k

CONFIGS = [
    # (--only key, name, hidden layers, code size, batch size, ratio target vs raw torch)
    ("large", "784-1000-500-250-30, batch 256", (1000, 500, 250), 30, 256, 1.05),
    ("small", "784-64-8, batch 64", (64,), 8, 64, 1.10),
    # A wide one-layer feature learner (the k-sparse autoencoder's shape, here without the top-k).
    ("wide", "784-1000 one layer, batch 256", (), 1000, 256, 1.10),
    # The wide route itself: skae's SparseAutoencoder as benchmarks/bench_features.py runs it (1000 units,
    # top-k with k = 50, tied weights, centred input, weight decay 1 / n), beside the same network by hand.
    ("widek", f"784-1000 k-sparse (k = {TOPK}), tied weights, centred, weight decay 1/n, batch 256", (), 1000, 256,
     1.10),
]


def raw_torch_model(hidden, k, n_features=784):
    sizes = [n_features, *hidden, k]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.pop()  # linear code
    back = sizes[::-1]
    for a, b in zip(back[:-1], back[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.pop()  # linear output
    return nn.Sequential(*layers)


class TiedTopK(nn.Module):
    """A k-sparse autoencoder by hand: one linear layer, the k largest units of each row, its transpose back."""

    def __init__(self, n_features, units, k):
        super().__init__()
        self.encoder = nn.Linear(n_features, units)
        self.output_bias = nn.Parameter(torch.zeros(n_features))
        self.k = k

    def forward(self, x):
        h = self.encoder(x)
        values, index = torch.topk(h, self.k, dim=1, sorted=False)
        return F.linear(torch.zeros_like(h).scatter(1, index, values), self.encoder.weight.t(), self.output_bias)


class RawLoop:
    """The reference: the shortest correct mini-batch Adam loop a torch user would write."""

    name = "raw torch fp32"

    def __init__(self, X, hidden, k, batch_size, autocast=False, topk=False):
        torch.manual_seed(0)
        if topk:
            # skae's objective for the wide route: centred rows, weight decay 1 / n on the weights only.
            X = X - X.mean(axis=0)
            self.model = TiedTopK(X.shape[1], k, TOPK)
            self.opt = torch.optim.Adam([{"params": [self.model.encoder.weight], "weight_decay": 1.0 / len(X)},
                                         {"params": [self.model.encoder.bias, self.model.output_bias]}], lr=1e-3)
        else:
            self.model = raw_torch_model(hidden, k)
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.X = torch.from_numpy(X)
        self.bs = batch_size
        self.autocast = autocast
        if autocast:
            self.name = "raw torch bf16 autocast"

    def epoch(self):
        n = self.X.shape[0]
        perm = torch.randperm(n)
        for i in range(0, n, self.bs):
            xb = self.X[perm[i : i + self.bs]]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
                loss = F.mse_loss(self.model(xb), xb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()


class Skae:
    def __init__(self, X, hidden, k, batch_size, precision="float32", topk=False):
        self.name = "skae" if precision == "float32" else "skae bf16"
        self.X = X
        if topk:
            self.est = SparseAutoencoder(n_components=k, hidden_layer_sizes=hidden, sparsity="topk", k=TOPK,
                                         tied_weights=True, conditioning="center", batch_size=batch_size,
                                         random_state=0, precision=precision)
        else:
            self.est = Autoencoder(
                n_components=k, hidden_layer_sizes=hidden, batch_size=batch_size, random_state=0,
                precision=precision,
            )

    def epoch(self):
        self.est.partial_fit(self.X)


class Skorch:
    name = "skorch"

    def __init__(self, X, hidden, k, batch_size):
        from skorch import NeuralNetRegressor

        self.X = X
        self.net = NeuralNetRegressor(
            raw_torch_model(hidden, k), optimizer=torch.optim.Adam, lr=1e-3, batch_size=batch_size,
            max_epochs=1, train_split=None, iterator_train__shuffle=True, verbose=0,
        )
        self.net.initialize()

    def epoch(self):
        self.net.partial_fit(self.X, self.X)


class MLP:
    name = "sklearn MLPRegressor"

    def __init__(self, X, hidden, k, batch_size):
        from sklearn.neural_network import MLPRegressor

        self.X = X
        self.net = MLPRegressor(
            hidden_layer_sizes=(*hidden, k, *hidden[::-1]), batch_size=batch_size, solver="adam",
            learning_rate_init=1e-3, random_state=0, shuffle=True,
        )

    def epoch(self):
        self.net.partial_fit(self.X, self.X)


def time_epochs(X, hidden, k, batch_size, repeats, bf16=False, peers=True, topk=False):
    """Epoch times (s) per contender: alternating, after one untimed warm-up epoch each."""
    contenders = [RawLoop(X, hidden, k, batch_size, topk=topk), Skae(X, hidden, k, batch_size, topk=topk)]
    if bf16:
        contenders += [RawLoop(X, hidden, k, batch_size, autocast=True, topk=topk),
                       Skae(X, hidden, k, batch_size, "bfloat16", topk=topk)]
    if peers and not topk:  # skorch and MLPRegressor have no top-k layer
        for cls in (Skorch, MLP):
            try:
                contenders.append(cls(X, hidden, k, batch_size))
            except ImportError:
                pass
    times = {c.name: [] for c in contenders}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in contenders:
            c.epoch()
        for _ in range(repeats):
            for c in contenders:
                start = time.perf_counter()
                c.epoch()
                times[c.name].append(time.perf_counter() - start)
    return times


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=60000, help="training rows per epoch (default 60000)")
    p.add_argument("--repeats", type=int, default=3, help="epochs timed per contender (median)")
    p.add_argument("--only", choices=[c[0] for c in CONFIGS], help="run one configuration")
    p.add_argument("--no-peers", action="store_true", help="skip skorch and MLPRegressor")
    p.add_argument("--bf16", action="store_true", help="also time bfloat16 autocast (skae and raw)")
    args = p.parse_args()
    X = load_mnist(args.mnist, n_train=args.rows)[0]

    sections = []
    for key, name, hidden, k, bs, target in CONFIGS:
        if args.only and args.only != key:
            continue
        times = time_epochs(X, hidden, k, bs, args.repeats, bf16=args.bf16, peers=not args.no_peers,
                            topk=key == "widek")
        ref = np.median(times["raw torch fp32"])
        rows = []
        for cname, ctimes in times.items():
            med = np.median(ctimes)
            verdict = ""
            if cname == "skae":
                verdict = f"target ≤ {target:.2f}: {'met' if med / ref <= target else 'MISSED'}"
            rows.append([cname, f"{med:.3f}", f"{med / ref:.3f}", " ".join(f"{t:.3f}" for t in ctimes), verdict])
        body = table(rows, ["contender", "median s/epoch", "ratio vs raw torch", "all epochs (s)", ""])
        sections.append(f"**{name}**, {len(X)} rows per epoch\n\n{body}")
        print(sections[-1], flush=True)
    record(
        "bench_overhead: time per training epoch vs a minimal torch loop",
        "\n\n".join(sections),
        args,
        notes=f"alternating contenders, median of {args.repeats} epochs after one warm-up epoch each",
    )


if __name__ == "__main__":
    main()
