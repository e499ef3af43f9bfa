"""The torch networks behind the estimators, one file per family, beside nothing of scikit-learn.

``layers`` (activations, the Glorot initialisation, ``Conditioning``, ``Dense``, ``MLP``, ``TiedMLP``),
``autoencoder`` (``AutoencoderModule``, ``UserModule``), ``vae``, ``ladder`` and ``hashing``; the
public convolutional network is in :mod:`skae.modules`. The networks take float tensors and return
float tensors. A saved estimator holds only its network's ``state_dict`` (the network is rebuilt on
load), so a network may move between these files as long as its attribute names stay.
"""
