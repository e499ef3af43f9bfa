"""``python -m skae``: the README's first command runs and prints its four comparisons, in order."""

import numpy as np
import pytest

import skae.__main__ as skae_main
from skae import SparseAutoencoder
from skae.__main__ import main

TINY = ["--features-max-iter", "1", "--denoising-max-iter", "1", "--outlier-digits", "0", "--outlier-max-iter", "1",
        "--draws", "2"]


def test_demo_runs_and_prints_the_four_comparisons_in_order(capsys):
    main(TINY)
    out = capsys.readouterr().out
    parts = ["1. Features before a classifier", "2. Denoising", "3. Outlier detection", "4. Few labels"]
    assert [out.index(part) for part in parts] == sorted(out.index(part) for part in parts)
    # each skae row beside the scikit-learn routes a user would otherwise take
    features = skae_main.FEATURES_ESTIMATOR  # whatever the features issue sets there
    for row in ["pixels", f"PCA({min(features.n_components, 64)})", "BernoulliRBM(100)",
                f"skae {type(features).__name__} + grid", f"skae {type(features).__name__}: {type(features).__name__}(",
                f"GridSearchCV({skae_main.FEATURES_CV}-fold)",
                "PCA, best of K", "skae DenoisingAutoencoder(32)", "IsolationForest()",
                "skae AutoencoderOutlierDetector()", "LogisticRegression, labeled rows' pixels",
                "LabelSpreading(knn), all rows' pixels", "LabelSpreading(knn), all rows' skae codes"]:
        assert row in out, row
    assert "each of 1 digits" in out and "over 2 label draws" in out
    short = out[out.index("In short"):]
    for part in ["features before a classifier", "denoising", "outlier detection", "few labels"]:
        assert any(f"{part} (" in line and any(v in line for v in ("ahead", "level", "behind"))
                   for line in short.splitlines()), part
    assert "Saved the figure" not in out  # only with --plot
    assert "nan" not in out.lower()


def test_the_features_estimator_and_grid_are_one_place(monkeypatch, capsys):
    """Part 1 reads FEATURES_ESTIMATOR and FEATURES_GRID (what the features issue's defaults replace)."""
    monkeypatch.setattr(skae_main, "FEATURES_ESTIMATOR", SparseAutoencoder(n_components=5, max_iter=1))
    monkeypatch.setattr(skae_main, "FEATURES_GRID", {"sparsity_weight": [0.5], "alpha": [0.0, 0.1]})
    main(TINY)
    out = capsys.readouterr().out
    assert "PCA(5)" in out and "skae SparseAutoencoder + grid" in out
    assert "skae SparseAutoencoder: SparseAutoencoder(max_iter=1, n_components=5)" in out  # the row's settings
    assert "alpha=0, sparsity_weight=0.5: " in out and "alpha=0.1, sparsity_weight=0.5: " in out
    assert "chose alpha=" in out


def test_demo_plot_saves_one_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "demo.png"
    main([*TINY, "--plot", str(path)])
    assert f"Saved the figure to {path}" in capsys.readouterr().out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nudged_is_each_image_and_its_four_one_pixel_shifts():
    from scipy.ndimage import shift

    X = np.random.RandomState(0).rand(3, 64)
    nudged, labels = skae_main._nudged(X, np.array([7, 8, 9]))
    images = X.reshape(-1, 8, 8)
    expected = [images, *(shift(images, (0, dy, dx), order=0, cval=0) for dy, dx in skae_main._SHIFTS)]
    expected = np.concatenate(expected).reshape(-1, 64)
    # The same rows, mixed: sort both by their bytes to compare.
    key = lambda rows: sorted(map(bytes, rows.astype(np.float64)))  # noqa: E731
    assert key(nudged) == key(expected)
    assert sorted(labels.tolist()) == [7] * 5 + [8] * 5 + [9] * 5
    row = {bytes(r.astype(np.float64)): lab for r, lab in zip(nudged, labels)}
    assert [row[bytes(r)] for r in expected[:3]] == [7, 8, 9]


def test_verdict_calls_a_gap_within_the_draws_sd_level():
    """The closing lines judge a win as the benchmarks do: a mean ahead by at most one sd is level."""
    rows = {"skae": 0.916, "pixels": 0.912}
    assert skae_main._verdict(rows, {"skae": 0.004, "pixels": 0.023}, "skae", "pixels", True).startswith("level")
    assert skae_main._verdict(rows, {"skae": 0.001, "pixels": 0.002}, "skae", "pixels", True) == "ahead"
    assert skae_main._verdict(rows, None, "skae", "pixels", True) == "ahead"  # single runs: no spread to weigh
    assert skae_main._verdict(rows, None, "pixels", "skae", True) == "behind"
    # lower is better (an error): the smaller one is ahead
    assert skae_main._verdict({"skae": 0.02, "pca": 0.03}, None, "skae", "pca", False) == "ahead"
    assert skae_main._verdict({"skae": 0.02, "pca": 0.03}, {"skae": 0.0, "pca": 0.02}, "skae", "pca",
                              False).startswith("level")
