"""Which inputs a calibrator was fitted for: the neighbourhood of the files it was fitted on.

A temperature fitted on photo stamps does not carry to handwritten digits (the shipped image
default leaves MNIST at ECE 0.75), yet its probabilities look just as calibrated. So a
fitted calibrator keeps the embeddings of the files it was fitted on, and an input whose
k-th nearest of them is farther than almost all of those files are from their own k-th
nearest neighbour (leave-one-out; the ``quantile``, 0.95 by default) lies outside its
domain: its probability is reported as not calibrated for it. This is the deep k-NN
out-of-distribution test of Sun et al. (ICML 2022) on normalised embeddings, with the
cut set on in-domain data alone, so by construction about 5 % of new in-domain files fall
outside.

One file at a time, that test cannot see a shift a set of files shows at once: on the shipped image
default, every MNIST digit lies within its photos' k-NN radius (the 109 photos are diverse, the digits
sit in one tight clump) and the k-NN distance tells digits from held-out photos with an AUROC of only
0.77. So a set of at least :data:`MIN_SET_FILES` files is also tested as a whole with a classifier
two-sample test (Lopez-Paz & Oquab, ICLR 2017): a logistic regression learns to tell the set from the
fitting files near it, and its cross-validated scores say how well it can (AUROC; a one-sided
Mann-Whitney p). "Near it" matters: against all 109 photos, held-out photos of just two of their own
classes were "unlike" (a class mix is easy to tell from ten classes), which would cry wolf on every
folder of one kind of picture. Against the photos among their neighbours they are alike, while
MNIST digits, Fashion-MNIST garments and Tux Paint's cartoon stamps are not
(``scripts/calibration_domain_eval.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from unibind.results import CalibrationSetCheck

PREFIX = "domain."
MAX_REFERENCE = 4096
#: Sets smaller than this are not tested as a whole; larger ones are sampled (seeded) down to MAX_SET_FILES.
MIN_SET_FILES, MAX_SET_FILES = 20, 2000
#: A set is unlike the fitting files when the two-sample test's p is below SET_ALPHA and its AUROC (the effect
#: size: a huge set makes a tiny, harmless shift significant) reaches SET_MIN_AUROC.
SET_ALPHA, SET_MIN_AUROC = 1e-3, 0.75


class CalibrationDomain:
    """Normalised reference embeddings ``[N, D]`` and the k-NN cosine distance beyond which an input is outside."""

    def __init__(self, reference: torch.Tensor, *, k: int, radius: float, quantile: float):
        self.reference = F.normalize(reference.float(), dim=-1)
        self.k, self.radius, self.quantile = int(k), float(radius), float(quantile)

    @classmethod
    def fit(cls, vectors: torch.Tensor, *, k: int = 5, quantile: float = 0.95) -> CalibrationDomain | None:
        """The domain of ``vectors`` (the files a calibrator is fitted on); None with too few to tell."""
        vectors = F.normalize(vectors.float(), dim=-1)
        if len(vectors) > MAX_REFERENCE:   # a seeded sample keeps the file small and the quantile the same
            vectors = vectors[torch.randperm(len(vectors), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]]
        k = min(k, len(vectors) - 2)
        if k < 1:
            return None
        own = _leave_one_out(vectors, torch.arange(len(vectors)), k)
        return cls(vectors, k=k, radius=float(torch.quantile(own, quantile)), quantile=quantile)

    def distances(self, vectors: torch.Tensor) -> torch.Tensor:
        """``[M]`` cosine distance of each input to its k-th nearest reference embedding."""
        sims = F.normalize(vectors.float(), dim=-1) @ self.reference.T
        return 1.0 - sims.topk(min(self.k, len(self.reference)), dim=-1).values[:, -1]

    def contains(self, vectors: torch.Tensor) -> torch.Tensor:
        """``[M]`` bool: inside the domain."""
        return self.distances(vectors) <= self.radius

    def set_test(self, vectors: torch.Tensor | Sequence[torch.Tensor], *, seed: int = 0) -> CalibrationSetCheck | None:
        """Whether ``vectors`` (one tensor, or a run's chunks of rows), taken together, are unlike the fitting
        files (None: too few to tell)."""
        vectors = sample_rows([vectors] if isinstance(vectors, torch.Tensor) else list(vectors), MAX_SET_FILES, seed)
        if len(vectors) < MIN_SET_FILES or len(self.reference) < MIN_SET_FILES:
            return None
        import numpy as np   # here, not at the top: classifying one file must not pay for scikit-learn
        from scipy.stats import mannwhitneyu
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        given = F.normalize(vectors.float(), dim=-1)
        # against the fitting files *near* the set, not all of them: a folder of one kind of photo is told apart
        # from ten kinds at once (a class mix, not a new domain), but not from the photos of its own kind
        local = self._neighbourhood(given)
        # the k-NN distance as one more feature: a linear boundary alone cannot tell a set that sits *among* the
        # fitting files' classes (in their hull, each far from all of them) from those files
        distance = torch.cat([_leave_one_out(self.reference, local, self.k), self.distances(given)]).numpy()
        distance = (distance - distance.mean()) / (distance.std() + 1e-12)
        x = np.hstack([np.vstack([self.reference[local].numpy(), given.numpy()]), distance[:, None]])
        y = np.r_[np.zeros(len(local)), np.ones(len(given))]
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        scores = cross_val_predict(LogisticRegression(max_iter=2000, class_weight="balanced"), x, y, cv=folds,
                                   method="decision_function")
        auroc = float(roc_auc_score(y, scores))
        p = float(mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
        return CalibrationSetCheck(files=len(given), reference=len(local), auroc=auroc, p_value=p,
                                   unlike=p < SET_ALPHA and auroc >= SET_MIN_AUROC)

    def _neighbourhood(self, given: torch.Tensor) -> torch.Tensor:
        """Indices of the fitting files among the k nearest of any of ``given`` (k doubled from the domain's own
        until at least MIN_SET_FILES of them are in it, or all)."""
        sims = given @ self.reference.T
        k = self.k
        while True:
            local = sims.topk(min(k, len(self.reference)), dim=-1).indices.flatten().unique()
            if len(local) >= MIN_SET_FILES or k >= len(self.reference):
                return local
            k *= 2

    def coverage(self, vectors: torch.Tensor, inside: torch.Tensor | None = None) -> dict[str, Any]:
        """How many of ``vectors`` lie inside one at a time (``inside``: :meth:`contains` of them, if the caller
        has it already), and (20 or more) the set test: the figures a report gives for a calibrator on files it
        was not fitted on."""
        inside = self.contains(vectors) if inside is None else inside
        out: dict[str, Any] = {"count": len(inside), "inside": int(inside.sum())}
        as_a_set = self.set_test(vectors)
        if as_a_set is not None:
            out["set_test"] = as_a_set.model_dump()
        return out

    def describe(self) -> str:
        """What ``calibrate fit`` says of the domain it saved (one line)."""
        return (f"domain: the {len(self.reference)} files' embeddings (k = {self.k}); classify marks an input whose "
                f"k-th nearest of them is over {self.radius:.3f} in cosine distance (as only "
                f"{1 - self.quantile:.0%} of these files are from the others) as not calibrated for, and "
                f"{MIN_SET_FILES} or more files classified together that a classifier tells apart from these")

    def settings(self) -> dict[str, Any]:
        """What a calibrator's record says about its domain (the embeddings go in its tensors)."""
        return {"k": self.k, "radius": self.radius, "quantile": self.quantile, "count": len(self.reference),
                "method": "k-NN cosine distance to the fitting files (Sun et al. 2022), cut at the quantile of "
                          "their leave-one-out distances"}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"{PREFIX}reference": self.reference.contiguous()}

    @classmethod
    def from_saved(cls, settings: dict[str, Any] | None, state: dict[str, torch.Tensor]) -> CalibrationDomain | None:
        """The domain saved in a calibrator file's tensors; its tensors are taken out of ``state``, so what is left
        is the calibrator's own state dict. None: the file has none (fitted before domains were recorded)."""
        tensors = {key: state.pop(key) for key in [key for key in state if key.startswith(PREFIX)]}
        reference = tensors.get(f"{PREFIX}reference")
        if not settings or reference is None:
            return None
        return cls(reference, k=settings["k"], radius=settings["radius"], quantile=settings["quantile"])


def _leave_one_out(vectors: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    """``[len(rows)]`` cosine distance of each of the unit ``vectors[rows]`` to its k-th nearest other one (only
    those rows are compared with the rest: the set test needs a few of a large reference's)."""
    sims = vectors[rows] @ vectors.T
    sims[torch.arange(len(rows)), rows] = float("-inf")     # leave one out: a file is not its own neighbour
    return 1.0 - sims.topk(k, dim=-1).values[:, -1]


def sample_rows(parts: Sequence[torch.Tensor], limit: int, seed: int = 0) -> torch.Tensor:
    """At most ``limit`` rows drawn (seeded, in order) from the rows of ``parts`` taken together, gathered
    without joining them first: a million-file run's chunks are views that a join would copy whole."""
    total = sum(len(p) for p in parts)
    if total <= limit:
        return torch.cat(list(parts)) if len(parts) != 1 else parts[0]
    rows = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:limit].sort().values
    picked, offset = [], 0
    for part in parts:
        mine = rows[(rows >= offset) & (rows < offset + len(part))] - offset
        picked.append(part[mine])
        offset += len(part)
    return torch.cat(picked)


def _domain_of(calibrator: Any, modality: str) -> CalibrationDomain | None:
    fitted = calibrator.get(modality) if isinstance(calibrator, Mapping) else calibrator
    return getattr(fitted, "domain", None)


def mark_calibration_domain(found: Sequence[Any], calibrator: Any, modality: str, vectors: torch.Tensor,
                            calibrated: bool) -> bool:
    """Set each prediction's ``calibration_domain``: whether its input lies among the files its calibrator
    (one, or one per modality) was fitted on. False: nothing checked (no calibration, or no domain)."""
    domain = _domain_of(calibrator, modality)
    if not calibrated or domain is None:
        return False
    for prediction, inside in zip(found, domain.contains(vectors).tolist()):
        prediction.calibration_domain = inside
    return True


def mark_calibration_set(checked: Mapping[str, Sequence[torch.Tensor]], calibrator: Any,
                         predictions: Sequence[Any]) -> None:
    """Per modality, test the files classified together (``checked``: their vectors, in chunks) as a whole
    against the calibrator's fitting files, and record the result on the predictions checked one by one."""
    results = {m: _domain_of(calibrator, m).set_test(vectors) for m, vectors in checked.items()}
    for prediction in predictions:
        if prediction.calibration_domain is not None:
            prediction.calibration_set = results.get(prediction.modality)
