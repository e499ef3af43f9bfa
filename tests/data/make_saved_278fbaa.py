"""Writes saved_278fbaa.pkl.gz: models pickled by skae at 278fbaa, before the engine refactor (issue 37).

tests/test_persistence.py loads them with this checkout: the networks moved, their state_dict keys must not.

    git worktree add /tmp/base 278fbaa
    python tests/data/make_saved_278fbaa.py /tmp/base saved_278fbaa.pkl && gzip -9 saved_278fbaa.pkl
"""

import pickle
import sys
import warnings


def pickled(est):
    """The pickle, less what only partial_fit's continuation needs (keeps the file small)."""
    for e in (est, getattr(est, "autoencoder_", None)):
        if e is not None and hasattr(e, "module_"):
            e._rng_state = None
            e._optimizer = None
    return pickle.dumps(est)


def main(tree, out_path):
    sys.path.insert(0, tree)
    import numpy as np
    import torch

    import skae
    from skae.modules import ConvAutoencoderModule

    assert skae.__file__.startswith(tree), skae.__file__
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    X = np.random.RandomState(0).rand(40, 16).astype(np.float32)
    y = np.r_[[0, 1, 2, 3] * 5, [-1] * 20]
    kw = dict(max_iter=2, random_state=0)
    small = dict(hidden_layer_sizes=(6,), **kw)
    conv = dict(module=ConvAutoencoderModule, module_params={"image_shape": (4, 4), "channels": (2,)})
    models = {
        "Autoencoder": skae.Autoencoder(3, dropout=0.1, **small),
        "Autoencoder (tied, 2 layers)": skae.Autoencoder(3, hidden_layer_sizes=(6, 4), tied_weights=True, **kw),
        "Autoencoder (conv)": skae.Autoencoder(3, **conv, **kw),
        "SparseAutoencoder (topk)": skae.SparseAutoencoder(4, sparsity="topk", k=2, **small),
        "DenoisingAutoencoder": skae.DenoisingAutoencoder(3, **small),
        "ContractiveAutoencoder": skae.ContractiveAutoencoder(3, **small),
        "VAE (full, code variance)": skae.VAE(2, posterior="full", likelihood_variance="code", **small),
        "LadderAutoencoder": skae.LadderAutoencoder(4, **small),
        "HashingAutoencoder": skae.HashingAutoencoder(8, **small),
        "AutoencoderClassifier (ladder)": skae.AutoencoderClassifier(
            skae.LadderAutoencoder(4, hidden_layer_sizes=(6,)), **kw),
        "AutoencoderClassifier (VAE, head)": skae.AutoencoderClassifier(
            skae.VAE(3, hidden_layer_sizes=(6,)), classifier_hidden_layer_sizes=(5,), **kw),
        "AutoencoderOutlierDetector": skae.AutoencoderOutlierDetector(skae.Autoencoder(3, **small), random_state=0),
    }


    out = {"X": X, "y": y, "models": {}}
    for name, est in models.items():
        if isinstance(est, skae.AutoencoderClassifier):
            est.fit(X, y)
            outputs = {"transform": est.transform(X), "predict_proba": est.predict_proba(X)}
        elif isinstance(est, skae.AutoencoderOutlierDetector):
            est.fit(X)
            outputs = {"score_samples": est.score_samples(X)}
        else:
            est.fit(X)
            outputs = {"transform": est.transform(X), "score_samples": est.score_samples(X)}
        module = est.module_ if hasattr(est, "module_") else est.autoencoder_.module_
        out["models"][name] = {"pickle": pickled(est), "keys": list(module.state_dict()), **outputs}
    with open(out_path, "wb") as f:
        pickle.dump(out, f, protocol=4)


if __name__ == "__main__":
    main(*sys.argv[1:3])
