"""``verbose`` progress: tqdm's bars where tqdm is installed, plain lines without it."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skae._progress
from skae import VAE, Autoencoder

X = np.random.RandomState(0).rand(300, 6).astype(np.float32)
BIG = np.random.RandomState(1).rand(5000, 6).astype(np.float32)  # 3 inference batches of 2048 rows


def small(**kw):
    params = dict(n_components=2, hidden_layer_sizes=(8,), batch_size=100, max_iter=3, tol=0, random_state=0)
    params.update(kw)
    return Autoencoder(**params)


def fit_quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


class _FakeTqdm:
    """The part of tqdm's interface skae uses, for environments without tqdm."""

    def __init__(self, total=None, desc=None, unit="it", leave=True, dynamic_ncols=False):
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0

    def update(self, n=1):
        self.n += n

    def set_postfix(self, postfix, refresh=True):
        self.postfix = dict(postfix)

    @staticmethod
    def write(line, file=None):
        print(line, file=file or sys.stdout)

    def close(self):
        pass


def _base_tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _FakeTqdm
    return tqdm


@pytest.fixture
def bars(monkeypatch):
    """The bars skae opens, through tqdm (the real one if importable)."""
    opened = []
    base = _base_tqdm()

    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(skae._progress, "_tqdm", lambda: Recording)
    return opened


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setattr(skae._progress, "_tqdm", lambda: None)


def test_without_tqdm_lines_and_a_plain_batch_bar(no_tqdm, capsys):
    fit_quietly(small(verbose=1), X)
    out = capsys.readouterr().out
    assert [ln.split(",")[0] for ln in out.splitlines()] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    fit_quietly(small(verbose=2, max_iter=1), X)
    out = capsys.readouterr().out
    assert "3/3 batches" in out and "Iteration 1, loss = " in out
    # partial_fit at verbose=1: its line, no bar.
    small(verbose=1).partial_fit(X)
    assert capsys.readouterr().out.startswith("Iteration 1, loss = ")
    # A long inference pass: a plain bar over its batches.
    est = fit_quietly(small(), X)
    est.set_params(verbose=1).score_samples(BIG)
    assert "3/3 batches" in capsys.readouterr().out
    est.score_samples(X)  # one batch: no bar
    assert capsys.readouterr().out == ""


def test_silent_by_default(bars, capsys):
    est = fit_quietly(small(), X)
    est.partial_fit(X)
    est.score_samples(BIG)
    out, err = capsys.readouterr()
    assert out == "" and err == "" and bars == []


def test_with_tqdm_a_bar_over_the_epochs(bars, capsys):
    est = fit_quietly(small(verbose=1, max_iter=4), X)
    assert len(bars) == 1
    assert (bars[0].total, bars[0].n, bars[0].unit, bars[0].desc) == (4, 4, "epoch", "Autoencoder")
    # The epoch lines are still printed, through the bar.
    assert sum(ln.startswith("Iteration") for ln in capsys.readouterr().out.splitlines()) == 4
    # verbose=2 adds a bar over each epoch's batches.
    bars.clear()
    fit_quietly(small(verbose=2, max_iter=2), X)
    assert [(b.unit, b.total, b.n) for b in bars] == [("epoch", 2, 2), ("batches", 3, 3), ("batches", 3, 3)]
    # A time-boxed fit's bar stops where the fit did.
    bars.clear()
    est = small(verbose=1, max_iter=1000, max_time=1e-9).fit(X)
    assert bars[0].n == est.n_iter_ == 1


def test_with_tqdm_partial_fit_and_inference(bars, capsys):
    est = small(verbose=1)
    est.partial_fit(X)
    est.partial_fit(X)
    assert [(b.unit, b.total, b.n) for b in bars] == [("batches", 3, 3)] * 2
    bars.clear()
    est.score_samples(BIG)
    est.transform(X)  # one batch: no bar
    assert [(b.unit, b.total, b.n) for b in bars] == [("batches", 3, 3)]
    bars.clear()
    vae = VAE(n_components=2, hidden_layer_sizes=(8,), max_iter=1, n_importance_samples=2, random_state=0)
    fit_quietly(vae, X)
    vae.set_params(verbose=1).log_likelihood(BIG)
    assert [(b.unit, b.total, b.n) for b in bars] == [("batches", 3, 3)]
    capsys.readouterr()
