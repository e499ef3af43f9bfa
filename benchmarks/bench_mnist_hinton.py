"""Hinton & Salakhutdinov (2006): a 784-1000-500-250-30 autoencoder on MNIST, through skae's public API.

Test error = squared error summed over the 784 pixels (intensities in [0, 1]), averaged over the 10,000
test images, as in the paper's figure/table (deep AE 3.00, logistic PCA 8.01, PCA 13.87). Training is
time-boxed: ``partial_fit`` one epoch at a time until ``--minutes`` run out, with the learning rate
divided by 10 for the last ``--decay-fraction`` of the budget (``set_params`` between epochs).

    python benchmarks/bench_mnist_hinton.py [--minutes 30] [--k 30] [--precision float32]
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from skae import Autoencoder, DenoisingAutoencoder  # noqa: E402

PAPER = {30: {"deep autoencoder (H&S 2006)": 3.00, "logistic PCA (H&S 2006)": 8.01, "PCA (H&S 2006)": 13.87}}


def test_error(X, R):
    return float(np.mean(np.sum((X.astype(np.float64) - R) ** 2, axis=1)))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="training wall-time budget")
    p.add_argument("--k", type=int, default=30, help="code size (30 as in the paper; 2 for 2-D codes)")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--loss", default="bce", choices=["bce", "mse"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--decay-fraction", type=float, default=0.25)
    p.add_argument("--eval-every", type=int, default=5, help="epochs between test evaluations")
    p.add_argument("--noise-level", type=float, default=0.0,
                   help="> 0: a DenoisingAutoencoder with Gaussian noise of this many feature scales")
    p.add_argument("--activation", default="relu")
    args = p.parse_args()
    X, _, X_test, _ = load_mnist(args.mnist)

    pca = PCA(args.k, random_state=0).fit(X)
    pca_err = test_error(X_test, pca.inverse_transform(pca.transform(X_test)))

    params = dict(
        n_components=args.k, hidden_layer_sizes=(1000, 500, 250), loss=args.loss, activation=args.activation,
        batch_size=args.batch_size, learning_rate_init=args.lr, precision=args.precision, random_state=0,
    )
    if args.noise_level > 0:
        ae = DenoisingAutoencoder(noise="gaussian", noise_level=args.noise_level, **params)
    else:
        ae = Autoencoder(**params)
    budget = args.minutes * 60
    start = time.perf_counter()
    curve = []
    decayed = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while time.perf_counter() - start < budget:
            if not decayed and time.perf_counter() - start > (1 - args.decay_fraction) * budget:
                ae.set_params(learning_rate_init=args.lr / 10)
                decayed = True
            ae.partial_fit(X)
            if ae.n_iter_ % args.eval_every == 0:
                err = test_error(X_test, ae.inverse_transform(ae.transform(X_test)))
                curve.append((ae.n_iter_, time.perf_counter() - start, err))
                print(f"epoch {ae.n_iter_:4d}  {curve[-1][1] / 60:6.1f} min  train loss "
                      f"{ae.loss_curve_[-1]:.5f}  test error {err:.3f}", flush=True)
    wall = time.perf_counter() - start
    err = test_error(X_test, ae.inverse_transform(ae.transform(X_test)))
    curve.append((ae.n_iter_, wall, err))

    rows = [[f"skae {type(ae).__name__} 784-1000-500-250-{args.k} ({args.loss}, {args.activation}, "
             f"{args.precision}" + (f", noise {args.noise_level:g}" if args.noise_level > 0 else "") + ")",
             f"{err:.3f}",
             f"{ae.n_iter_} epochs, {wall / 60:.1f} min"],
            [f"PCA({args.k}), measured here", f"{pca_err:.3f}", ""]]
    for name, ref in PAPER.get(args.k, {}).items():
        rows.append([name, f"{ref:.2f}", "reference"])
    body = table(rows, ["model", "test error (Σ sq. err / image)", "training"])
    body += "\n\nTest error along the way: " + ", ".join(
        f"{e} ep/{t / 60:.0f} min: {v:.2f}" for e, t, v in curve
    )
    target = 3.00 if args.k == 30 else None
    verdict = ""
    if target is not None:
        verdict = (f"Target ≤ {target:.2f} within 30 min on 2 cores: "
                   f"{'met' if err <= target and wall <= 1800 else 'MISSED'} ({err:.3f} after {wall / 60:.1f} min).")
    record(f"bench_mnist_hinton: MNIST deep autoencoder, K={args.k}", body + "\n\n" + verdict, args,
           notes=f"batch {args.batch_size}, Adam lr {args.lr} (÷10 for the last {args.decay_fraction:.0%} of "
                 "the budget), train on the 60k training images, evaluate on the 10k test images")


if __name__ == "__main__":
    main()
