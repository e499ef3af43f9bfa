"""Bit-identical outputs across a refactor: every estimator fitted here and at another revision.

Fits each skae estimator (and the semi-supervised classifier in three ways, and the outlier
detector) on 400 digits with fixed seeds, one torch thread, and hashes its outputs (codes,
reconstructions, loss curves, probabilities, scores). With ``--against REV`` it runs the same
fits at that git revision (a temporary worktree, in a subprocess) and compares hash by hash: a
refactor that is meant to change nothing must leave every hash equal, and so every benchmark
figure that comes from these code paths.

    python benchmarks/bench_identical.py --against 6767c05
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, parser, record, table  # noqa: E402


def fingerprints():
    """``{name: hash}`` of the outputs of every estimator of the ``skae`` on ``sys.path``."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import MinMaxScaler

    import skae

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)[:400].astype(np.float32)
    y_semi = y[:400].copy()
    y_semi[40:] = -1
    kw = dict(max_iter=4, random_state=0)
    small = dict(hidden_layer_sizes=(32,), **kw)
    estimators = {
        "Autoencoder (dropout)": skae.Autoencoder(8, dropout=0.2, **small),
        "Autoencoder (pretraining)": skae.Autoencoder(
            8, hidden_layer_sizes=(32, 16), pretraining="autoencoder", pretraining_max_iter=2, **kw),
        "SparseAutoencoder (topk)": skae.SparseAutoencoder(16, sparsity="topk", k=4, **small),
        "DenoisingAutoencoder (masking)": skae.DenoisingAutoencoder(8, noise="masking", noise_level=0.3, **small),
        "ContractiveAutoencoder (exact, dropout)": skae.ContractiveAutoencoder(
            6, contraction_estimator="exact", dropout=0.2, **small),
        "ContractiveAutoencoder (stochastic)": skae.ContractiveAutoencoder(
            6, contraction_estimator="stochastic", **small),
        "VAE (full posterior)": skae.VAE(4, posterior="full", **small),
        "VAE (bernoulli)": skae.VAE(4, likelihood="bernoulli", **small),
        "LadderAutoencoder": skae.LadderAutoencoder(10, **small),
        "HashingAutoencoder": skae.HashingAutoencoder(16, **small),
    }
    outputs = {}
    for name, est in estimators.items():
        codes = est.fit_transform(X)
        outputs[name] = [codes, est.inverse_transform(codes), np.asarray(est.loss_curve_)]
    clf = skae.AutoencoderClassifier(**kw).fit(X, y_semi)
    outputs["AutoencoderClassifier (ladder)"] = [clf.predict_proba(X), np.asarray(clf.loss_curve_)]
    clf = skae.AutoencoderClassifier(skae.Autoencoder(8, hidden_layer_sizes=(32,)), pretrain_epochs=2,
                                     early_stopping=True, **kw).fit(X, y_semi)
    outputs["AutoencoderClassifier (pretrain, early stopping)"] = [clf.predict_proba(X), np.asarray(clf.loss_curve_)]
    clf = skae.AutoencoderClassifier(skae.Autoencoder(8, hidden_layer_sizes=(32,)), **kw)
    for _ in range(2):
        clf.partial_fit(X, y_semi, classes=np.arange(10))
    outputs["AutoencoderClassifier (partial_fit)"] = [clf.predict_proba(X)]
    outputs["AutoencoderOutlierDetector"] = [skae.AutoencoderOutlierDetector(random_state=0).fit(X).score_samples(X)]
    return {
        name: hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()[:16]
        for name, arrays in outputs.items()
    }


def at_revision(rev):
    """The fingerprints of git revision ``rev``, from a temporary worktree."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
        try:
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, __file__, "--print", "--tree", str(tree)], env=env, check=True,
                                 cwd=tmp, capture_output=True, text=True).stdout
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    return dict(line.split("\t") for line in out.splitlines() if "\t" in line)


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--against", default=None, help="git revision to compare with")
    p.add_argument("--print", action="store_true", help="print this checkout's hashes only")
    p.add_argument("--tree", default=None, help=argparse.SUPPRESS)  # the skae to import (--against)
    args = p.parse_args()
    if args.tree:
        sys.path[:] = [args.tree] + [d for d in sys.path if Path(d or ".").resolve() != ROOT]
    here = fingerprints()
    if args.tree:
        import skae

        assert Path(skae.__file__).resolve().is_relative_to(Path(args.tree).resolve()), skae.__file__
    if args.print:
        for name, h in here.items():
            print(f"{name}\t{h}")
        return
    other = at_revision(args.against) if args.against else {}
    rows = [[name, h, other.get(name, ""), "" if not other else ("same" if other.get(name) == h else "DIFFERENT")]
            for name, h in here.items()]
    head = ["estimator (400 digits, 4 epochs, seed 0)", "outputs hash here", f"at {args.against}", "bits"]
    same = sum(r[3] == "same" for r in rows)
    verdict = f"\n{same} of {len(rows)} identical to the last bit." if other else ""
    record("bench_identical: every estimator's outputs, bit for bit", table(rows, head) + verdict, args)


if __name__ == "__main__":
    main()
