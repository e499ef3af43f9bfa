"""MNIST denoising: a convolutional DenoisingAutoencoder against a fully connected one.

Every network is a ``DenoisingAutoencoder`` with the same code size, noise, optimiser, batch size
and number of epochs; only ``module`` differs: the built-in fully connected network
(784-1000-500-250-K, Hinton & Salakhutdinov's) or ``skae.modules.ConvAutoencoderModule`` on the
28x28 images. Each is trained on corrupted copies of the training images and scored on the 10,000
test images, corrupted once with the same noise from a fixed seed: the error of the clean image's
reconstruction from its corrupted copy (squared error summed over the 784 pixels in [0, 1], mean
over the images, the unit of Hinton & Salakhutdinov's table), and of the clean image's
reconstruction from itself.

The epochs of the networks are alternated (one ``partial_fit`` each, round after round) so that a
shared machine's changing load weighs on all of them alike; the epoch time reported is the median.

    python benchmarks/bench_conv.py [--epochs 5] [--rows 60000] [--noise masking] [--level 0.5]
        [--threads 1]
"""

import os
import statistics
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, parser, record, table

from skae import DenoisingAutoencoder
from skae.modules import ConvAutoencoderModule

K = 32


def contenders(noise, level):
    common = dict(n_components=K, noise=noise, noise_level=level, batch_size=256, random_state=0)

    def conv(channels):
        params = {"image_shape": (28, 28), "channels": channels}
        return DenoisingAutoencoder(module=ConvAutoencoderModule, module_params=params, **common)

    return {
        "fully connected 784-1000-500-250-32": DenoisingAutoencoder(hidden_layer_sizes=(1000, 500, 250), **common),
        "conv channels (16, 32)": conv((16, 32)),
        "conv channels (32, 64)": conv((32, 64)),
    }


def corrupt(X, noise, level, scale, seed=0):
    """The test images' one corruption, with the training noise, drawn from a fixed seed."""
    rng = np.random.default_rng(seed)
    if noise == "masking":
        return (X * (rng.random(X.shape) >= level)).astype(np.float32)
    # DenoisingAutoencoder's Gaussian noise: level times each pixel's scale (the network's
    # conditioning scale, learned from the same training images by every contender).
    return (X + level * scale * rng.standard_normal(X.shape)).astype(np.float32)


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rows", type=int, default=60_000, help="training images")
    p.add_argument("--noise", choices=["masking", "gaussian"], default="masking")
    p.add_argument("--level", type=float, default=0.5, help="noise_level")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    X_train, _, X_test, _ = load_mnist(args.mnist, n_train=args.rows)
    load_before = os.getloadavg()
    models = contenders(args.noise, args.level)

    times = {name: [] for name in models}
    start_all = time.perf_counter()
    for epoch in range(args.epochs):
        order = list(models) if epoch % 2 == 0 else list(models)[::-1]
        for name in order:
            start = time.perf_counter()
            models[name].partial_fit(X_train)
            times[name].append(time.perf_counter() - start)
            loss = models[name].loss_curve_[-1] * X_train.shape[1]
            print(f"epoch {epoch + 1}: {name:36s} {times[name][-1]:6.1f} s, training loss {loss:.3f}", flush=True)
    train_wall = time.perf_counter() - start_all

    scale = next(iter(models.values())).module_.conditioning.scale.numpy()
    X_noisy = corrupt(X_test, args.noise, args.level, scale)

    def error(reconstruction):
        return float(((reconstruction - X_test) ** 2).sum(axis=1).mean())

    rows = [
        ["corrupted input itself (no model)", "", "", "", f"{error(X_noisy):.2f}", ""],
        ["training mean image (no model)", "", "", "", f"{error(X_train.mean(axis=0)):.2f}", ""],
    ]
    reference = statistics.median(next(iter(times.values())))
    for name, est in models.items():
        n_params = sum(p.numel() for p in est.module_.parameters())
        denoised = est.inverse_transform(est.transform(X_noisy))
        clean = est.inverse_transform(est.transform(X_test))
        median = statistics.median(times[name])
        rows.append(
            [
                name,
                f"{n_params:,}",
                f"{median:.1f}",
                f"{median / reference:.2f}",
                f"{error(denoised):.2f}",
                f"{error(clean):.2f}",
            ]
        )
        print(rows[-1], flush=True)
    load_after = os.getloadavg()

    headers = ["DenoisingAutoencoder", "parameters", "median epoch (s)", "vs first"]
    body = table(rows, [*headers, "test error, from corrupted", "from clean"])
    body += (
        f"\n\n{args.rows} training images, {args.epochs} epochs each (alternated), K={K}, "
        f"noise={args.noise!r}, noise_level={args.level}, batch 256, Adam lr 1e-3, random_state=0. "
        "Test error: squared error of the reconstruction against the clean test image, summed over "
        "the 784 pixels, mean over the 10,000 test images; the test images are corrupted once with "
        f"the training noise (seed 0). Training wall time {train_wall / 60:.1f} min. \"From clean\" "
        "reconstructs the uncorrupted test images: with masking noise a network trained only on "
        "masked inputs has never seen that much ink, so it is expected to do worse there."
    )
    notes = (
        f"{args.threads} torch thread(s); load average {load_before[0]:.1f} at the start and "
        f"{load_after[0]:.1f} at the end (1-minute): the 2-core machine was shared with other jobs, "
        "so absolute times are inflated; the alternated epochs make the ratios between the rows "
        "the figures to read."
    )
    record("Convolutional vs fully connected DenoisingAutoencoder on MNIST (bench_conv.py)", body, args, notes)


if __name__ == "__main__":
    main()
