"""An autoencoder's training objective, for an estimator that composes it with its own.

The hooks of :class:`~skae._base.BaseAutoencoder` are private: the engine calls them on the
estimator it trains, and no estimator calls them on another. An estimator that adds another's
objective to its own (the semi-supervised classifier: ℓ_Y + λ·ℓ_X) holds that estimator's
:class:`Objective` instead, the engine's one public-to-skae view of a network factory, a loss and a
score. The engine keeps the protocol in one place: a new hook that a composing estimator needs is a
method here, not a call from one estimator into another.
"""

from sklearn.base import clone

__all__ = ["Objective"]


class Objective:
    """The objective of ``autoencoder``, an unfitted skae autoencoder that another estimator trains.

    Build it with :meth:`of`, which clones and validates the autoencoder. The composing estimator
    calls, in the order of its own fit: :meth:`check` at every fit, :meth:`initialize` and
    :meth:`set_unit` at its first fit, :meth:`build_module` for the network, then :meth:`loss` per
    step and :meth:`score_samples` / :meth:`validation_score` in eval mode. The autoencoder itself is
    never fitted: its own ``module_`` does not exist; the network lives in the composing estimator.
    """

    def __init__(self, autoencoder):
        self.autoencoder = autoencoder

    @classmethod
    def of(cls, autoencoder):
        """The objective of an unfitted clone of ``autoencoder``, its parameters validated."""
        autoencoder = clone(autoencoder)
        autoencoder._validate_params()
        return cls(autoencoder)

    def check(self, X):
        """The autoencoder's checks across its parameters and against the data (every fit)."""
        self.autoencoder._check_params(X)

    def initialize(self, X):
        """The autoencoder's data-dependent state (e.g. the denoising noise's feature ranges)."""
        self.autoencoder._on_first_fit(X)

    def set_unit(self, var):
        """Make the loss unit-free for data of per-feature variances ``var`` (the engine's rule)."""
        self.autoencoder._loss_scale = self.autoencoder._reference_loss(var)

    def build_module(self, n_features):
        """A fresh, uninitialised network of the autoencoder's."""
        return self.autoencoder._build_module(n_features)

    def loss(self, module, batch):
        """The autoencoder's training ``Loss`` of ``batch`` under ``module`` (its value and the code)."""
        return self.autoencoder._loss(module, batch)

    def score_samples(self, module, X):
        """Per-sample score of clean ``X`` under ``module`` in eval mode, as its ``score_samples``."""
        return self.autoencoder._score_samples_tensor(module, X)

    def validation_score(self, module, rows, index):
        """The autoencoder's early-stopping score on the held-out rows ``index`` of ``rows``."""
        return self.autoencoder._validation_score(module, rows, index, None)
