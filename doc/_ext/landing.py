"""The landing page's figure: measured facts from benchmarks/RESULTS.md, drawn at build time.

Every number below is copied from an entry of ``benchmarks/log/RESULTS-log.md`` (named in the comment
beside it); when a benchmark is rerun, update the number here and in ``doc/index.rst``.
"""

# bench_mnist_hinton, 2026-12-03 19:22 (PCA: the same run): MNIST test error (squared error summed
# over the 784 pixels, mean over the 10,000 test images) of 30-number codes.
RECONSTRUCTION = [
    ("PCA, 30 components", 13.866, "measured here"),
    ("skae Autoencoder\n784-1000-500-250-30", 3.370, "one fit, 14 min, 2 CPU cores"),
    ("Hinton & Salakhutdinov\n(2006), same network", 3.00, "published"),
]

# bench_speed, 2026-11-26 23:35 (quiet machine, 2 threads): seconds per training epoch on the 60,000
# MNIST images, 784-1000-500-250-30, batch 256, relative to a minimal hand-written PyTorch loop.
EPOCH_TIME = [
    ("scikit-learn MLPRegressor", 1.290),
    ("hand-written PyTorch loop", 1.000),
    ("skorch", 0.978),
    ("skae", 0.903),
    ("skae, precision='bfloat16'", 0.499),
]


def draw(path):
    """Write the figure to ``path`` (PNG at 200 dpi: sharp on HiDPI screens at half its size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skae_color, other = "#1f77b4", "#b0b0b0"
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9, 3.1), layout="constrained", gridspec_kw={"width_ratios": [1, 1.05]}
    )

    names = [name for name, _, _ in RECONSTRUCTION]
    values = [value for _, value, _ in RECONSTRUCTION]
    colors = [skae_color if name.startswith("skae") else other for name in names]
    bars = left.barh(names, values, color=colors)
    for bar, (_, value, note) in zip(bars, RECONSTRUCTION, strict=True):
        left.text(
            value + 0.3, bar.get_y() + bar.get_height() / 2, f"{value:.2f}  ({note})",
            va="center", fontsize=8,
        )  # fmt: skip
    left.invert_yaxis()
    left.set_xlim(0, 22)
    left.set_xlabel("test reconstruction error per image\n(lower is better)", fontsize=9)
    left.set_title("MNIST, 30 numbers per image", fontsize=10)

    names = [name for name, _ in EPOCH_TIME]
    values = [value for _, value in EPOCH_TIME]
    colors = [skae_color if name.startswith("skae") else other for name in names]
    bars = right.barh(names, values, color=colors)
    for bar, value in zip(bars, values, strict=True):
        right.text(
            value + 0.02, bar.get_y() + bar.get_height() / 2, f"{value:.2f}",
            va="center", fontsize=8, zorder=3,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )  # fmt: skip
    right.axvline(1.0, color="black", lw=0.8, ls=":", zorder=0)
    right.invert_yaxis()
    right.set_xlim(0, 1.5)
    right.set_xlabel("epoch time relative to the PyTorch loop\n(lower is better)", fontsize=9)
    right.set_title("Training speed, 2 CPU cores", fontsize=10)

    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="y", labelsize=8)
    fig.savefig(path, dpi=200)
    plt.close(fig)
