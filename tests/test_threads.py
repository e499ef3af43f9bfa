"""The training loop's intra-op thread count: set for the training thread only, never globally."""

import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import Autoencoder
from skae._threads import SMALL_STEP_MACS, _find_runtime, intra_op_threads, step_threads
from skae.modules import ConvAutoencoderModule
from skae.nn.layers import MLP

needs_runtime = pytest.mark.skipif(not _find_runtime(), reason="no thread-count functions found for torch's runtime")


@pytest.fixture
def two_threads():
    """torch's process-wide count at 2 for the test (the suite runs on one, see conftest)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@needs_runtime
def test_intra_op_threads_is_local_to_the_calling_thread(two_threads):
    inside, other, started = {}, {}, {}
    go, done = threading.Event(), threading.Event()

    def elsewhere():  # a thread that exists before the block and reads its count during it
        go.wait()
        other["during"] = torch.get_num_threads()
        done.set()

    t = threading.Thread(target=elsewhere)
    t.start()
    with intra_op_threads(1) as n:
        inside["count"] = torch.get_num_threads()
        go.set()
        done.wait()
        # A thread started inside the block takes torch's process-wide count, not this thread's.
        s = threading.Thread(target=lambda: started.update(count=torch.get_num_threads()))
        s.start()
        s.join()
    t.join()
    assert n == 1 and inside["count"] == 1
    assert other["during"] == 2 and started["count"] == 2
    assert torch.get_num_threads() == 2


@needs_runtime
def test_intra_op_threads_restores_on_error(two_threads):
    with pytest.raises(RuntimeError), intra_op_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == 2


def test_none_changes_nothing(two_threads):
    with intra_op_threads(None):
        assert torch.get_num_threads() == 2


def test_step_threads_one_for_a_small_fully_connected_step_only():
    small = MLP([64, 128, 32])
    assert step_threads(small, 56) == 1
    weights = 64 * 128 + 128 * 32
    assert step_threads(small, SMALL_STEP_MACS // (3 * weights) + 1) is None  # a larger batch
    assert step_threads(MLP([784, 1000, 500]), 256) is None
    conv = ConvAutoencoderModule(64, 4, image_shape=(8, 8))
    assert step_threads(conv, 16) is None  # convolutions: the weights' count is not the work


class _RecordsThreads(Autoencoder):
    def _loss(self, module, batch):
        self.threads_seen_.add(torch.get_num_threads())
        return super()._loss(module, batch)


@needs_runtime
@pytest.mark.parametrize("hidden, expected", [((32,), {1}), ((2048, 2048), {2})])
def test_fit_trains_a_small_network_on_one_thread_and_leaves_the_setting(two_threads, hidden, expected):
    X = np.random.RandomState(0).rand(64, 64).astype(np.float32)
    est = _RecordsThreads(n_components=4, hidden_layer_sizes=hidden, batch_size=64, max_iter=1)
    est.threads_seen_ = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    assert est.threads_seen_ == expected
    assert torch.get_num_threads() == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_training_flushes_subnormals_and_restores_the_callers_setting():
    from skae._threads import _flushing_denormals, flush_denormal

    X = np.random.RandomState(0).rand(64, 6).astype(np.float32)
    seen = []

    class Probe(Autoencoder):
        def _loss(self, module, batch):
            seen.append(_flushing_denormals())
            return super()._loss(module, batch)

    for caller in (False, True):
        torch.set_flush_denormal(caller)
        try:
            seen.clear()
            Probe(2, hidden_layer_sizes=(), max_iter=2, random_state=0).fit(X)
            assert seen and all(seen)  # every training step flushes subnormals ...
            assert _flushing_denormals() == caller  # ... and the caller's setting is back after fit
        finally:
            torch.set_flush_denormal(False)
    with flush_denormal():
        assert float((torch.tensor([1e-39]) * 1.0).item()) == 0.0
    assert float((torch.tensor([1e-39]) * 1.0).item()) != 0.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch, by design
def test_pretraining_flushes_subnormals_too():
    from skae._threads import _flushing_denormals

    X = np.random.RandomState(0).rand(64, 6).astype(np.float32)
    seen = []

    class Probe(Autoencoder):
        def _pretrain(self, rows, generator, device):
            seen.append(_flushing_denormals())
            return super()._pretrain(rows, generator, device)

    Probe(2, hidden_layer_sizes=(4,), pretraining="autoencoder", pretraining_max_iter=1, max_iter=1,
          random_state=0).fit(X)
    assert seen == [True]
    assert not _flushing_denormals()


needs_team = pytest.mark.skipif(not _find_runtime() or _find_runtime()[3] is None,
                                 reason="no GOMP_parallel in torch's OpenMP runtime")


@needs_team
def test_flush_denormal_reaches_the_openmp_worker_threads(two_threads):
    """torch.set_flush_denormal sets the calling thread only: a parallel op's other half ran on a
    worker thread that still took subnormals (and their slow path). Inside the block every thread of
    the team flushes; after it, each has its own setting back."""
    from skae._threads import _flushing_denormals, _in_team, flush_denormal

    subnormals = torch.full((1 << 21,), 1e-39)  # large enough that torch splits the product over 2 threads
    assert torch.count_nonzero(subnormals * 1.0) == subnormals.numel()
    with intra_op_threads(2):
        with flush_denormal():
            threads, modes = [], []
            _in_team(lambda: (threads.append(threading.get_ident()), modes.append(_flushing_denormals())), 2)
            assert len(set(threads)) == 2 and all(modes)
            assert torch.count_nonzero(subnormals * 1.0) == 0  # both halves flushed
            with flush_denormal():  # nested: nothing to change, nothing undone at its end
                pass
            assert torch.count_nonzero(subnormals * 1.0) == 0
        assert torch.count_nonzero(subnormals * 1.0) == subnormals.numel()
        modes.clear()
        _in_team(lambda: modes.append(_flushing_denormals()), 2)
        assert modes == [False, False]
