"""Digits with 3 and 10 labels per class: routes that might beat LabelSpreading, on a validation split or the demo's.

Issue 22.1 asks for a route from skae ahead of scikit-learn's LabelSpreading by more than one sd over
the label draws, at 3 and at 10 labels per class. This script measures the candidates side by side, every
route of a draw on the same labels in the same run, so that nobody has to rebuild them from RESULTS. "The demo" below is
``python -m skae`` as it was until issue 35, whose few-labels part ran these routes on the split
``--split test`` (helpers in ``_digits_routes.py``):

- ``ls``: LabelSpreading(knn, 10) on the pixels, the baseline (scikit-learn's defaults otherwise);
- ``ls2``: scikit-learn only: LabelSpreading, then class-mass normalisation of its training-row
  probabilities to the labeled rows' class proportions (Zhu et al. 2003), whose argmax labels every
  row for a second LabelSpreading;
- ``agree``: the demo's route: the rows where LabelSpreading and skae's AutoencoderClassifier (the
  ladder, 40 epochs unless --ladder-max-iter says otherwise) agree become labeled, and LabelSpreading
  runs again;
- ``agree_ls2``: the same with LS2's labels in place of LabelSpreading's;
- ``ladder``: the ladder alone (its ``predict``), for reference;
- ``ens_ls2``: the ladder's class probabilities on the evaluated rows added to those of the LS2
  route's final LabelSpreading, argmax;
- ``ls2_svc``: scikit-learn only: an SVC (RBF kernel, scikit-learn's defaults) fitted on LS2's labels
  of every training row predicts the evaluated rows (LabelSpreading's own prediction for new rows is
  a kNN vote: with every training label known it scores 0.970 on the demo's test rows, the SVC 0.986);
- ``agree_ls2_svc``: the same SVC fitted on the rows where LS2's labels and the ladder agree only;
- ``tangent``: LabelSpreading on a kNN graph whose distance ignores the tangent directions that a
  ContractiveAutoencoder (labels unused) finds at both ends (one-sided tangent distances averaged,
  Simard et al. 1993; tangents from the encoder's Jacobian, Rifai et al. 2011);
- ``graph_mlp``: a *prototype in raw torch, not in skae*: an MLP trained on the labeled rows'
  cross-entropy plus the squared difference of its class probabilities across the pixels' kNN edges
  (Weston et al. 2008), Gaussian input noise;
- ``lp_iter``: a *prototype in raw torch, not in skae*: label propagation on the network's own
  embedding, iterated (Iscen et al. 2019): LabelSpreading's labels, weighted by certainty and class,
  train the MLP; LabelSpreading on its normalised embedding gives the next round's labels;
- ``student``: the demo's skae route (``_digits_routes.balanced_student``): the demo's LabelSpreading
  (MinMax-scaled pixels), class-mass normalised as in ``ls2``, labels every training row; a
  convolutional AutoencoderClassifier (a DenoisingAutoencoder on ConvAutoencoderModule, 40 epochs
  unless --student-max-iter says otherwise) learns those labels from the rows and their four one-pixel
  shifts, the given labels counted ten times, and predicts the evaluated rows (a noisy student,
  Xie et al. 2020, with one round: more rounds did not help on ``val2``);
- ``ls2_svc_shift``: scikit-learn's twin of ``student``: an SVC (MinMax-scaled) fitted on the same
  rows and labels as the student (``_digits_routes.taught_rows``: the demo's class-balanced labels, the
  rows and their four one-pixel shifts, the given labels ten times), which separates what the shifts
  add from what the network adds;
- ``ls_shifts``: scikit-learn's LabelSpreading (the demo's) on a graph of the rows and their four
  one-pixel shifts, every copy of a labeled row labeled (``_digits_routes.shifted_spreading_labels``),
  and its own prediction of the evaluated rows, a vote of their nearest rows and shifts;
- ``shifts_svc``, ``shifts_svc_shift`` and ``shifts_student``: ``ls2_svc``, ``ls2_svc_shift`` and
  ``student`` taught that graph's labels (each row's probabilities averaged over its five copies, then
  class-mass normalised), the demo's routes since 2026-12-04.

Splits: ``--split val`` splits the demo's 1297 training rows again (997 fitting rows, 300 validation
rows, stratified, random_state=1) with label draws 100, 101, ...; ``--split val2`` is a second
partition of all the digits into 1297 / 500 (random_state=1), the demo's sizes, with draws 200, 201,
... (its rows overlap the demo's test rows, its label draws do not); ``--split test`` is the demo's
split (1297 / 500) with draws 0, 1, ... A route is to be chosen on ``val`` or ``val2`` and confirmed
on ``test``. ``val`` has 300 fewer rows to learn from, which handicaps the network routes.

    python benchmarks/bench_digits_routes.py --split val
    python benchmarks/bench_digits_routes.py --split test --routes ls ls2 agree
"""

import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skae
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import parser, record, table  # noqa: E402
from _digits_routes import (  # noqa: E402
    _spreading,
    agreement_labels,
    balanced_student,
    class_mass_labels,
    draw_labels,
    shifted_spreading_labels,
    taught_rows,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.semi_supervised import LabelSpreading  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from skae import AutoencoderClassifier, ContractiveAutoencoder  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)

ROUTES = ("ls", "ls2", "agree", "agree_ls2", "ladder", "ens_ls2", "ls2_svc", "agree_ls2_svc", "tangent", "graph_mlp",
          "lp_iter", "student", "ls2_svc_shift", "ls_shifts", "shifts_svc", "shifts_svc_shift", "shifts_student")
N_NEIGHBORS = 10


def spreading(X, y_semi, kernel="knn"):
    if kernel == "knn":
        return LabelSpreading(kernel="knn", n_neighbors=N_NEIGHBORS).fit(X, y_semi)
    return LabelSpreading(kernel=kernel).fit(X, y_semi)


def ls2_labels_of(spread, X, y_semi):
    """LS2's labels: LabelSpreading's probabilities scaled to the labeled rows' class proportions."""
    return class_mass_labels(spread.predict_proba(X), y_semi, spread.classes_)


class TangentKNNKernel:
    """A kNN kernel for LabelSpreading under a tangent distance; rows are ``[x, tangents.ravel()]``.

    The squared distance between ``a`` and ``b`` is ``‖a - b‖²`` less half the squared length of
    ``a - b`` within each end's tangent span (orthonormal bases); with no tangent directions it is the
    Euclidean kNN kernel of scikit-learn's ``kernel="knn"``. ``kernel(A, B)[a, b]`` is 1 where ``a``
    is among ``b``'s ``k`` nearest rows of ``A``; LabelSpreading's own graph (``A is B``) is the
    transpose, each row marking its neighbours, as scikit-learn's kNN graph does.
    """

    def __init__(self, n_features, k=N_NEIGHBORS):
        self.n_features, self.k = n_features, k

    def _split(self, Z):
        d = self.n_features
        return Z[:, :d], Z[:, d:].reshape(len(Z), -1, d)

    def __call__(self, A, B):
        xa, ta = self._split(A)
        xb, tb = self._split(B)
        W = np.zeros((len(A), len(B)))
        for j in range(len(B)):
            delta = xa - xb[j]
            d2 = np.einsum("nd,nd->n", delta, delta)
            if ta.shape[1]:
                along_a = np.einsum("nkd,nd->nk", ta, delta)
                along_b = delta @ tb[j].T
                d2 = d2 - 0.5 * (np.einsum("nk,nk->n", along_a, along_a) + np.einsum("nk,nk->n", along_b, along_b))
            W[np.argsort(d2, kind="stable")[: self.k], j] = 1.0
        return W.T if A is B else W


def with_tangents(cae, X, n_directions):
    directions, _ = cae.tangent_space(X, n_directions=n_directions)
    Q, _ = np.linalg.qr(np.transpose(directions, (0, 2, 1)).astype(np.float64))  # orthonormal, pixel units
    return np.hstack([X, np.transpose(Q, (0, 2, 1)).reshape(len(X), -1)])


def _mlp(n_in, seed, hidden=(256, 128)):
    torch.manual_seed(seed)
    layers, d = [], n_in
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
        d = h
    return torch.nn.Sequential(*layers), torch.nn.Linear(d, 10)


def _standardise(X_fit, *others):
    mu, sd = X_fit.mean(axis=0), X_fit.std(axis=0) + 0.1
    return [torch.tensor((Z - mu) / sd, dtype=torch.float32) for Z in (X_fit, *others)]


def graph_mlp(X, y_semi, X_test, seed, weight=1.0, steps=500, noise=0.3):
    """The prototype: cross-entropy on the labeled rows + ``weight`` × kNN-edge disagreement, full batch."""
    Z, Z_test = _standardise(X, X_test)
    idx = NearestNeighbors(n_neighbors=N_NEIGHBORS + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    src = torch.arange(len(X)).repeat_interleave(N_NEIGHBORS)
    dst = torch.as_tensor(idx.reshape(-1))
    body, head = _mlp(X.shape[1], seed)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=1e-3)
    lab = torch.as_tensor(np.flatnonzero(y_semi >= 0))
    y_lab = torch.as_tensor(y_semi[y_semi >= 0])
    for _ in range(steps):
        out = head(body(Z + noise * torch.randn_like(Z)))
        p = out.softmax(dim=1)
        loss = torch.nn.functional.cross_entropy(out[lab], y_lab) + weight * ((p[src] - p[dst]) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return head(body(Z_test)).argmax(dim=1).numpy()


def lp_iter(X, y_semi, X_test, seed, rounds=4, steps=300, noise=0.3, batch=128):
    """The prototype: LabelSpreading's weighted labels train the MLP, LS on its embedding relabels."""
    Z, Z_test = _standardise(X, X_test)
    body, head = _mlp(X.shape[1], seed)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=1e-3)
    spread = spreading(X, y_semi)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(rounds):
        P = spread.label_distributions_
        labels = P.argmax(axis=1)
        certainty = 1 + (P * np.log(P + 1e-12)).sum(axis=1) / np.log(P.shape[1])
        labeled = y_semi >= 0
        labels[labeled], certainty[labeled] = y_semi[labeled], 1.0
        class_weight = 1.0 / np.maximum(np.bincount(labels, minlength=10), 1)
        w = torch.tensor(certainty * class_weight[labels] * len(labels) / 10, dtype=torch.float32)
        t = torch.as_tensor(labels)
        body.train()
        for _ in range(steps):
            rows = torch.randint(0, len(Z), (batch,), generator=gen)
            out = head(body(Z[rows] + noise * torch.randn(batch, Z.shape[1], generator=gen)))
            loss = (torch.nn.functional.cross_entropy(out, t[rows], reduction="none") * w[rows]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        body.eval()
        with torch.no_grad():
            E = torch.nn.functional.normalize(body(Z), dim=1).numpy()
            E_test = torch.nn.functional.normalize(body(Z_test), dim=1).numpy()
        spread = spreading(E, y_semi)
    return spread.predict(E_test)


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--split", choices=("val", "val2", "test"), default="val")
    p.add_argument("--labels-per-class", type=int, nargs="+", default=[3, 10])
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    p.add_argument("--ladder-max-iter", type=int, default=40, help="the ladder's epochs (the demo's 40)")
    p.add_argument("--student-max-iter", type=int, default=40, help="the student's epochs (the demo's 40)")
    p.add_argument("--tangent-directions", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_fit, X_eval, y_fit, y_eval = train_test_split(X, y, test_size=500, random_state=0, stratify=y)
    first_seed = 0
    if args.split == "val":
        X_fit, X_eval, y_fit, y_eval = train_test_split(X_fit, y_fit, test_size=300, random_state=1, stratify=y_fit)
        first_seed = 100
    elif args.split == "val2":
        X_fit, X_eval, y_fit, y_eval = train_test_split(X, y, test_size=500, random_state=1, stratify=y)
        first_seed = 200
    seeds = range(first_seed, first_seed + args.draws)
    wanted = ["ls", *[r for r in args.routes if r != "ls"]]
    acc = {(per, r): [] for per in args.labels_per_class for r in wanted}
    secs = defaultdict(float)  # a route's shared steps (the ladder, LS2's labels) count under their own name
    start = time.perf_counter()

    def timed(route, fn, *fn_args, **fn_kwargs):
        t = time.perf_counter()
        out = fn(*fn_args, **fn_kwargs)
        secs[route] += time.perf_counter() - t
        return out

    def ladder_fit(y_semi, seed):
        return AutoencoderClassifier(max_iter=args.ladder_max_iter, random_state=seed).fit(X_fit, y_semi)

    def demo_labels(y_semi):  # the demo's LabelSpreading, class-balanced: what student and ls2_svc_shift learn
        return ls2_labels_of(_spreading().fit(X_fit, y_semi), X_fit, y_semi)

    def fit_tangents(seed):  # one ContractiveAutoencoder per draw's seed, labels unused
        cae = ContractiveAutoencoder(random_state=seed).fit(X_fit)
        return [with_tangents(cae, Z, args.tangent_directions) for Z in (X_fit, X_eval)]

    for seed in seeds:
        tangents = timed("tangent", fit_tangents, seed) if "tangent" in wanted else None
        for per in args.labels_per_class:
            y_semi, _ = draw_labels(y_fit, per, seed)
            spread = timed("ls", spreading, X_fit, y_semi)
            acc[per, "ls"].append(spread.score(X_eval, y_eval))
            if {"ls2", "agree_ls2", "ens_ls2", "ls2_svc", "agree_ls2_svc"} & set(wanted):
                ls2_labels = timed("ls2", ls2_labels_of, spread, X_fit, y_semi)
                ls2_spread = timed("ls2", spreading, X_fit, ls2_labels)
            if "ls2" in wanted:
                acc[per, "ls2"].append(ls2_spread.score(X_eval, y_eval))
            if "ls2_svc" in wanted:
                acc[per, "ls2_svc"].append(timed("ls2_svc", SVC().fit, X_fit, ls2_labels).score(X_eval, y_eval))
            if {"agree", "agree_ls2", "ladder", "ens_ls2", "agree_ls2_svc"} & set(wanted):
                ladder = timed("agree", ladder_fit, y_semi, seed)
                ladder_labels = ladder.predict(X_fit)
            if "ladder" in wanted:
                acc[per, "ladder"].append(ladder.score(X_eval, y_eval))
            if "ens_ls2" in wanted:
                summed = ls2_spread.predict_proba(X_eval) + ladder.predict_proba(X_eval)
                acc[per, "ens_ls2"].append(float(np.mean(ladder.classes_[summed.argmax(axis=1)] == y_eval)))
            if "agree" in wanted:
                agreed = agreement_labels(y_semi, spread.transduction_, ladder_labels)
                acc[per, "agree"].append(timed("agree", spreading, X_fit, agreed).score(X_eval, y_eval))
            if {"agree_ls2", "agree_ls2_svc"} & set(wanted):
                agreed = agreement_labels(y_semi, ls2_labels, ladder_labels)
            if "agree_ls2" in wanted:
                acc[per, "agree_ls2"].append(timed("agree_ls2", spreading, X_fit, agreed).score(X_eval, y_eval))
            if "agree_ls2_svc" in wanted:
                kept = agreed >= 0
                svc = timed("agree_ls2_svc", SVC().fit, X_fit[kept], agreed[kept])
                acc[per, "agree_ls2_svc"].append(svc.score(X_eval, y_eval))
            if "tangent" in wanted:
                m = timed("tangent", spreading, tangents[0], y_semi, kernel=TangentKNNKernel(X.shape[1]))
                acc[per, "tangent"].append(m.score(tangents[1], y_eval))
            if {"student", "ls2_svc_shift"} & set(wanted):
                labels = timed("student", demo_labels, y_semi)
            if "student" in wanted:
                student = timed("student", balanced_student, X_fit, y_semi, labels, max_iter=args.student_max_iter,
                                random_state=seed)
                acc[per, "student"].append(student.score(X_eval, y_eval))
            if "ls2_svc_shift" in wanted:
                svc = timed("ls2_svc_shift", make_pipeline(MinMaxScaler(), SVC()).fit,
                            *taught_rows(X_fit, y_semi, labels))
                acc[per, "ls2_svc_shift"].append(svc.score(X_eval, y_eval))
            if {"ls_shifts", "shifts_svc", "shifts_svc_shift", "shifts_student"} & set(wanted):
                shift_labels, shift_spread = timed("ls_shifts", shifted_spreading_labels, X_fit, y_semi)
            if "ls_shifts" in wanted:
                acc[per, "ls_shifts"].append(shift_spread.score(X_eval, y_eval))
            if "shifts_svc" in wanted:
                svc = timed("shifts_svc", make_pipeline(MinMaxScaler(), SVC()).fit, X_fit, shift_labels)
                acc[per, "shifts_svc"].append(svc.score(X_eval, y_eval))
            if "shifts_svc_shift" in wanted:
                svc = timed("shifts_svc_shift", make_pipeline(MinMaxScaler(), SVC()).fit,
                            *taught_rows(X_fit, y_semi, shift_labels))
                acc[per, "shifts_svc_shift"].append(svc.score(X_eval, y_eval))
            if "shifts_student" in wanted:
                student = timed("shifts_student", balanced_student, X_fit, y_semi, shift_labels,
                                max_iter=args.student_max_iter, random_state=seed)
                acc[per, "shifts_student"].append(student.score(X_eval, y_eval))
            for route, fn in (("graph_mlp", graph_mlp), ("lp_iter", lp_iter)):
                if route in wanted:
                    pred = timed(route, fn, X_fit, y_semi, X_eval, seed)
                    acc[per, route].append(float(np.mean(pred == y_eval)))
        print(f"draw {seed} done, {time.perf_counter() - start:.0f} s", flush=True)

    rows = []
    for per in args.labels_per_class:
        base = np.asarray(acc[per, "ls"])
        for r in wanted:
            v = np.asarray(acc[per, r])
            gain = v - base
            rows.append([per, r, f"{v.mean():.3f} ± {v.std():.3f}", "" if r == "ls" else f"{gain.mean():+.3f}",
                         "" if r == "ls" else f"{gain.std():.3f}", "" if r == "ls" else f"{np.sum(gain > 0)}/{len(v)}",
                         "yes" if r != "ls" and gain.mean() > base.std() else "", " ".join(f"{a:.3f}" for a in v)])
    body = table(rows, ["labels / class", "route", "accuracy (mean ± sd)", "gain over ls", "sd of gain",
                        "draws ahead", "gain > ls's sd", "per draw"])
    body += "\n\nFit seconds per route, summed over draws and label counts (ls2, agree and agree_ls2 reuse ls's fit; "
    body += "agree_ls2 reuses agree's ladder; ls2_svc_shift reuses student's labels; the shifts_ routes reuse "
    body += "ls_shifts' labels): "
    body += ", ".join(f"{r} {s:.0f}" for r, s in secs.items())
    split = {"val": "validation: 997 fitting rows, 300 validation rows",
             "val2": "a second partition (random_state=1): 1297 training rows, 500 evaluated rows",
             "test": "the demo's: 1297 training rows, 500 test rows"}[args.split]
    record("Digits, few labels: candidate routes against LabelSpreading (bench_digits_routes)", body, args,
           notes=f"split {split}; label draws {seeds.start}-{seeds.stop - 1}; "
                 f"ladder {args.ladder_max_iter} epochs; student {args.student_max_iter} epochs; "
                 f"{args.tangent_directions} tangent directions; "
                 f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
