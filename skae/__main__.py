"""``python -m skae``: a one-minute demo on scikit-learn's bundled digits (no download).

Fits ``Pipeline(MinMaxScaler → Autoencoder → LogisticRegression)`` and prints its test accuracy beside
raw-pixel logistic regression and PCA with the same number of components.
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from . import Autoencoder, __version__


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, default=16, help="code size K (default 16)")
    parser.add_argument("--max-iter", type=int, default=150, help="autoencoder epochs (default 150)")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.random_state
    )
    K = args.n_components
    models = {
        "raw pixels + LogisticRegression": make_pipeline(
            MinMaxScaler(), LogisticRegression(max_iter=2000)
        ),
        f"PCA({K}) + LogisticRegression": make_pipeline(
            MinMaxScaler(), PCA(K, random_state=args.random_state), LogisticRegression(max_iter=2000)
        ),
        f"Autoencoder({K}) + LogisticRegression": make_pipeline(
            MinMaxScaler(),
            Autoencoder(
                n_components=K,
                hidden_layer_sizes=(256, 128),
                max_iter=args.max_iter,
                tol=1e-6,
                random_state=args.random_state,
            ),
            LogisticRegression(max_iter=2000),
        ),
    }
    print(f"skae {__version__} demo: digits, {len(X_train)} train / {len(X_test)} test images")
    print(f"{'model':<40} {'test accuracy':>14} {'fit time':>9}")
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            # The autoencoder trains a fixed epoch budget (tol=1e-6) on purpose: no convergence expected.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        print(f"{name:<40} {model.score(X_test, y_test):>14.4f} {elapsed:>8.1f}s")


if __name__ == "__main__":
    main()
