"""``python -m skae``: the README's first command runs and prints both comparisons."""

from skae.__main__ import main


def test_demo_runs_and_prints_both_comparisons(capsys):
    main(["--draws", "1", "--max-iter", "2"])
    out = capsys.readouterr().out
    assert "1. Few labels: 30 labeled training images" in out
    assert "skae AutoencoderClassifier(max_iter=2)" in out
    assert "LabelSpreading(knn) on all rows" in out
    assert "2. Denoising" in out and "skae DenoisingAutoencoder(32)" in out
    assert "nan" not in out.lower()
