"""A digest of an estimator's saved state, so that a corrupted file fails to load instead of loading wrong.

Pickle and joblib have no integrity check: a flipped bit inside an array's bytes, a number or an
attribute's name unpickles without complaint into an estimator that silently differs from the one that
was saved. ``BaseAutoencoder.__getstate__`` stores :func:`state_digest` of everything else it saves,
and ``__setstate__`` checks it (:func:`check_state_digest`) before any attribute is set.

The digest is computed on a canonical form of the state, not on its pickled bytes, so that it is the
same for every format that reproduces the values (pickle, joblib, skops): arrays by dtype, shape and
bytes; numbers, strings, bytes and None by type and ``repr``; dicts by sorted keys; lists and tuples
alike. Other objects (a nested estimator, which checks its own state when it is loaded; a
``RandomState`` given as ``random_state``) count by their type's name only.
"""

import hashlib

import numpy as np

DIGEST_KEY = "_state_digest"


def _feed(h, value):
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f"a{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    elif isinstance(value, np.generic):
        _feed(h, value.item())
    elif value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        h.update(f"s{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        h.update(f"d{len(items)}{{".encode())
        for key, item in items:
            _feed(h, key)
            _feed(h, item)
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(f"l{len(value)}[".encode())
        for item in value:
            _feed(h, item)
        h.update(b"]")
    else:
        h.update(f"o{type(value).__module__}.{type(value).__qualname__};".encode())


# Not covered: the digest itself, and the version that wrote the state, which __setstate__ checks on
# its own (a state from another version loads with a warning, and its digest is then that version's).
_UNCOVERED = (DIGEST_KEY, "_skae_version")


def state_digest(state):
    """Hex SHA-256 of the canonical form of ``state`` (a dict), its digest and version excluded."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k not in _UNCOVERED})
    return h.hexdigest()


def seal(state):
    """``state`` with its digest stored in it."""
    state = dict(state)
    state[DIGEST_KEY] = state_digest(state)
    return state


def check_state_digest(state, name):
    """Raise ValueError if ``state`` (being loaded into a ``name``) does not match its digest.

    Returns the state without its digest entry. A state with no digest was saved before digests
    existed and is not checked, unless one of its keys is the digest's name with one character
    changed: that is a digest whose name was damaged.
    """
    state = dict(state)
    expected = state.pop(DIGEST_KEY, None)
    if expected is None and not any(_one_off(key, DIGEST_KEY) for key in state):
        return state
    if expected is None or not isinstance(expected, str) or expected != state_digest(state):
        raise ValueError(
            f"The saved {name} is corrupted: its contents do not match the checksum stored with "
            "them (the file was truncated, damaged or altered after it was written). Nothing was "
            "loaded; use an intact copy or refit the model."
        )
    return state


def _one_off(key, name):
    return isinstance(key, str) and len(key) == len(name) and sum(a != b for a, b in zip(key, name)) == 1
