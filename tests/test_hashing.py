"""HashingAutoencoder (binary codes) and HammingIndex (exact Hamming k-NN search)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

import skae._hamming as hamming
from skae import HammingIndex, HashingAutoencoder
from skae.nn.autoencoder import AutoencoderModule

# Short fits on purpose: their ConvergenceWarnings are expected (pytest.warns still sees them).
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def small(**kw):
    params = dict(n_components=12, hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    params.update(kw)
    return HashingAutoencoder(**params)


def random_codes(rng, n, n_bits, p=0.5):
    """Codes with many exact ties (few bits or biased bits) as well as spread-out ones."""
    return (rng.rand(n, n_bits) < p).astype(np.float32)


def brute_force(queries, database, k):
    """The oracle: all distances, then a stable sort (ties in database order)."""
    D = (queries[:, None, :] != database[None, :, :]).sum(-1)
    ind = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, ind, axis=1), ind


# --------------------------------------------------------------------------- the codes


@pytest.mark.parametrize("binarization", ["straight_through", "sigmoid"])
def test_codes_are_exactly_binary(digits, binarization):
    X, _ = digits
    hasher = small(binarization=binarization).fit(X[:400])
    codes = hasher.transform(X)
    assert codes.shape == (len(X), 12) and codes.dtype == np.float32
    assert set(np.unique(codes).tolist()) <= {0.0, 1.0}
    packed = hasher.transform_packed(X)
    assert packed.shape == (len(X), 2) and packed.dtype == np.uint8
    assert np.array_equal(np.unpackbits(packed, axis=1, count=12), codes)
    assert np.array_equal(packed, np.packbits(codes.astype(bool), axis=1))


def test_bits_are_balanced_by_the_standardized_code(digits):
    # The code pre-activations are centered per unit: every bit splits the data, none is constant.
    X, _ = digits
    hasher = small(max_iter=10).fit(X)
    usage = hasher.transform(X).mean(axis=0)
    assert usage.min() > 0.2 and usage.max() < 0.8, usage


def test_transform_matches_the_sign_of_the_standardized_logits(digits):
    X, _ = digits
    hasher = small().fit(X)
    module = hasher.module_
    with torch.no_grad():
        raw = AutoencoderModule.encode(module, torch.from_numpy(X))  # the code pre-activation
        z = (raw - module.code_mean) / torch.sqrt(module.code_var + 1e-5)
    assert np.array_equal(hasher.transform(X), (z > 0).numpy().astype(np.float32))


def test_score_samples_reconstructs_from_the_bits(digits):
    X, _ = digits
    hasher = small().fit(X)
    recon = hasher.inverse_transform(hasher.transform(X))
    np.testing.assert_allclose(hasher.score_samples(X), -((recon - X) ** 2).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_jacobian_of_piecewise_constant_codes_is_zero(digits):
    X, _ = digits
    J = small().fit(X).jacobian(X[:3])
    assert J.shape == (3, 12, 64) and not J.any()


def test_noise_level_auto_and_explicit(digits):
    X, _ = digits
    auto = small().fit(X[:300]).transform(X)
    explicit = small(noise_level=1.5).fit(X[:300]).transform(X)
    assert np.array_equal(auto, explicit)
    assert not np.array_equal(auto, small(noise_level=0.0).fit(X[:300]).transform(X))
    # With sigmoid bits, "auto" is Salakhutdinov & Hinton's 4 logits.
    auto = small(binarization="sigmoid").fit(X[:300]).transform(X)
    assert np.array_equal(auto, small(binarization="sigmoid", noise_level=4.0).fit(X[:300]).transform(X))
    assert not np.array_equal(auto, small(binarization="sigmoid", noise_level=1.5).fit(X[:300]).transform(X))


def test_learned_codes_beat_random_hyperplanes(digits):
    """Labels of the 10 Hamming neighbours agree more often with learned bits than with LSH bits."""
    X, y = digits
    X_db, y_db, X_q, y_q = X[:1400], y[:1400], X[1400:], y[1400:]
    hasher = HashingAutoencoder(n_components=16, hidden_layer_sizes=(64,), max_iter=30, random_state=0).fit(X_db)

    def agreement(db, q):
        ind = HammingIndex(n_neighbors=10).fit(db).kneighbors(q, return_distance=False)
        return (y_db[ind] == y_q[:, None]).mean()

    planes = np.random.RandomState(0).normal(size=(64, 16))
    mean = X_db.mean(axis=0)
    lsh = agreement((X_db - mean) @ planes > 0, (X_q - mean) @ planes > 0)
    learned = agreement(hasher.transform(X_db), hasher.transform(X_q))
    assert learned > lsh + 0.1, (learned, lsh)


def test_fit_is_deterministic(digits):
    X, _ = digits
    a, b = small().fit(X), small().fit(X)
    assert np.array_equal(a.transform(X), b.transform(X))
    for key, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[key]), key
    assert not np.array_equal(a.transform(X), small(random_state=1).fit(X).transform(X))


def test_pickle_keeps_codes_and_statistics(digits):
    X, _ = digits
    hasher = small().fit(X)
    loaded = pickle.loads(pickle.dumps(hasher))
    assert torch.equal(loaded.module_.code_mean, hasher.module_.code_mean)
    assert torch.equal(loaded.module_.code_var, hasher.module_.code_var)
    assert np.array_equal(loaded.transform_packed(X), hasher.transform_packed(X))

    codes = hasher.transform(X)
    index = HammingIndex(n_neighbors=3).fit(codes)
    loaded_index = pickle.loads(pickle.dumps(index))
    for a, b in zip(index.kneighbors(codes[:50]), loaded_index.kneighbors(codes[:50])):
        assert np.array_equal(a, b)


def test_bad_parameters(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="binarization"):
        small(binarization="sign").fit(X)
    with pytest.raises(ValueError, match="noise_level"):
        small(noise_level=-1.0).fit(X)
    with pytest.raises(NotFittedError):
        small().transform_packed(X)
    with pytest.raises(ValueError, match="features"):
        small().fit(X).transform_packed(X[:, :10])


# --------------------------------------------------------------------------- the search


@pytest.mark.parametrize(
    "n_bits, p, k",
    [(8, 0.5, 20), (16, 0.2, 7), (64, 0.5, 10), (70, 0.3, 5), (300, 0.5, 3)],
)
@pytest.mark.parametrize("blocks", ["default", "small"])
def test_kneighbors_matches_brute_force(n_bits, p, k, blocks, monkeypatch):
    if blocks == "small":
        # Many query blocks and database blocks: the buffering and merging of candidates is exercised.
        monkeypatch.setattr(hamming, "_QUERY_BLOCK", 7)
        monkeypatch.setattr(hamming, "_BLOCK_PAIRS", 7 * 50)
    rng = np.random.RandomState(n_bits)
    database, queries = random_codes(rng, 1200, n_bits, p), random_codes(rng, 40, n_bits, p)
    dist, ind = HammingIndex(n_neighbors=k).fit(database).kneighbors(queries)
    expected_dist, expected_ind = brute_force(queries, database, k)
    assert dist.dtype == np.int64 and ind.dtype == np.int64
    assert np.array_equal(dist, expected_dist)
    assert np.array_equal(ind, expected_ind)  # including the order of ties


@pytest.mark.parametrize("n_bits", [10, 64])
def test_kneighbors_agrees_with_sklearn_hamming(n_bits):
    rng = np.random.RandomState(0)
    database, queries = random_codes(rng, 500, n_bits), random_codes(rng, 30, n_bits)
    k = 6
    dist, ind = HammingIndex(n_neighbors=k).fit(database).kneighbors(queries)
    sk_dist, sk_ind = NearestNeighbors(n_neighbors=k, metric="hamming").fit(database).kneighbors(queries)
    # scikit-learn's distance is the fraction of differing bits; its tie order is unspecified, so
    # indices are compared where a row's distances are all distinct.
    np.testing.assert_allclose(sk_dist * n_bits, dist)
    distinct = np.array([len(set(row)) == k for row in dist.tolist()])
    assert np.array_equal(ind[distinct], sk_ind[distinct])


def test_packed_and_unpacked_codes_give_the_same_neighbours():
    rng = np.random.RandomState(0)
    database, queries = random_codes(rng, 300, 20), random_codes(rng, 25, 20)
    unpacked = HammingIndex(n_neighbors=4).fit(database).kneighbors(queries)
    pack = lambda codes: np.packbits(codes.astype(bool), axis=1)  # noqa: E731
    index = HammingIndex(n_neighbors=4, packed=True).fit(pack(database))
    assert index.n_bits_ == 24  # 3 bytes; the 4 padding bits are 0 in every code
    packed = index.kneighbors(pack(queries))
    for a, b in zip(unpacked, packed):
        assert np.array_equal(a, b)
    bools = HammingIndex(n_neighbors=4).fit(database.astype(bool)).kneighbors(queries.astype(np.int8))
    for a, b in zip(unpacked, bools):
        assert np.array_equal(a, b)


def test_query_the_database_itself_excludes_each_sample():
    rng = np.random.RandomState(0)
    database = random_codes(rng, 200, 6)  # 64 possible codes for 200 rows: many duplicates
    dist, ind = HammingIndex(n_neighbors=3).fit(database).kneighbors()
    assert not (ind == np.arange(200)[:, None]).any()
    sk_dist, _ = NearestNeighbors(n_neighbors=3, metric="hamming").fit(database).kneighbors()
    np.testing.assert_allclose(sk_dist * 6, dist)
    full = np.argsort((database[:, None] != database[None]).sum(-1), axis=1, kind="stable")
    # Each row's neighbours: the stable order with the row itself removed.
    expected = np.array([[j for j in row if j != i][:3] for i, row in enumerate(full[:, :5].tolist())])
    assert np.array_equal(ind, expected)


def test_return_distance_false_and_default_neighbours():
    rng = np.random.RandomState(0)
    database = random_codes(rng, 50, 16)
    index = HammingIndex().fit(database)
    ind = index.kneighbors(database[:4], return_distance=False)
    assert ind.shape == (4, 5)
    assert np.array_equal(index.kneighbors(database[:4])[0][:, 0], np.zeros(4))  # each finds its own code
    assert index.kneighbors(database[:4], n_neighbors=50)[1].shape == (4, 50)


def test_hamming_index_bad_input():
    rng = np.random.RandomState(0)
    database = random_codes(rng, 20, 16)
    with pytest.raises(ValueError, match="0 or 1 per bit"):
        HammingIndex().fit(database * 2 - 1)  # sign codes {-1, 1}
    with pytest.raises(ValueError, match="0 or 1 per bit"):
        HammingIndex().fit(database + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        HammingIndex().fit(np.where(database == 1, np.nan, 0.0))
    with pytest.raises(ValueError, match="uint8"):
        HammingIndex(packed=True).fit(database)
    with pytest.raises(ValueError, match="2D array"):
        HammingIndex().fit(database[0])
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        HammingIndex(n_neighbors=0).fit(database)
    with pytest.raises(ValueError, match="packed must be True or False"):
        HammingIndex(packed="yes").fit(database)
    with pytest.raises(NotFittedError):
        HammingIndex().kneighbors(database)
    index = HammingIndex().fit(database)
    with pytest.raises(ValueError, match="codes of 15 bits, but this HammingIndex was fitted with codes of 16"):
        index.kneighbors(database[:, :15])
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        index.kneighbors(database, n_neighbors=21)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        index.kneighbors(n_neighbors=20)  # the database itself: 19 other samples
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        index.kneighbors(database, n_neighbors=2.5)
