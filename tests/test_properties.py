"""Property-based tests (hypothesis) of the core's pure maths: invariants that hold for every input.

Calibration metrics: permutation invariance, bounds, zero for perfect calibration; temperature
scaling never raises the NLL of the set it was fitted on; segmented centre scoring equals a
per-class loop for random shapes; the description filters are idempotent.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from unibind.calibration import metrics
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.knowledge.centres import centre_tensor, score_centres
from unibind.knowledge.filters import DescriptionFilter, FilterSettings, clean_candidate, split_candidates
from unibind.knowledge.records import ClassRef, DescriptionDraft, normalise_text

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def predictions(draw, max_n=40, max_c=6):
    """Probabilities [N, C] (softmax of drawn logits, so rows sum to 1) and labels [N]."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 50.0]))
    gen = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(n, c, generator=gen, dtype=torch.float64) * scale, -1)
    labels = torch.randint(0, c, (n,), generator=gen)
    return probs, labels


def _all(probs, labels, n_bins):
    return {
        "ece": metrics.ece(probs, labels, n_bins), "ece_mass": metrics.ece(probs, labels, n_bins, "mass"),
        "mce": metrics.mce(probs, labels, n_bins), "brier": metrics.brier(probs, labels),
        "nll": metrics.nll(probs, labels),
    }


@FAST
@given(predictions(), st.integers(1, 20), st.randoms(use_true_random=False))
def test_metrics_do_not_depend_on_sample_order(pred, n_bins, rnd):
    probs, labels = pred
    order = list(range(len(labels)))
    rnd.shuffle(order)
    before = _all(probs, labels, n_bins)
    after = _all(probs[order], labels[order], n_bins)
    # equal-mass bins split ties by position, so only width binning is exactly order-free with ties
    ties = len(set(probs.max(-1).values.tolist())) < len(labels)
    for name, value in before.items():
        if name == "ece_mass" and ties:
            continue
        assert after[name] == pytest.approx(value, abs=1e-12), name


@FAST
@given(predictions(), st.integers(1, 20))
def test_metrics_stay_within_their_bounds(pred, n_bins):
    probs, labels = pred
    m = _all(probs, labels, n_bins)
    assert 0 <= m["ece"] <= m["mce"] + 1e-12 <= 1 + 1e-12
    assert 0 <= m["ece_mass"] <= 1
    assert 0 <= metrics.adaptive_ece(probs, labels, n_bins) <= 1
    assert 0 <= m["brier"] <= 2
    assert 0 <= m["nll"] <= -math.log(1e-12)


@FAST
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 4)), min_size=1, max_size=5), st.integers(2, 5),
       st.integers(1, 20))
def test_perfect_calibration_gives_zero_ece_and_mce(groups, classes, n_bins):
    # each group: times x 10 samples at confidence tenths/10, of which exactly tenths are right
    rows, labels = [], []
    for tenths, times in groups:
        assume(tenths * classes > 10)                         # the top probability is above 1/C
        rest = (1 - tenths / 10) / (classes - 1)
        for _ in range(times):
            rows += [[tenths / 10] + [rest] * (classes - 1)] * 10
            labels += [0] * tenths + [1] * (10 - tenths)
    probs, labels = torch.tensor(rows, dtype=torch.float64), torch.tensor(labels)
    assert metrics.ece(probs, labels, n_bins) == pytest.approx(0.0, abs=1e-12)
    assert metrics.mce(probs, labels, n_bins) == pytest.approx(0.0, abs=1e-12)
    assert metrics.ece(probs, labels, n_bins, "mass") <= 1.0


@FAST
@given(st.integers(1, 30), st.integers(2, 6), st.integers(1, 20))
def test_one_hot_right_answers_have_zero_error_everywhere(n, c, n_bins):
    labels = torch.arange(n) % c
    probs = F.one_hot(labels, c).double()
    assert metrics.ece(probs, labels, n_bins) == 0.0
    assert metrics.mce(probs, labels, n_bins) == 0.0
    assert metrics.brier(probs, labels) == 0.0
    assert metrics.nll(probs, labels) == 0.0
    wrong = (labels + 1) % c
    assert metrics.ece(probs, wrong, n_bins) == 1.0 and metrics.brier(probs, wrong) == 2.0


@settings(max_examples=12, deadline=None)
@given(predictions(max_n=60), st.sampled_from([0.05, 0.5, 1.0, 4.0]))
def test_temperature_scaling_never_raises_nll_on_its_fitting_set(pred, start):
    probs, labels = pred
    assume(len(labels) >= 2)
    logits = probs.clamp_min(1e-9).log()
    before = F.cross_entropy(logits / start, labels).item()
    from unibind.calibration.base import CalibrationFitError

    try:
        scaler = TemperatureScaler(TemperatureSettings(temperature=start, max_iter=50)).fit(logits, labels)
    except CalibrationFitError as exc:   # refused: no finite best T in bounds, and it says why
        assert "no temperature fitted" in str(exc)
        return
    after = F.cross_entropy(logits.double() / scaler.temperature, labels).item()
    assert scaler.temperature > 0
    assert after <= before + 1e-6
    # what the scaler returns is that same calibrated distribution
    assert metrics.nll(scaler(logits), labels) == pytest.approx(after, rel=1e-4, abs=1e-5)


@st.composite
def centre_sets(draw):
    classes = draw(st.integers(1, 6))
    dim = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(1, 5), min_size=classes, max_size=classes))
    n = draw(st.integers(1, 30))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    groups = [torch.randn(k, dim, generator=gen) for k in sizes]
    return groups, torch.randn(n, dim, generator=gen)


def _per_class_loop(groups, queries, reduce, t):
    q = F.normalize(queries, dim=-1)
    out = torch.empty(len(queries), len(groups))
    for c, group in enumerate(groups):
        sims = q @ F.normalize(group, dim=-1).T
        for i in range(len(queries)):
            row = sims[i]
            if reduce == "max":
                out[i, c] = row.max()
            elif reduce == "mean":
                out[i, c] = row.mean()
            else:
                out[i, c] = t * torch.log(torch.exp(row.double() / t).mean())
    return out


@FAST
@given(centre_sets(), st.sampled_from(["max", "mean", "softmax"]), st.sampled_from([0.05, 0.3, 2.0]),
       st.sampled_from([4, 64, 2**20]))
def test_centre_scoring_equals_a_per_class_loop(data, reduce, t, chunk_bytes):
    groups, queries = data
    assume(not any(float(g.norm(dim=-1).min()) < 1e-3 for g in groups))
    assume(float(queries.norm(dim=-1).min()) > 1e-3)
    centres, mask = centre_tensor(groups)
    ours = score_centres(queries, centres, mask, reduce=reduce, temperature=t, chunk_bytes=chunk_bytes)
    assert ours.shape == (len(queries), len(groups))
    assert torch.allclose(ours, _per_class_loop(groups, queries, reduce, t), atol=1e-4)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Co"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_normalise_text_is_idempotent(text):
    once = normalise_text(text)
    assert normalise_text(once) == once


_MARKERS = st.sampled_from(["", "1. ", "2) ", "- ", "* ", "• ", "Description 3: ", "  "])
_QUOTED = st.sampled_from([("", ""), ('"', '"'), ("‘", "’"), ("'", "'")])
_SENTENCE = st.lists(st.sampled_from("a dog is the loyal animal that barks at night cats purr".split()),
                     min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")


@settings(max_examples=200, deadline=None)
@given(_MARKERS, _QUOTED, _SENTENCE, st.sampled_from(["", " ", "\t", "  "]))
def test_cleaning_a_clean_candidate_changes_nothing(marker, quotes, sentence, pad):
    cleaned = clean_candidate(pad + marker + quotes[0] + sentence + quotes[1] + pad)
    assert cleaned == sentence
    assert clean_candidate(cleaned) == cleaned
    assert split_candidates(cleaned) == [cleaned]


@settings(max_examples=100, deadline=None)
@given(st.lists(_SENTENCE, max_size=12), st.booleans())
def test_filtering_what_a_filter_kept_keeps_it_all(sentences, require_mention):
    config = FilterSettings(require_mention=require_mention, min_words=2)
    first = DescriptionFilter(ClassRef(name="dog"), config)
    kept = [r.text for r in (first.check(s) for s in sentences) if isinstance(r, DescriptionDraft)]
    assert len({normalise_text(k) for k in kept}) == len(kept)          # no repeat survives
    again = DescriptionFilter(ClassRef(name="dog"), config)
    assert [r.text for r in (again.check(k) for k in kept) if isinstance(r, DescriptionDraft)] == kept
