"""NeighborEmbeddingAutoencoder: the neighbour graph, its sampled edges, the embedding losses, the estimator."""

import io
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits, make_blobs
from sklearn.manifold import trustworthiness
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import Autoencoder, AutoencoderClassifier, DenoisingAutoencoder, NeighborEmbeddingAutoencoder
from skae._neighbor_graph import (
    NeighborBatches,
    _memberships,
    fuzzy_neighbor_graph,
    in_ordinary_units,
    principal_rows,
    umap_curve,
)
from skae._params import ENGINE_DEFAULT_OVERRIDES
from skae._penalties import cauchy_infonce, umap_cross_entropy
from skae.modules import ConvAutoencoderModule

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"hidden_layer_sizes": (32,), "max_iter": 5, "random_state": 0}
# The engine defaults the map changes (its training recipe), for the plain estimators it is compared with.
MAP_ENGINE = ENGINE_DEFAULT_OVERRIDES["NeighborEmbeddingAutoencoder"]


@pytest.fixture(scope="module")
def blobs():
    # Five well-separated clusters in 20-D, 60 rows each; the last 100 rows held out.
    X, y = make_blobs(n_samples=300, centers=5, n_features=20, cluster_std=1.0, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X[:200], y[:200], X[200:], y[200:]


# ---------------------------------------------------------------------------------- the graph


def test_memberships_sum_to_the_target_and_start_at_one():
    rng = np.random.RandomState(0)
    d = np.sort(rng.rand(50, 10) * 3, axis=1)
    w = _memberships(d, np.log2(11))
    np.testing.assert_allclose(w.sum(axis=1), np.log2(11), rtol=1e-6)
    np.testing.assert_allclose(w[:, 0], 1.0)  # the nearest neighbour is fully connected
    assert np.all(np.diff(w, axis=1) <= 1e-12)  # farther neighbours, smaller memberships


def test_graph_is_a_symmetric_fuzzy_union_of_the_neighbours(blobs):
    X = blobs[0]
    graph = fuzzy_neighbor_graph(X, 5)
    assert graph.shape == (200, 200) and graph.dtype == np.float32
    assert abs(graph - graph.T).max() < 1e-6
    assert graph.diagonal().max() == 0
    assert graph.data.min() > 0 and graph.data.max() <= 1 + 1e-6
    # Every row keeps at least its 5 nearest neighbours (the union can only add edges).
    assert np.diff(graph.indptr).min() >= 5
    # The fuzzy union of a and b is a + b - ab: check one edge by hand.
    from sklearn.neighbors import NearestNeighbors

    d, i = NearestNeighbors(n_neighbors=5).fit(X).kneighbors()
    A = sp.csr_matrix(
        (_memberships(d, np.log2(6)).ravel(), (np.repeat(np.arange(200), 5), i.ravel())), shape=(200, 200)
    ).toarray()
    j = i[0, 2]
    assert graph[0, j] == pytest.approx(A[0, j] + A[j, 0] - A[0, j] * A[j, 0], rel=1e-5)


def test_principal_rows_keep_the_distances_of_low_rank_data():
    # Rows on a 10-D subspace of 80-D: 50 principal components span it, so every distance is kept, the
    # neighbours with it; dense and sparse rows alike (scikit-learn picks a solver for each).
    from scipy.spatial.distance import pdist

    rng = np.random.RandomState(0)
    X = (rng.randn(120, 10) @ rng.randn(10, 80)).astype(np.float32)
    for rows in (X, sp.csr_matrix(X)):
        Z = principal_rows(rows, 50)
        assert Z.shape == (120, 50)
        np.testing.assert_allclose(pdist(Z), pdist(X), rtol=1e-3, atol=1e-3)
    # On full-rank rows the projection drops the directions of least variance: the distances shrink.
    Y = rng.randn(120, 80).astype(np.float32)
    assert np.all(pdist(principal_rows(Y, 10)) <= pdist(Y) + 1e-4)
    assert pdist(principal_rows(Y, 10)).mean() < 0.8 * pdist(Y).mean()
    # Nothing to project: no count, or a count not below min(n_samples, n_features).
    assert principal_rows(X, None) is X
    assert principal_rows(X, 80) is X  # as many components as features
    few = X[:40]
    assert principal_rows(few, 40) is few  # as many components as rows


def test_the_graph_is_searched_among_principal_components(monkeypatch):
    import skae._neighbor_embedding as neighbor_embedding

    searched = []

    def spy(X, n_neighbors, metric="euclidean", n_jobs=None):
        searched.append(X.shape[1])
        return fuzzy_neighbor_graph(X, n_neighbors, metric=metric, n_jobs=n_jobs)

    monkeypatch.setattr(neighbor_embedding, "fuzzy_neighbor_graph", spy)
    X = MinMaxScaler().fit_transform(load_digits().data[:150]).astype(np.float32)  # 64 pixels
    out = io.StringIO()
    with redirect_stdout(out):
        a = NeighborEmbeddingAutoencoder(verbose=1, **FAST).fit(X)
    assert "Neighbour graph: 150 rows, 15 neighbours among 50 principal components, " in out.getvalue()
    NeighborEmbeddingAutoencoder(graph_pca_components=20, **FAST).fit(X)
    NeighborEmbeddingAutoencoder(graph_pca_components=None, **FAST).fit(X)
    NeighborEmbeddingAutoencoder(metric="manhattan", **FAST).fit(X)  # other metrics see the features as given
    NeighborEmbeddingAutoencoder(**FAST).fit(X[:, :40])  # no more features than components
    NeighborEmbeddingAutoencoder(metric="l2", **FAST).fit(X)  # the euclidean distance by another name
    assert searched == [50, 20, 64, 64, 40, 50]
    # The network still reads every pixel, and the projection is deterministic.
    assert a.n_features_in_ == 64 and a.inverse_transform(a.transform(X[:2])).shape == (2, 64)
    np.testing.assert_array_equal(NeighborEmbeddingAutoencoder(**FAST).fit(X).transform(X), a.transform(X))
    with pytest.raises(ValueError, match="graph_pca_components"):
        NeighborEmbeddingAutoencoder(graph_pca_components=0).fit(X)


def test_tails_are_neighbours_drawn_by_membership():
    graph = sp.csr_matrix(np.array([[0, 1.0, 3.0, 0], [1.0, 0, 0, 0], [3.0, 0, 0, 0.5], [0, 0, 0.5, 0]]))
    batches = NeighborBatches(graph, n_tails=2)
    gen = torch.Generator().manual_seed(0)
    index = torch.zeros(20000, dtype=torch.int64)  # row 0 drawn many times
    out = batches.extend(index, gen)
    assert out.shape == (60000,) and batches.size == 40000
    assert torch.equal(out[:20000], index)
    tails = out[20000:].numpy()
    assert set(np.unique(tails)) == {1, 2}
    assert (tails == 2).mean() == pytest.approx(0.75, abs=0.01)
    out = batches.extend(torch.tensor([1, 3, 2]), gen)
    assert out[3:6].tolist()[:2] == [0, 2] and out[5] in (0, 3)


def test_a_row_without_neighbours_is_its_own_tail():
    graph = sp.csr_matrix(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]))
    out = NeighborBatches(graph).extend(torch.tensor([2, 0]), torch.Generator().manual_seed(0))
    assert out.tolist() == [2, 0, 2, 1]


def test_umap_curve_matches_umaps_constants():
    a, b = umap_curve(0.1)
    assert a == pytest.approx(1.577, abs=0.01) and b == pytest.approx(0.895, abs=0.01)


@pytest.mark.parametrize("min_dist", [0.0, 0.1, 0.5, 0.99])
def test_umap_curve_is_the_least_squares_fit_of_its_target(min_dist):
    # 1 / (1 + a d^(2b)) fitted to 1 below min_dist and exp(-(d - min_dist)) above: close to it, and
    # no nearby (a, b) fits better.
    d = np.linspace(0, 3, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist)))

    def error(a, b):
        return float(np.square(1 / (1 + a * d ** (2 * b)) - target).sum())

    a, b = umap_curve(min_dist)
    assert np.abs(1 / (1 + a * d ** (2 * b)) - target).max() < 0.11
    best = error(a, b)
    for da, db in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)]:
        assert error(a * da, b * db) > best


def test_cross_entropy_against_the_formula():
    gen = torch.Generator().manual_seed(0)
    head, tail = torch.randn(7, 2, generator=gen), torch.randn(7, 2, generator=gen)
    neg = torch.randn(7, 3, 2, generator=gen)
    a, b = 1.5, 0.9
    q = lambda d2: 1 / (1 + a * d2**b)  # noqa: E731
    expected = -torch.log(q(((head - tail) ** 2).sum(1))) - torch.log(1 - q(((head[:, None] - neg) ** 2).sum(2))).sum(1)
    torch.testing.assert_close(umap_cross_entropy(head, tail, neg, a, b, eps=0.0), expected)
    # Coincident points: finite, with a finite gradient.
    z = torch.zeros(1, 2, requires_grad=True)
    loss = umap_cross_entropy(z, z, z[:, None], a, b).sum()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_tsne_loss_against_the_formula():
    # Two blocks of tails behind 5 heads; each edge scored against every code of the step but its head's own.
    gen = torch.Generator().manual_seed(0)
    m, n_tails = 5, 2
    code = torch.randn((n_tails + 1) * m, 2, generator=gen, dtype=torch.float64)
    q = lambda u, v: 1 / (1 + ((u - v) ** 2).sum())  # noqa: E731
    expected = []
    for t in range(1, n_tails + 1):
        for i in range(m):
            pos = q(code[i], code[t * m + i])
            others = sum(q(code[i], code[p]) for p in range(len(code)) if p % m != i)
            expected.append(-torch.log(pos / (pos + others)))
    torch.testing.assert_close(cauchy_infonce(code, m), torch.stack(expected))
    # A step of one head has no negatives: no loss. Coincident codes: finite, with finite gradients.
    one = torch.randn(3, 2, generator=gen, requires_grad=True)
    loss = cauchy_infonce(one, 1)
    loss.sum().backward()
    assert loss.tolist() == [0.0, 0.0] and torch.isfinite(one.grad).all()
    same = torch.zeros(6, 2, requires_grad=True)
    loss = cauchy_infonce(same, 2).sum()
    loss.backward()
    assert loss.item() == pytest.approx(4 * np.log(4)) and torch.isfinite(same.grad).all()


# ---------------------------------------------------------------------------------- the estimator


def test_zero_weight_is_the_plain_autoencoder(blobs):
    X = blobs[0]
    ours = NeighborEmbeddingAutoencoder(embedding_weight=0.0, noise_level=0.0, **FAST).fit(X)
    plain = Autoencoder(n_components=2, alpha=0.0, scale_codes=False, **MAP_ENGINE, **FAST).fit(X)
    np.testing.assert_array_equal(ours.transform(X), plain.transform(X))
    assert ours.loss_curve_ == plain.loss_curve_


def test_zero_weight_with_input_noise_is_the_gaussian_denoising_autoencoder(blobs):
    # The noise is the DAE's Gaussian corruption, in units of each feature's scale, drawn from the
    # same stream: with no neighbour term the two train identically (here on features of unequal
    # scales, so that a noise in data units would differ).
    X = blobs[0] * np.linspace(0.1, 10.0, 20, dtype=np.float32)
    ours = NeighborEmbeddingAutoencoder(embedding_weight=0.0, noise_level=0.3, **FAST).fit(X)
    dae = DenoisingAutoencoder(n_components=2, noise="gaussian", noise_level=0.3, alpha=0.0, **MAP_ENGINE, **FAST)
    dae.fit(X)
    np.testing.assert_array_equal(ours.transform(X), dae.transform(X))
    assert ours.loss_curve_ == dae.loss_curve_
    plain = NeighborEmbeddingAutoencoder(embedding_weight=0.0, noise_level=0.0, **FAST).fit(X)
    assert not np.array_equal(ours.transform(X), plain.transform(X))


def test_input_noise_is_used_in_training_only(blobs):
    X, X_test = blobs[0], blobs[2]
    X_before = X.copy()
    noisy = NeighborEmbeddingAutoencoder(n_neighbors=10, noise_level=0.3, **FAST).fit(X)
    clean = NeighborEmbeddingAutoencoder(n_neighbors=10, noise_level=0.0, **FAST).fit(X)
    np.testing.assert_array_equal(X, X_before)  # the user's rows are not corrupted in place
    assert not np.array_equal(noisy.transform(X_test), clean.transform(X_test))
    # transform is the encoder on the clean rows and score_samples minus the clean round trip's error.
    with torch.inference_mode():
        code = noisy.module_.encode(torch.as_tensor(X_test, dtype=torch.float32))
        decoded = noisy.module_.decode(code).numpy()
    np.testing.assert_allclose(noisy.transform(X_test), code.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(noisy.score_samples(X_test), -((decoded - X_test) ** 2).mean(axis=1), rtol=1e-4,
                               atol=1e-6)
    again = NeighborEmbeddingAutoencoder(n_neighbors=10, noise_level=0.3, **FAST).fit(X)
    np.testing.assert_array_equal(again.transform(X_test), noisy.transform(X_test))


@pytest.mark.parametrize("embedding_loss", ["umap", "tsne"])
def test_the_map_keeps_neighbours_better_than_the_plain_autoencoder(blobs, embedding_loss):
    X, y, X_test, y_test = blobs
    params = {"hidden_layer_sizes": (64,), "max_iter": 40, "random_state": 0}
    ours = NeighborEmbeddingAutoencoder(n_neighbors=10, embedding_loss=embedding_loss, **params).fit(X)
    plain = Autoencoder(n_components=2, **params).fit(X)
    Z, Z_test = ours.transform(X), ours.transform(X_test)
    assert KNeighborsClassifier(1).fit(Z, y).score(Z_test, y_test) >= 0.98
    ours_tw = trustworthiness(X_test, Z_test, n_neighbors=5)
    plain_tw = trustworthiness(X_test, plain.transform(X_test), n_neighbors=5)
    assert ours_tw > plain_tw
    assert ours_tw > 0.9


def test_min_dist_and_negative_samples_shape_the_umap_term_only(blobs):
    X, X_test = blobs[0], blobs[2]

    def fitted(**kw):
        return NeighborEmbeddingAutoencoder(n_neighbors=10, **FAST, **kw).fit(X).transform(X_test)

    umap = fitted(embedding_loss="umap")
    assert not np.array_equal(umap, fitted(embedding_loss="umap", min_dist=0.5))
    assert not np.array_equal(umap, fitted(embedding_loss="umap", negative_sample_rate=2))
    tsne = fitted(embedding_loss="tsne")
    np.testing.assert_array_equal(tsne, fitted(embedding_loss="tsne", min_dist=0.5, negative_sample_rate=2))


def test_decodes_and_scores(blobs):
    X = blobs[0]
    est = NeighborEmbeddingAutoencoder(**FAST).fit(X)
    Z = est.transform(X)
    assert Z.shape == (200, 2) and Z.dtype == np.float32
    assert est.inverse_transform(Z).shape == (200, 20)
    assert np.isfinite(est.score(X))


def test_fewer_rows_than_neighbours_is_an_error():
    X = np.random.RandomState(0).rand(10, 4)
    expected = "Expected n_neighbors < n_samples, but n_neighbors = 15, n_samples = 10"
    with pytest.raises(ValueError, match=re.escape(expected)):
        NeighborEmbeddingAutoencoder(**FAST).fit(X)
    with pytest.raises(ValueError, match="n_samples = 1"):
        NeighborEmbeddingAutoencoder(**FAST).fit(X[:1])
    # early_stopping holds 1 row out of 10: 9 rows left to train on.
    with pytest.raises(ValueError, match="n_neighbors = 9, n_samples = 9 .rows early_stopping trains on"):
        NeighborEmbeddingAutoencoder(n_neighbors=9, early_stopping=True, **FAST).fit(X)
    # The failed fit leaves nothing behind; a valid one then works.
    est = NeighborEmbeddingAutoencoder(n_neighbors=9, **FAST)
    with pytest.raises(ValueError):
        est.fit(X[:5])
    assert "_graph_rows" not in vars(est)
    est.fit(X)
    assert "_graph_rows" not in vars(est)


def test_bad_parameters_are_errors(blobs):
    with pytest.raises(ValueError, match="embedding_weight"):
        NeighborEmbeddingAutoencoder(embedding_weight=-1.0).fit(blobs[0])
    with pytest.raises(ValueError, match="n_neighbors"):
        NeighborEmbeddingAutoencoder(n_neighbors=0).fit(blobs[0])
    with pytest.raises(ValueError, match="embedding_loss"):
        NeighborEmbeddingAutoencoder(embedding_loss="tsne-exact").fit(blobs[0])
    with pytest.raises(ValueError, match="noise_level"):
        NeighborEmbeddingAutoencoder(noise_level=-0.1).fit(blobs[0])


def test_cannot_be_the_classifiers_autoencoder(blobs):
    X, y = blobs[0], blobs[1]
    clf = AutoencoderClassifier(NeighborEmbeddingAutoencoder(**FAST), max_iter=2)
    with pytest.raises(ValueError, match="cannot be the autoencoder of another"):
        clf.fit(X, y)


def test_determinism_and_persistence(blobs):
    X = blobs[0]
    a = NeighborEmbeddingAutoencoder(**FAST).fit(X)
    b = NeighborEmbeddingAutoencoder(**FAST).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    other = NeighborEmbeddingAutoencoder(embedding_loss="tsne" if a.embedding_loss == "umap" else "umap", **FAST)
    assert not np.array_equal(other.fit(X).transform(X), a.transform(X))  # the loss option is used
    c = NeighborEmbeddingAutoencoder(**{**FAST, "random_state": 1}).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), a.transform(X))
    # The fitted model holds the network, not the graph nor the training rows.
    assert not any(sp.issparse(v) or isinstance(v, np.ndarray) and v.shape[0] == 200 for v in vars(a).values())


def test_pipeline_and_grid_search_over_the_weight(blobs):
    X = blobs[0]
    pipe = make_pipeline(MinMaxScaler(), NeighborEmbeddingAutoencoder(n_neighbors=5, **FAST))
    grid = GridSearchCV(pipe, {"neighborembeddingautoencoder__embedding_weight": [0.0, 1.0]}, cv=2).fit(X)
    assert grid.best_estimator_.transform(X).shape == (200, 2)
    assert len(grid.cv_results_["mean_test_score"]) == 2


def test_early_stopping_partial_fit_sparse_and_verbose(blobs):
    X = blobs[0]
    est = NeighborEmbeddingAutoencoder(early_stopping=True, **FAST).fit(X)
    assert len(est.validation_scores_) == est.n_iter_
    est = NeighborEmbeddingAutoencoder(**FAST)
    for chunk in np.array_split(X, 2):
        est.partial_fit(chunk)
    assert est.n_iter_ == 2
    Xs = sp.random(100, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    assert NeighborEmbeddingAutoencoder(**FAST).fit(Xs).transform(Xs).shape == (100, 2)
    out = io.StringIO()
    with redirect_stdout(out):
        NeighborEmbeddingAutoencoder(verbose=1, **{**FAST, "max_iter": 2}).fit(X)
    assert "Neighbour graph: 200 rows, 15 neighbours" in out.getvalue()
    assert "Iteration 2" in out.getvalue()


def test_convolutional_module():
    X = MinMaxScaler().fit_transform(load_digits().data[:200]).astype(np.float32)
    est = NeighborEmbeddingAutoencoder(
        module=ConvAutoencoderModule,
        module_params={"image_shape": (8, 8), "channels": (4, 8)},
        max_iter=2,
        random_state=0,
    ).fit(X)
    assert est.transform(X).shape == (200, 2)
    assert est.inverse_transform(est.transform(X[:3])).shape == (3, 64)


@pytest.mark.parametrize("unit", [1e-19, 1e19, 1e-39])  # 1e-39: subnormal float32, a factor beyond its range
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_the_graph_is_the_same_in_units_whose_squares_leave_float32(unit, sparse):
    # Pixels in units of 1e-19 gave PCA no variance (float32 squares underflow) and a graph of other
    # neighbours, 2,586 of its entries changed on 500 digits; in units of 1e19, memberships of NaN.
    # A power of two brings the rows back to ordinary units: the same neighbours, memberships equal
    # up to float32's rounding of the distances.
    X = (load_digits().data[:300] / 16).astype(np.float32)
    scaled = X * np.float32(unit)
    if sparse:
        X, scaled = sp.csr_matrix(X), sp.csr_matrix(scaled)
    reference = fuzzy_neighbor_graph(principal_rows(in_ordinary_units(X), 20), 5)
    assert in_ordinary_units(X) is X  # ordinary units: untouched, bit for bit
    graph = fuzzy_neighbor_graph(principal_rows(in_ordinary_units(scaled), 20), 5)
    assert np.array_equal(graph.indices, reference.indices) and np.array_equal(graph.indptr, reference.indptr)
    np.testing.assert_allclose(graph.data, reference.data, atol=1e-4)


@pytest.mark.parametrize("unit", [1e-19, 1e19])
def test_the_map_is_the_same_in_units_whose_squares_leave_float32(unit):
    X = (load_digits().data[:300] / 16).astype(np.float64)
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0, conditioning="standard")
    plain = NeighborEmbeddingAutoencoder(**params).fit(X)
    scaled = NeighborEmbeddingAutoencoder(**params).fit(X * unit)
    np.testing.assert_allclose(scaled.transform(X * unit), plain.transform(X), atol=1e-4)
