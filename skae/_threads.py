"""The intra-op thread count of one training loop, for the calling thread only.

``torch.set_num_threads`` is process-wide: it is the user's setting, and ``fit`` leaves it alone.
The OpenMP runtime torch runs on keeps the thread count per thread, though: ``omp_set_num_threads``
sets the calling thread's ``nthreads-var`` (OpenMP 4.5, §2.3.3: a data-environment ICV), which is
what ATen's ``parallel_for`` and oneDNN read through ``omp_get_max_threads``; MKL's
``mkl_set_num_threads_local`` sets its own per-thread count, which its matrix products read.
:func:`intra_op_threads` sets both around a block and restores them after: other threads, threads
started meanwhile (they take torch's process-wide count) and ``torch.get_num_threads()`` after the
block are unchanged. Where the runtime is not one whose functions are found in this process
(Linux, torch's own OpenMP runtime, MKL optional), it changes nothing.

The flush-to-zero mode of floating point (x86's MXCSR, Arm's FPCR) is per thread as well:
``torch.set_flush_denormal`` sets the calling thread's only, and the OpenMP runtime's worker threads
keep theirs. :func:`flush_denormal` sets it in every thread of the team the block's parallel regions
run on, through one parallel region of its own (``GOMP_parallel``, which GNU's runtime defines and
LLVM's and Intel's export for GCC-built code), and restores each thread's own setting after.
"""

import contextlib
import ctypes
import os
import sys
import threading

import torch

__all__ = ["flush_denormal", "intra_op_threads"]

# The OpenMP runtimes torch ships or links (GNU, Intel, LLVM), by file name.
_OPENMP_NAMES = ("libgomp", "libiomp5", "libomp")
# (omp_get_max_threads, omp_set_num_threads, mkl_set_num_threads_local or None, GOMP_parallel or None) or ()
_runtime = None
# GOMP_parallel(fn, data, num_threads, flags) runs fn(data) once in each thread of a team of num_threads.
_TEAM_BODY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _loaded_libraries():
    """Paths of the shared libraries this process has loaded (Linux; empty elsewhere)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if line.count(" ") >= 5 and "/" in line}
    except OSError:
        return []
    return sorted(p for p in paths if ".so" in os.path.basename(p))


def _find_runtime():
    """The OpenMP (and MKL) thread functions of the runtime torch uses, or () if not found.

    Only libraries already loaded are opened (``dlopen`` of a loaded path returns the same
    handle): loading a second OpenMP runtime would give the process two thread pools.
    """
    import torch  # (loads libtorch and its OpenMP runtime first)

    libraries = _loaded_libraries()
    omp = [p for p in libraries if os.path.basename(p).startswith(_OPENMP_NAMES)]
    # Other packages vendor runtimes of their own (scikit-learn's libgomp-<hash>.so): torch's is the
    # one in its own folder (pip wheels), else the only one loaded (a system runtime).
    own = [p for p in omp if os.path.dirname(p).startswith(os.path.dirname(torch.__file__))]
    omp = own or omp
    if len(omp) != 1:  # none, or several: which one torch uses is not known
        return ()
    try:
        lib = ctypes.CDLL(omp[0])
        get, set_ = lib.omp_get_max_threads, lib.omp_set_num_threads
    except (OSError, AttributeError):
        return ()
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    mkl = None
    for path in libraries:
        if os.path.basename(path).startswith("libtorch_cpu"):
            try:
                mkl = ctypes.CDLL(path).MKL_Set_Num_Threads_Local  # the C interface (by value)
            except (OSError, AttributeError):
                mkl = None  # a build without MKL: its BLAS is OpenMP's or single-threaded
            else:
                mkl.restype, mkl.argtypes = ctypes.c_int, [ctypes.c_int]
    team = getattr(lib, "GOMP_parallel", None)
    if team is not None:
        team.restype, team.argtypes = None, [_TEAM_BODY, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    return get, set_, mkl, team


def _runtime_functions():
    global _runtime
    if _runtime is None:
        _runtime = _find_runtime()
    return _runtime


@contextlib.contextmanager
def intra_op_threads(n):
    """Run the block with ``n`` intra-op threads in the calling thread only (None: unchanged).

    Yields the count in force inside the block (the previous one when nothing could be set).
    """
    runtime = _runtime_functions()
    if n is None or not runtime:
        yield None if not runtime else runtime[0]()
        return
    get, set_, mkl, _ = runtime
    before = get()
    if n == before:
        yield before
        return
    set_(n)
    previous_mkl = mkl(n) if mkl is not None else None
    try:
        yield n
    finally:
        set_(before)
        if mkl is not None:
            mkl(previous_mkl)


# A training step does fewer multiply-adds than this (batch rows x weights x 3: the forward pass and
# the two products of the backward pass) in well under a millisecond on one core, and torch spends
# most of it dispatching ops, not multiplying. Split over threads, each of its ~5 parallel regions
# per layer (a product forward, two backward, Adam's update of the weight and of the bias) ends in a
# barrier: microseconds on a quiet machine, up to a scheduler time slice when another process holds
# a core. Measured on a 2-core Xeon (2026-12-06): the fastest steps of 64-128-32 (4M multiply-adds),
# 64-512-32 and 784-64-8 (16-20M) took the same time on one thread as on two; beside a 2-thread load,
# a fit of the first on one thread ran many times quicker than a raw torch loop on two
# (benchmarks/bench_contention.py).
SMALL_STEP_MACS = 2**25


def step_threads(module, batch_size):
    """The intra-op threads for training ``module`` on batches of ``batch_size`` rows (None: torch's).

    One for a fully connected network whose step is small (see :data:`SMALL_STEP_MACS`); None
    otherwise: for a network with convolutions (4-D weights: their work is not the weights' count),
    or on an accelerator.
    """
    params = list(module.parameters())
    if not params or params[0].device.type != "cpu" or any(p.dim() > 2 for p in params):
        return None
    weights = sum(p.numel() for p in params if p.dim() == 2)
    return 1 if 3 * batch_size * weights < SMALL_STEP_MACS else None


# A subnormal double, and one: their product is zero exactly when the calling thread flushes
# subnormals (DAZ on x86, FZ on Arm, which torch.set_flush_denormal sets, apply to doubles too).
# Module globals, so that Python cannot fold the product at compile time.
_SUBNORMAL, _ONE = 1e-310, 1.0


def _flushing_denormals():
    """Whether the calling thread flushes subnormal floats to zero now (torch has no getter)."""
    return _SUBNORMAL * _ONE == 0.0


def _in_team(function, n):
    """Call ``function()`` once in each thread of the OpenMP team of ``n`` threads that the calling
    thread's parallel regions run on (the runtime keeps the same worker threads for a team of any
    size up to ``n``). Only in the calling thread where the team is one thread or the runtime is
    not found.
    """
    runtime = _runtime_functions()
    team = runtime[3] if runtime else None
    if n <= 1 or team is None:
        function()
        return

    def body(_):
        try:
            function()
        except BaseException:  # an exception cannot cross the C frame: the runtime would print it
            pass

    body = _TEAM_BODY(body)  # (kept referenced until the region returns)
    team(body, None, n, 0)


@contextlib.contextmanager
def flush_denormal():
    """Subnormal floats flushed to zero inside the block in the calling thread and in the OpenMP
    worker threads its parallel regions run on, each thread's own setting restored after.

    Training can drive weights and optimiser moments into the subnormal range (below 1.2e-38 in
    float32), where x86 arithmetic takes a slow path: a top-k autoencoder of 1000 units on MNIST,
    whose idle units decay, went from 2 s to 48 s per epoch after its sixth. Flushed, those values
    are zero, which changes no result measurably. Where the CPU cannot flush, nothing changes.
    The team is the calling thread's intra-op thread count at entry (``omp_get_max_threads``); a
    block inside it that runs fewer (:func:`intra_op_threads`) runs on the same worker threads.
    """
    runtime = _runtime_functions()
    n = runtime[0]() if runtime else 1
    switched = set()  # the threads this block switched on, and switches back off
    lock = threading.Lock()

    def flush():
        if not _flushing_denormals() and torch.set_flush_denormal(True):
            with lock:
                switched.add(threading.get_ident())

    def restore():
        if threading.get_ident() in switched:
            torch.set_flush_denormal(False)

    _in_team(flush, n)
    try:
        yield
    finally:
        _in_team(restore, n)
