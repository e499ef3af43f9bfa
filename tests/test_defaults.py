"""Defaults that work without tuning, on real data as loaded: the floors scikit-learn's linear models set.

benchmarks/bench_defaults.py measures the same on breast_cancer, wine and diabetes at K = 2 and 5; this
test keeps the diabetes case (a few hundred rows of unscaled features) in the suite.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from skae import VAE, Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder


@pytest.fixture(scope="module")
def folds():
    X = load_diabetes().data.astype(np.float32)
    return X, list(KFold(2, shuffle=True, random_state=0).split(X))


def r2(X, R):
    """Variance-weighted reconstruction R² (one number over all features)."""
    X = X.astype(np.float64)
    return 1.0 - ((X - R) ** 2).sum() / ((X - X.mean(axis=0)) ** 2).sum()


def held_out_r2(cls, folds):
    """Mean held-out R² of ``cls(n_components=5)`` at its defaults, and of PCA(5), over the folds."""
    X, splits = folds
    est_r2, pca_r2 = [], []
    for fold, (train, test) in enumerate(splits):
        pca = PCA(5).fit(X[train])
        pca_r2.append(r2(X[test], pca.inverse_transform(pca.transform(X[test]))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = cls(n_components=5, random_state=fold).fit(X[train])
        est_r2.append(r2(X[test], est.inverse_transform(est.transform(X[test]))))
    return np.mean(est_r2), np.mean(pca_r2)


def test_default_autoencoder_reconstructs_at_least_as_well_as_pca(folds):
    ae, pca = held_out_r2(Autoencoder, folds)
    # Held-out R²: PCA about 0.81 here; the floor the issue sets is 99 % of it.
    assert ae >= 0.99 * pca, (ae, pca)


@pytest.mark.parametrize("cls", [SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder])
def test_default_regularized_autoencoders_keep_90_percent_of_pca(folds, cls):
    # The floor for every autoencoder at its defaults. With contraction_weight=0.1 (the
    # earlier default) the ContractiveAutoencoder fails it (0.85 of PCA's R² over bench_defaults' folds).
    est, pca = held_out_r2(cls, folds)
    assert est >= 0.90 * pca, (est, pca)


def test_default_vae_log_likelihood_reaches_factor_analysis(folds):
    X, splits = folds
    vae_ll, fa_ll = [], []
    for fold, (train, test) in enumerate(splits):
        fa_ll.append(FactorAnalysis(2, random_state=fold).fit(X[train]).score(X[test]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            vae = VAE(n_components=2, random_state=fold).fit(X[train])
        vae_ll.append(float(np.mean(vae.log_likelihood(X[test], n_importance_samples=200))))
    # Nats per sample, held out: at least FactorAnalysis's (a linear-Gaussian model, the VAE's special
    # case) minus one.
    assert np.mean(vae_ll) >= np.mean(fa_ll) - 1.0, (vae_ll, fa_ll)
