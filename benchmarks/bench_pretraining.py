"""Which greedy layer-wise pretraining: an autoencoder per layer (skae's ``pretraining="autoencoder"``)
or an RBM per layer (Hinton & Salakhutdinov's; a torch CD-1 stack written here for the comparison only)?

A deep sigmoid autoencoder 784-500-250-125-30 (bce) on the first ``--n-train`` MNIST training images, the
same fine-tuning budget from three starts: random, autoencoder-pretrained, RBM-pretrained (Bernoulli
visible units on the pixels and on the sigmoid activations, Bernoulli hidden units, Gaussian linear code
units; CD-1 with momentum 0.5 then 0.9, weight cost 2e-4, learning rate 0.1, 0.001 for the code layer, as
in Hinton & Salakhutdinov's recipe). Test error on the first 2000 test images (Σ over pixels of squared
error, mean over images). One torch thread.

    python benchmarks/bench_pretraining.py [--n-train 5000] [--epochs 5 15] [--fine-tune 10]
"""

import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402

from skae import Autoencoder  # noqa: E402

HID = (500, 250, 125)

def rbm(v_all, n_hid, g, visible, hidden, epochs, lr, bs=100, mom=0.5):
    n, n_vis = v_all.shape
    W = torch.randn(n_hid, n_vis, generator=g) * 0.01
    b = torch.zeros(n_hid)
    c = torch.zeros(n_vis)
    if visible == "bernoulli":
        c = torch.logit(v_all.mean(0).clamp(1e-3, 1 - 1e-3))
    dW = torch.zeros_like(W)
    db = torch.zeros_like(b)
    dc = torch.zeros_like(c)
    for ep in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, bs):
            v0 = v_all[perm[s:s + bs]]
            a0 = v0 @ W.t() + b
            if hidden == "bernoulli":
                p0 = torch.sigmoid(a0)
                h0 = torch.bernoulli(p0, generator=g)
            else:
                p0 = a0
                h0 = a0 + torch.randn(a0.shape, generator=g)
            av = h0 @ W + c
            v1 = torch.sigmoid(av) if visible == "bernoulli" else av
            a1 = v1 @ W.t() + b
            p1 = torch.sigmoid(a1) if hidden == "bernoulli" else a1
            B = v0.shape[0]
            gW = (p0.t() @ v0 - p1.t() @ v1) / B - 2e-4 * W
            dW = mom * dW + lr * gW
            db = mom * db + lr * (p0 - p1).mean(0)
            dc = mom * dc + lr * (v0 - v1).mean(0)
            W += dW
            b += db
            c += dc
        mom = 0.9 if ep >= 4 else 0.5
    return W, b, c

class RBMPretrained(Autoencoder):
    """An Autoencoder whose engine hook stacks CD-1 RBMs (the weights, tied at the start, then untied)."""

    def _pretrain(self, rows, generator, device):
        m = self.module_
        x = rows.take(torch.arange(rows.n))
        loc, scale = m.conditioning.loc, m.conditioning.scale
        enc, dec = m.encoder.layers, m.decoder.layers
        n = len(enc)
        v = x
        with torch.no_grad():
            for i in range(n):
                last = i == n - 1
                vis = "bernoulli"  # pixels in [0,1], sigmoid activations above
                hid = "gaussian" if last else "bernoulli"
                lr = 0.001 if last else 0.1
                W, b, c = rbm(v, enc[i].weight.shape[0], generator, vis, hid, self.pretraining_max_iter, lr)
                if i == 0:  # the encoder sees (x - loc) / scale
                    enc[i].weight.copy_(W * scale)
                    enc[i].bias.copy_(b + W @ loc)
                else:
                    enc[i].weight.copy_(W)
                    enc[i].bias.copy_(b)
                dec[n - 1 - i].weight.copy_(W.t())
                dec[n - 1 - i].bias.copy_(c)
                a = v @ W.t() + b
                v = a if last else torch.sigmoid(a)
        self.pretraining_loss_curves_ = None

def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=5000)
    p.add_argument("--epochs", type=int, nargs="+", default=[5, 15], help="pretraining epochs per layer")
    p.add_argument("--fine-tune", type=int, default=10, help="fine-tuning epochs")
    args = p.parse_args()
    torch.set_num_threads(1)
    X, _, Xte, _ = load_mnist(args.mnist, n_train=args.n_train, n_test=2000)

    def err(ae):
        R = ae.inverse_transform(ae.transform(Xte))
        return float(((Xte - R) ** 2).sum(1).mean())

    common = dict(n_components=30, hidden_layer_sizes=HID, activation="sigmoid", loss="bce",
                  max_iter=args.fine_tune, batch_size=128, random_state=0)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        base = Autoencoder(**common).fit(X)
        rows.append(["random init", "-", f"{err(base):.3f}", f"{time.perf_counter() - t:.1f}"])
        for ep in args.epochs:
            for name, cls, extra in [("autoencoder per layer", Autoencoder, {"pretraining": "autoencoder"}),
                                     ("RBM per layer (CD-1)", RBMPretrained, {})]:
                t = time.perf_counter()
                ae = cls(**common, pretraining_max_iter=ep, **extra).fit(X)
                rows.append([name, str(ep), f"{err(ae):.3f}", f"{time.perf_counter() - t:.1f}"])
                print(rows[-1], flush=True)
    body = table(rows, ["start", "pretraining epochs / layer", "test error", "fit s (pretraining + fine-tuning)"])
    record("bench_pretraining: autoencoder vs RBM layer-wise pretraining, deep sigmoid AE, MNIST subset", body, args,
           notes=f"784-500-250-125-30 sigmoid, bce, batch 128, {args.fine_tune} fine-tuning epochs (Adam 1e-3) on "
                 f"{len(X)} training images; test error on 2000 test images; 1 torch thread")


if __name__ == "__main__":
    main()
