"""The encoder's Jacobian and the tangent directions it gives, for every skae estimator."""

import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._data import _check_finite_output
from .nn.layers import Conditioning

__all__ = ["JacobianMixin"]

# Rows per Jacobian batch: (rows × n_components × n_features) floats at a time.
_JACOBIAN_BATCH = 64


def _input_scale(module):
    """The per-feature scale of the network's standardised input, or None if it reads raw input.

    The first :class:`~skae.nn.layers.Conditioning` in ``module`` (the autoencoder's, inside a
    classifier's network too): its encoder sees ``(x - loc) / scale``.
    """
    for m in module.modules():
        if isinstance(m, Conditioning):
            return m.scale
    return None


class JacobianMixin:
    """``jacobian`` and ``tangent_space`` on a fitted estimator with ``module_.encode``."""

    def _jacobian_batches(self, X):
        """Yield ``(start, stop, J)`` over validated X: the encoder's Jacobian, a batch of rows at a time.

        ``J`` is a float tensor of shape (stop - start, n_components, n_features) on the module's
        device, in the user's units; memory stays bounded by the batch, whatever n_samples is.
        """
        module = self.module_

        def encode_one(x):
            return module.encode(x.unsqueeze(0)).squeeze(0)

        jac = torch.func.vmap(torch.func.jacrev(encode_one))
        scale = self._code_scale()  # the codes' unit of transform
        for start, stop, xb in self._inference_batches(X, _JACOBIAN_BATCH, autograd=True):
            J = jac(xb)
            yield start, stop, J if scale == 1.0 else J / scale

    def jacobian(self, X):
        """The encoder's Jacobian ∂h/∂x at each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points at which the encoder's Jacobian is evaluated.

        Returns
        -------
        J : ndarray of shape (n_samples, n_components, n_features), dtype float32

        See Also
        --------
        tangent_space : The input directions to which the code is most sensitive, from this Jacobian.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> lin = Autoencoder(n_components=2, hidden_layer_sizes=(), activation="identity",
        ...                   max_iter=3, random_state=0).fit(X)
        >>> J = lin.jacobian(X[:3])
        >>> J.shape
        (3, 2, 8)
        >>> bool(np.allclose(J[0], J[2]))  # a linear encoder has the same Jacobian everywhere
        True
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        out = np.empty((X.shape[0], self.n_components, self.n_features_in_), dtype=np.float32)
        for start, stop, J in self._jacobian_batches(X):
            out[start:stop] = J.float().cpu().numpy()
        return _check_finite_output(self, out, X)

    def tangent_space(self, X, n_directions=None):
        """The input directions along which the code changes fastest at each sample, and how fast.

        These are the leading right singular vectors of the encoder's Jacobian ∂h/∂x, the estimate
        of the data manifold's tangent space at ``x`` (Rifai et al., 2011): where the encoder is
        flat across the manifold and sensitive along it, as a contractive autoencoder's is, they span
        the manifold's tangent directions. Like every skae network, the encoder reads its input
        standardised, ``x_std = (x - loc) / scale`` per feature, and measures lengths there; the
        singular vectors are taken in those units, where the training objective is isotropic, and
        returned in the user's: direction ``k`` is ``d_k = scale * v_k``, with ``v_k`` the k-th
        right singular vector of ``∂h/∂x_std = (∂h/∂x) diag(scale)`` and ``σ_k`` its singular
        value, so that ``jacobian(x) @ d_k`` has norm ``σ_k``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points at which the tangent directions are estimated.
        n_directions : int, default=None
            Number of leading directions returned, at most ``min(n_components, n_features)`` (the
            Jacobian's rank). None returns them all.

        Returns
        -------
        directions : ndarray of shape (n_samples, n_directions, n_features), dtype float32
            ``directions[i, k]`` is the k-th direction at ``X[i]``, in the user's units, of unit
            length in standardised units (``directions[i, k] / scale`` has norm 1). Divide by its
            norm for a unit vector in the user's units. Its sign is arbitrary, fixed here so that its
            entry of largest magnitude is positive.
        singular_values : ndarray of shape (n_samples, n_directions), dtype float32
            The rate ``σ_k`` at which the code changes along each direction, largest first. With
            all the directions, ``(singular_values ** 2).sum(axis=1)`` is ``‖∂h/∂x_std‖²_F``, the
            quantity a :class:`ContractiveAutoencoder` penalises.

        See Also
        --------
        jacobian : The encoder's Jacobian itself, in the user's units.

        Notes
        -----
        The directions orthogonal to those returned are the ones the code ignores. A contractive
        encoder learns to ignore the directions orthogonal to the manifold in the units its penalty
        measures, the standardised ones, so the singular vectors are taken there. Taken of
        :meth:`jacobian` in the user's units, they would assume orthogonality in those units
        instead: on features of unequal spread they would leave the tangent space (tens of degrees
        on a circle embedded in 10 dimensions, where these are within a few), and features of
        small spread would dominate them (a unit step in such a feature is many of its standard
        deviations).

        The Jacobians are computed and decomposed a batch of rows at a time, so memory stays
        bounded whatever the number of samples.

        References
        ----------
        .. [1] Rifai, S., Y. N. Dauphin, P. Vincent, Y. Bengio and X. Muller, "The manifold tangent
           classifier", NIPS 2011.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> directions, sigma = ae.tangent_space(X[:3], n_directions=1)
        >>> directions.shape, sigma.shape
        ((3, 1, 8), (3, 1))
        >>> step = ae.jacobian(X[:3]) @ directions[:, 0, :, None]  # code change along each
        >>> bool(np.allclose(np.linalg.norm(step[..., 0], axis=1), sigma[:, 0], rtol=1e-3))
        True
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        rank = min(self.n_components, self.n_features_in_)
        if n_directions is None:
            n_directions = rank
        elif (
            not isinstance(n_directions, numbers.Integral)
            or isinstance(n_directions, bool)
            or not 1 <= n_directions <= rank
        ):
            raise ValueError(
                f"n_directions must be an integer in [1, {rank}] (min(n_components, n_features)) or "
                f"None, got {n_directions!r}."
            )
        scale = _input_scale(self.module_)
        if scale is not None:
            scale = scale.detach().to("cpu", torch.float64)
        directions = np.empty((X.shape[0], n_directions, self.n_features_in_), dtype=np.float32)
        values = np.empty((X.shape[0], n_directions), dtype=np.float32)
        for start, stop, J in self._jacobian_batches(X):
            # float64 on the CPU: small matrices, and nearly equal singular values leave float32
            # singular vectors ill-determined (nor do all devices decompose in float64).
            J = J.to("cpu", torch.float64)
            if not bool(torch.isfinite(J).all()):
                _check_finite_output(self, J.numpy(), X)  # the overflow error, before the SVD fails
            if scale is not None:
                J = J * scale
            _, s, vh = torch.linalg.svd(J, full_matrices=False)
            vh, s = vh[:, :n_directions], s[:, :n_directions]
            if scale is not None:
                vh = vh * scale
            # A deterministic sign (the SVD's is arbitrary): each one's entry of largest magnitude is > 0.
            peak = vh.gather(2, vh.abs().argmax(dim=2, keepdim=True))
            vh = vh * torch.where(peak < 0, -1.0, 1.0)
            directions[start:stop] = vh.float().numpy()
            values[start:stop] = s.float().numpy()
        return directions, values
