"""The numpydoc text of the parameters the training engine gives every estimator, written once.

An estimator's class docstring holds a marker line such as ``[engine-params: learning_rate, max_time]``
in its Parameters section; the :func:`engine_docs` class decorator replaces it with those parameters'
entries, indented as the marker is. Sphinx (numpydoc), ``help()`` and doctests all read the result.
"""

import re
import textwrap

__all__ = ["ENGINE_PARAMETER_DOCS", "engine_docs"]

ENGINE_PARAMETER_DOCS = {
    "alpha": """\
alpha : float or "auto", default=0.0
    Strength of the L2 penalty on the weights (as weight decay in Adam). "auto" is
    ``1 / n_samples``, the rows trained on (by ``partial_fit``: the call's rows): a penalty
    that fades as the data grows, as a fixed prior on the weights does. A value set between
    ``partial_fit`` calls applies from the next call.""",
    "batch_size": """\
batch_size : int or "auto", default="auto"
    Mini-batch size; "auto" is ``n_samples // 32`` clipped to [16, 256] (and to n_samples):
    batches of 256 on large data, and about 32 optimiser steps per epoch on a few hundred rows,
    which need many steps more than large batches. Larger values are clipped to n_samples.""",
    "learning_rate_init": """\
learning_rate_init : float, default=1e-3
    Adam's step size.""",
    "max_iter": """\
max_iter : int, default=200
    Maximum number of epochs.""",
    "tol": """\
tol : float, default=1e-5
    Tolerance for the stopping criterion: training stops when the training loss (or, with
    early stopping, the validation score) has not improved by at least ``tol`` times the
    reference loss (for ``loss="mse"``, the data's mean variance; see Notes) for
    ``n_iter_no_change`` consecutive epochs.""",
    "n_iter_no_change": """\
n_iter_no_change : int, default=20
    Number of epochs with no improvement to wait before stopping.""",
    "early_stopping": """\
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data, stop when its score stops improving
    and restore the weights with the best validation score.""",
    "validation_fraction": """\
validation_fraction : float, default=0.1
    Fraction of the training data held out when ``early_stopping=True``.""",
    "shuffle": """\
shuffle : bool, default=True
    Shuffle the samples at every epoch.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds the initialisation, the shuffling, the validation split and any noise, through a
    local ``torch.Generator``; global random states are never touched. Pass an int for
    reproducible results.""",
    "warm_start": """\
warm_start : bool, default=False
    When True, ``fit`` continues from the previous solution instead of starting again.""",
    "device": """\
device : str, default="cpu"
    Torch device to train on: "cpu", "cuda", "cuda:1", "mps". Outputs are always numpy arrays.""",
    "precision": """\
precision : {"float32", "bfloat16"}, default="float32"
    "bfloat16" trains under autocast (CPUs with avx512_bf16/AMX, CUDA). Outputs stay float32.""",
    "verbose": '''\
verbose : int, default=0
    0 is silent. 1 prints one line per epoch (MLPRegressor's) and, where tqdm is installed, shows
    a progress bar over the epochs of ``fit`` (over the batches of a ``partial_fit`` call);
    2 adds a progress bar over the batches of every epoch (tqdm's, or a plain line without it).
    With verbose, inference passes over more than one batch of 2048 rows (``transform``,
    ``score_samples``, a VAE's ``log_likelihood`` ...) show a progress bar too. tqdm is optional:
    skae never requires it.''',
    "learning_rate": '''\
learning_rate : {"constant", "linear_decay", "cosine", "plateau"}, default="constant"
    Schedule of the step size over one ``fit``. "constant" keeps ``learning_rate_init``.
    "linear_decay" and "cosine" keep it until the fraction ``decay_start`` of the training
    budget is spent, then take it down to 0 at the end of the budget, linearly or along half a
    cosine. The budget is ``max_iter`` epochs or, when sooner, ``max_time`` seconds: the
    fraction spent is the larger of the optimizer steps done over those of ``max_iter`` epochs
    and the time elapsed over ``max_time``, and the step size is updated at every optimizer
    step. "plateau" divides the step size by 5 each time the training loss (with
    ``early_stopping``, the validation score) has not improved by ``tol`` for
    ``n_iter_no_change`` epochs, where the other schedules stop; training stops at the
    plateau that would take it below ``learning_rate_init / 1000`` (the fifth). ``partial_fit``
    ignores the schedule and always uses ``learning_rate_init``; a ``warm_start`` fit starts
    the schedule again.''',
    "decay_start": '''\
decay_start : float in [0, 1), default=0.0
    Fraction of the training budget run at ``learning_rate_init`` before "linear_decay" or
    "cosine" start to decay it. Unused by the other schedules.''',
    "max_time": '''\
max_time : float > 0 or None, default=None
    Wall-clock budget of one ``fit``, in seconds (None: no limit). Training stops after the
    first optimizer step that ends past it; that last, partial epoch counts in ``n_iter_`` and
    ``loss_curve_`` (its loss over the rows it saw). Stopping on time raises no
    ConvergenceWarning: that warning means that ``max_iter`` epochs ran out. A "linear_decay"
    or "cosine" schedule reaches 0 at the deadline. The result then depends on the machine's
    speed, not only on ``random_state``. The clock starts when ``fit`` is called: the set-up
    before the first epoch (validation, greedy ``pretraining`` where there is one) counts in it.
    ``partial_fit`` ignores it.''',
    "conditioning": '''\
conditioning : {"standard", "center", "none", "auto"}, default="standard"
    How the network sees the data, from statistics learned at the first fit (see the
    :ref:`User Guide <conditioning>`). "standard": each feature is centred and divided by its scale (its standard
    deviation, raised where needed so that no training value lies more than 10 scales from the
    mean), and an identity output is mapped back to the data's units, starting at its mean.
    "center": centred only (scale 1). "none": raw values in and out, as in a hand-written torch
    network (location 0, scale 1, the output layer as initialised). Whichever is chosen,
    codes are computed from the input as the network sees it; reconstructions, scores and
    ``loss_curve_`` are in the user's units; the objective stays relative to the data's mean
    variance, so that ``tol`` and penalty weights keep their meaning. Gaussian denoising noise
    and the contractive penalty are in units of the scale: the user's units unless "standard".
    On pixels and other data in one bounded range "center" reconstructs better than "standard"
    (measured in the User Guide). "auto": "center" where every training value lies in [0, 1]
    and they span at least half of it (pixels, binary features, MinMaxScaler's output: features
    that share one unit of order 1), "standard" otherwise.''',
    # Not engine parameters, but shared by the four estimators that pretrain: written once here too.
    "pretraining": '''\
pretraining : {"autoencoder"} or None, default=None
    Greedy layer-wise pretraining of the fully connected network before the fine-tuning
    epochs (Hinton & Salakhutdinov, 2006; Bengio et al., 2007). "autoencoder" trains each
    pair of neighbour layers in turn, bottom up, as a shallow autoencoder of the layer below
    (the first pair with this estimator's ``loss``, the others with the squared error of the
    activations below), then the whole network is fine-tuned as usual. It runs when the
    network is initialised (``fit``, the first ``partial_fit``), not on a ``warm_start`` refit,
    on the training rows only (with ``early_stopping``, not the rows it holds out), and needs
    the built-in network (not ``module``). None: random initialisation only.
    See the :ref:`User Guide <pretraining>`.''',
    "pretraining_max_iter": '''\
pretraining_max_iter : int, default=10
    Epochs of pretraining per pair of layers (with ``batch_size``, ``learning_rate_init``,
    ``alpha``, ``shuffle`` and ``precision`` as for the fine-tuning).''',
}

# alpha's entry for the estimators whose default is "auto" (ENGINE_DEFAULT_OVERRIDES): the shared
# entry with that default, and why it is theirs.
ENGINE_PARAMETER_DOCS["alpha_auto"] = ENGINE_PARAMETER_DOCS["alpha"].replace(
    "default=0.0", 'default="auto"'
) + """ It keeps an encoder
    trained on a few hundred or thousand rows from fitting their noise and leaves large data to
    the reconstruction (measured in the :ref:`User Guide <regularization_strength>`). 0 turns it
    off."""

# A marker may wrap over several lines: ``[engine-params: a, b,`` then ``c]`` on the next.
_MARKER = re.compile(r"^(?P<indent>[ \t]*)\[engine-params: (?P<names>[\w,\s]+?)\][ \t]*$", re.MULTILINE)


def _entries(match):
    names = [name.strip() for name in match["names"].split(",") if name.strip()]
    text = "\n".join(ENGINE_PARAMETER_DOCS[name] for name in names)
    return textwrap.indent(text, match["indent"])


def engine_docs(cls):
    """Class decorator: fill the ``[engine-params: ...]`` markers of ``cls.__doc__``."""
    if cls.__doc__:
        cls.__doc__ = _MARKER.sub(_entries, cls.__doc__)
    return cls
