"""The ladder's training step, before and after its speed-up, beside a raw torch replica, in one process.

The published semi-supervised configuration: AutoencoderClassifier(LadderAutoencoder(n_components=10,
hidden_layer_sizes=(1000, 500, 250, 250, 250))), a step of 100 unlabeled + 100 labeled MNIST rows
(784-1000-500-250-250-250-10), Adam at 2e-3. Contenders, alternated round by round so that they see the
same load, each timed in CPU time (``time.process_time``, one torch thread) and reported as the median
over the steps of all rounds:

- raw torch: a minimal hand-written ladder step (the same network, noise, batch normalisation,
  combinators, costs and cross-entropy; torch's default Adam);
- skae before: the ``LadderModule`` of git revision ``--before`` (loaded from ``git show``) with the
  classifier's loss and the optimizer it had (torch's default Adam);
- skae after: this checkout's step (``AutoencoderClassifier._loss``, its own optimizer);
- skae after, bf16: the same under ``precision="bfloat16"`` autocast (when the CPU has it);
- with ``--compile``: the raw torch step and skae's step (fp32) through ``torch.compile`` (inductor;
  its compile time is the first step's, reported apart, and is not in the medians).

    python benchmarks/bench_ladder_speed.py [--before 40a6c0b] [--steps 20] [--rounds 3] [--compile]
"""

import copy
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's skae
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _common import load_mnist, parser, record, table  # noqa: E402

import skae  # noqa: E402
from skae import AutoencoderClassifier, LadderAutoencoder  # noqa: E402
from skae._device import _bfloat16_supported  # noqa: E402
from skae._training import Batch  # noqa: E402

SIZES = (784, 1000, 500, 250, 250, 250, 10)
WEIGHTS = (100.0, 10.0, 0.1, 0.1, 0.1, 0.1, 0.1)  # LadderAutoencoder's "auto"


def module_at(rev):
    """skae/_ladder.py as it was at git revision ``rev``, imported inside the skae package."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:skae/_ladder.py"], check=True,
                         capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("skae._ladder_before", loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "skae"
    sys.modules[spec.name] = mod
    exec(compile(src, f"{rev}:skae/_ladder.py", "exec"), mod.__dict__)
    return mod


class RawLadder(torch.nn.Module):
    """A minimal ladder written directly in torch, for the reference step time."""

    def __init__(self, sizes, gen):
        super().__init__()
        L = len(sizes) - 1
        self.W = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(b, a, generator=gen) / a**0.5)
                                        for a, b in zip(sizes[:-1], sizes[1:]))
        self.V = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(a, b, generator=gen) / b**0.5)
                                        for a, b in zip(sizes[:-1], sizes[1:]))
        self.beta = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(b)) for b in sizes[1:])
        self.gamma = torch.nn.Parameter(torch.ones(sizes[-1]))
        init = torch.zeros(10, 1)
        init[1] = init[6] = 1.0
        self.A = torch.nn.ParameterList(torch.nn.Parameter(init.repeat(1, m)) for m in sizes)
        self.L = L

    @staticmethod
    def bn(z, rows):
        s = z[:rows]
        mean, var = s.mean(0), s.var(0, unbiased=False)
        return (z - mean) / torch.sqrt(var + 1e-5), mean, var

    def encoder(self, x, noise, gen, rows):
        z = x + noise * torch.randn(x.shape, generator=gen) if noise else x
        zs, stats, h = [z], [None], z
        for i in range(self.L):
            z, mean, var = self.bn(h @ self.W[i].T, rows)
            if noise:
                z = z + noise * torch.randn(z.shape, generator=gen)
            zs.append(z)
            stats.append((mean, var))
            h = self.gamma * (z + self.beta[i]) if i == self.L - 1 else torch.relu(z + self.beta[i])
        return zs, stats, h

    def loss(self, x, y, gen, rows):
        noisy, _, top = self.encoder(x, 0.3, gen, rows)
        clean, stats, _ = self.encoder(x, 0.0, None, rows)
        cost, u, z_hat = 0.0, top, None
        for l in range(self.L, -1, -1):
            if l < self.L:
                u = z_hat @ self.V[l].T
            u = self.bn(u, rows)[0]
            a = self.A[l]
            mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
            v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
            z_hat = (noisy[l] - mu) * v + mu
            target = z_hat if l == 0 else (z_hat - stats[l][0]) / torch.sqrt(stats[l][1] + 1e-5)
            cost = cost + WEIGHTS[l] * ((target - clean[l]) ** 2).mean(1)[:rows].mean()
        return F.cross_entropy(top[rows:], y[rows:]) + cost


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--before", default="40a6c0b", help="git revision of the ladder before the speed-up")
    p.add_argument("--steps", type=int, default=20, help="timed steps per contender per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also the raw and skae fp32 steps under torch.compile")
    p.add_argument("--notes", default="")
    args = p.parse_args()
    torch.set_num_threads(1)
    X, y = load_mnist(args.mnist, n_train=5000)[:2]
    y_semi = np.full(len(y), -1, dtype=np.int64)
    y_semi[:100] = y[:100]

    def classifier(precision):
        clf = AutoencoderClassifier(LadderAutoencoder(n_components=10, hidden_layer_sizes=SIZES[1:-1]),
                                    batch_size=100, labeled_batch_size=100, learning_rate_init=2e-3,
                                    random_state=0, precision=precision, max_iter=1)
        clf.partial_fit(X[:400], y_semi[:400], classes=np.arange(10))
        return clf

    # A step's batch: 100 rows, then the 100 labeled rows the classifier appends (n_extra=100).
    xb = torch.from_numpy(X[:200])
    yb = torch.from_numpy(np.r_[np.full(100, -1), y[:100]].astype(np.int64))
    contenders = {}

    gen = torch.Generator().manual_seed(0)
    raw = RawLadder(SIZES, gen)
    raw_opt = torch.optim.Adam(raw.parameters(), lr=2e-3)
    xs = (xb - xb.mean(0)) / (xb.std(0) + 1e-2)
    contenders["raw torch fp32"] = (lambda: raw.loss(xs, yb, gen, 100), raw_opt, None)

    old = module_at(args.before)
    clf_before = classifier("float32")
    net_before = copy.deepcopy(clf_before.module_)
    old_module = old.LadderModule(784, 10, SIZES[1:-1])
    old_module.load_state_dict(clf_before.module_.autoencoder.state_dict())
    net_before.autoencoder = old_module
    contenders[f"skae before ({args.before}) fp32"] = (
        lambda: clf_before._loss(net_before, Batch(xb, gen, yb, 100)).value,
        torch.optim.Adam(net_before.parameters(), lr=2e-3), None)

    clf_after = classifier("float32")
    contenders["skae after fp32"] = (lambda: clf_after._loss(clf_after.module_, Batch(xb, gen, yb, 100)).value,
                                     clf_after._optimizer, None)
    if _bfloat16_supported():
        clf_bf16 = classifier("bfloat16")
        contenders["skae after bf16"] = (lambda: clf_bf16._loss(clf_bf16.module_, Batch(xb, gen, yb, 100)).value,
                                         clf_bf16._optimizer, torch.bfloat16)

    if args.compile:
        raw_c = RawLadder(SIZES, torch.Generator().manual_seed(0))
        raw_c_loss = torch.compile(raw_c.loss)
        contenders["raw torch fp32, torch.compile"] = (lambda: raw_c_loss(xs, yb, gen, 100),
                                                       torch.optim.Adam(raw_c.parameters(), lr=2e-3), None)
        clf_c = classifier("float32")
        skae_c_loss = torch.compile(lambda module, xb, yb: clf_c._loss(module, Batch(xb, gen, yb, 100)).value)
        contenders["skae after fp32, torch.compile"] = (lambda: skae_c_loss(clf_c.module_, xb, yb),
                                                        clf_c._optimizer, None)

    first = {}
    times = {name: [] for name in contenders}
    for r in range(args.rounds + 1):  # round 0 warms up and is not counted
        for name, (loss_fn, opt, dtype) in contenders.items():
            for _ in range(args.steps):
                t, wall = time.process_time(), time.perf_counter()
                with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    loss = loss_fn()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if r:
                    times[name].append(time.process_time() - t)
                elif name not in first:
                    first[name] = time.perf_counter() - wall
    med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    ref = med["raw torch fp32"]
    rows = [[k, f"{v:.1f}", f"{v / ref:.2f}", f"{600 * v / 1000:.0f}"] for k, v in med.items()]
    body = table(rows, ["contender", "ms per step (CPU, median)", "÷ raw torch", "s per MNIST epoch (600 steps)"])
    body += (f"\n\n784-1000-500-250-250-250-10, 100 unlabeled + 100 labeled rows per step, 1 torch thread, "
             f"{args.rounds} alternated rounds of {args.steps} steps (after one warm-up round); "
             f"skae {skae.__version__}. First step's wall time (s; torch.compile's compilation): "
             + ", ".join(f"{k} {v:.1f}" for k, v in first.items()) + ".")
    print(body)
    record("bench_ladder_speed: the ladder's training step, before and after, beside raw torch", body, args,
           notes=f"time.process_time per step, medians. {args.notes}".strip())


if __name__ == "__main__":
    main()
