"""Fallback validators, the decision policy, explanations and their path through Space.classify.

The text modality with the hashing test encoder stands in for a real encoder: texts that share
words are similar, so a file's content decides which class it is near, with no model to load.
"""

from __future__ import annotations

import pytest
import torch

from unibind.calibration.store import CalibratorRecord, FittedCalibrator
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.explain import explain, modality_contributions
from unibind.results import ValidatorRecord
from unibind.space import Space
from unibind.validation.base import Case, ClassTexts, Fallback, FallbackSettings, class_texts
from unibind.validation.captions import CaptionAgreement
from unibind.validation.crossmodal import CrossModalAgreement
from unibind.validation.instances import classify_instances
from unibind.validation.yesno import YesNoSettings, YesNoVerifier

LABELS = ["dog", "cat", "truck"]


@pytest.fixture
def space(registry):
    return Space(registry=registry, settings={"hashing": {"dim": 256}})


def _case(space, text, probs, others=None, source="x"):
    return Case(source, "text", LABELS, torch.tensor(probs), space.embed_text([text])[0], others or {})


class Stub:
    def __init__(self, name, verdict, support=0.8, label=None):
        self.name, self.verdict, self.support, self.label = name, verdict, support, label

    def validate(self, case, texts, space):
        if self.verdict == "boom":
            raise RuntimeError("validator crashed")
        return ValidatorRecord(name=self.name, verdict=self.verdict, support=self.support,
                               label=self.label or case.labels[case.predicted])


def test_policy_runs_validators_only_below_the_threshold_and_records_the_decision(space):
    texts = class_texts(space, LABELS, "text")
    confident = _case(space, "a dog", [0.9, 0.05, 0.05])
    unsure = _case(space, "a dog", [0.5, 0.3, 0.2])
    agree = Fallback(validators=[Stub("a", "agree"), Stub("b", "abstain")])
    record, label, conf = agree.review(confident, texts, space)
    assert (record.ran, record.decision, label, conf) == (False, "accepted", "dog", pytest.approx(0.9))
    record, label, conf = agree.review(unsure, texts, space)
    assert record.ran and record.decision == "verified" and [v.name for v in record.validators] == ["a", "b"]
    assert conf == pytest.approx((0.5 + 0.8) / 2)
    revise = Fallback(validators=[Stub("a", "disagree", 0.1, "cat"), Stub("b", "disagree", 0.2, "cat")])
    record, label, conf = revise.review(unsure, texts, space)
    assert (record.decision, label, conf, record.original_label) == ("revised", "cat", pytest.approx(0.3), "dog")
    split = Fallback(validators=[Stub("a", "agree"), Stub("b", "disagree", 0.1, "cat")])
    assert split.review(unsure, texts, space)[0].decision == "rejected"
    weak = Fallback(FallbackSettings(min_support=0.9), validators=[Stub("a", "agree", 0.6)])
    assert weak.review(unsure, texts, space)[0].decision == "rejected"
    broken = Fallback(validators=[Stub("x", "boom")]).review(unsure, texts, space)[0]
    assert broken.decision == "rejected" and "validator crashed" in broken.validators[0].detail
    higher = Fallback(FallbackSettings(threshold=0.95), validators=[Stub("a", "agree")])
    assert higher.review(confident, texts, space)[0].ran


def test_yes_no_verification_says_yes_near_the_class_and_no_near_its_negation(space):
    texts = class_texts(space, LABELS, "text")
    verifier = YesNoVerifier(YesNoSettings(scale=20))
    yes = verifier.validate(_case(space, "a photo of a dog", [0.5, 0.3, 0.2]), texts, space)
    assert yes.verdict == "agree" and yes.support > 0.5 and "not dog" in yes.detail
    no = verifier.validate(_case(space, "something other than a dog", [0.5, 0.3, 0.2]), texts, space)
    assert no.verdict == "disagree" and no.support < yes.support
    rival = verifier.validate(_case(space, "a photo of a cat", [0.5, 0.3, 0.2]), texts, space)
    assert rival.verdict == "disagree" and rival.label == "cat"


def test_caption_agreement_finds_the_captioner_through_the_registry(space, registry, tmp_path):
    texts = class_texts(space, LABELS, "text")
    cat_file = tmp_path / "cat.txt"
    cat_file.write_text("an animal")
    validator = CaptionAgreement(registry=registry)
    # predicted dog, barely; the captioner says "cat ...": fused probabilities turn to cat
    record = validator.validate(_case(space, "an animal", [0.4, 0.35, 0.25], source=str(cat_file)), texts, space)
    assert record.verdict == "disagree" and record.label == "cat" and "fake-captioner" in record.detail
    agree = validator.validate(_case(space, "an animal", [0.4, 0.35, 0.25], source=str(tmp_path / "cat.txt")),
                               texts, space)
    assert agree.support == pytest.approx(record.support)
    dog_file = tmp_path / "dog.txt"
    dog_file.write_text("an animal")
    assert validator.validate(_case(space, "an animal", [0.4, 0.35, 0.25], source=str(dog_file)),
                              texts, space).verdict == "agree"
    image_case = Case(str(cat_file), "image", LABELS, torch.tensor([0.4, 0.35, 0.25]), texts.centres[0, 0])
    assert validator.validate(image_case, texts, space).verdict == "abstain"   # no captioner reads images


def test_cross_modal_agreement_and_modality_shares(space):
    texts = class_texts(space, LABELS, "text")
    validator = CrossModalAgreement()
    assert validator.validate(_case(space, "dog", [0.5, 0.4, 0.1]), texts, space).verdict == "abstain"
    agree = validator.validate(_case(space, "dog", [0.5, 0.4, 0.1], {"audio": torch.tensor([0.8, 0.1, 0.1])}),
                               texts, space)
    assert agree.verdict == "agree" and agree.support == pytest.approx(0.65)
    disagree = validator.validate(_case(space, "dog", [0.45, 0.4, 0.15], {"audio": torch.tensor([0.1, 0.8, 0.1])}),
                                  texts, space)
    assert disagree.verdict == "disagree" and disagree.label == "cat"
    shares = modality_contributions({"image": torch.tensor([0.6, 0.4, 0.0]), "audio": torch.tensor([0.2, 0.8, 0.0])},
                                    LABELS, 0)
    assert [(s.modality, s.label, round(s.share, 3)) for s in shares] == [("image", "dog", 0.75), ("audio", "cat", 0.25)]


def test_explanations_name_the_best_matching_description(space):
    texts = ClassTexts(LABELS, [["a dog", "a barking dog"], ["a cat"], ["a truck", "a red truck"]],
                       *_centres(space, [["a dog", "a barking dog"], ["a cat"], ["a truck", "a red truck"]]))
    why = explain(_case(space, "a barking dog", [0.7, 0.2, 0.1]), texts, top_k=2)
    assert [m.label for m in why.top] == ["dog", "cat"]
    assert why.top[0].description == "a barking dog" and why.top[0].description_similarity == pytest.approx(1, abs=1e-5)
    assert why.entropy == pytest.approx(float(-(torch.tensor([0.7, 0.2, 0.1]).log() * torch.tensor([0.7, 0.2, 0.1])).sum()))


def _centres(space, groups):
    from unibind.knowledge.centres import centre_tensor

    return centre_tensor([space.embed_text(g) for g in groups])


def test_classify_applies_a_space_calibrator_and_the_fallback(space, registry, tmp_path):
    files = []
    for name, text in [("a", "a photo of a dog"), ("b", "a photo of a cat dog truck"), ("c", "a truck")]:
        files.append(tmp_path / f"{name}.txt")
        files[-1].write_text(text)
    hot = TemperatureScaler(TemperatureSettings(temperature=1000.0))      # flattens: everything below 0.6
    fitted = FittedCalibrator(hot, CalibratorRecord(name="temperature", modality="text"))
    fallback = Fallback(FallbackSettings(validators=["yes-no", "cross-modal"]), registry=registry)
    predictions, failures = space.classify(files + [tmp_path / "missing.txt"], LABELS, calibrator={"text": fitted},
                                           fallback=fallback, explain=True)
    assert [f.source for f in failures] == [str(tmp_path / "missing.txt")]
    assert all(p.calibrated and p.fallback.ran for p in predictions)
    assert all(p.fallback.original_confidence < 0.6 for p in predictions)
    by_file = {p.source: p for p in predictions}
    assert by_file[str(files[0])].fallback.decision == "verified"
    assert {v.name: v.verdict for v in by_file[str(files[0])].fallback.validators}["cross-modal"] == "abstain"
    assert by_file[str(files[0])].explanation.top[0].label == "dog"
    plain, _ = space.classify(files, LABELS)
    assert plain[0].fallback is None and plain[0].explanation is None and not plain[0].calibrated


def test_instances_review_each_modality_with_the_others(space, registry, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a dog")
    b.write_text("a dog barking")
    results, failures = classify_instances(space, [{"text": a}, {"text": b}], LABELS)
    assert not failures and [r["text"].label for r in results] == ["dog", "dog"]
    assert results[0]["text"].explanation.modalities == []


class FromSource(Stub):
    """Agrees, with a support written in the case's source name (``"0.9"``)."""

    def validate(self, case, texts, space):
        return ValidatorRecord(name=self.name, verdict="agree", support=float(case.source),
                               label=case.labels[case.predicted])


def _lower_bound(right, n):
    """The one-sided 95 % Clopper-Pearson lower bound written as its beta quantile (not binomtest's route)."""
    from scipy.stats import beta

    return 0.0 if right == 0 else float(beta.ppf(0.05, right, n - right + 1))


def _cases(space, confidences, supports):
    vector = space.embed_text(["a dog"])[0]
    return [Case(str(s), "text", LABELS, torch.tensor([c, (1 - c) / 2, (1 - c) / 2]), vector)
            for c, s in zip(confidences, supports)]


def test_a_cut_the_point_estimate_would_take_is_refused_when_its_95_percent_bound_misses_the_target(space):
    texts = class_texts(space, LABELS, "text")
    supports = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    cases = [_case(space, "a dog", [0.5, 0.3, 0.2], source=str(s)) for s in supports]
    truth = [0, 0, 0, 1, 0, 1]          # right, right, right, wrong, right, wrong (predicted: dog = 0)
    fallback = Fallback(validators=[FromSource("s", "agree")])
    stats = fallback.fit(cases, texts, space, truth, target=0.75)
    # cumulative accuracy 1, 1, 1, .75, .8, .67: the old point estimate verified down to .5 (5 of 6); 3 of 3 right
    # is no evidence of 75 %: the best lower bound (all of the top 3 right) is 0.05 ** (1/3)
    assert stats["cut"] == float("inf") and stats["agreed"] == 6 and stats["verified"] == 0
    assert stats["bound"] == pytest.approx(0.05 ** (1 / 3)) and stats["target"] == 0.75
    assert [fallback.review(c, texts, space)[0].decision for c in cases] == ["rejected"] * 6
    assert fallback.adds_nothing


def test_fit_chooses_the_lowest_cut_whose_95_percent_lower_bound_reaches_the_target(space):
    texts = class_texts(space, LABELS, "text")
    supports = [0.99 - 0.01 * i for i in range(40)]
    truth = [0] * 20 + [1, 0, 0, 1, 0, 1, 0, 1, 1, 0] + [1] * 10    # right first, then mixed, then wrong
    cases = [_case(space, "a dog", [0.5, 0.3, 0.2], source=f"{s:.2f}") for s in supports]
    fallback = Fallback(validators=[FromSource("s", "agree")])
    stats = fallback.fit(cases, texts, space, truth, target=0.75)
    n = stats["verified"]
    right = [t == 0 for t in truth]
    assert stats["cut"] == pytest.approx((0.5 + supports[n - 1]) / 2) and stats["verified_right"] == sum(right[:n])
    assert _lower_bound(sum(right[:n]), n) >= 0.75 and stats["bound"] == pytest.approx(_lower_bound(sum(right[:n]), n))
    assert all(_lower_bound(sum(right[:m]), m) < 0.75 for m in range(n + 1, 41))   # no lower cut passes
    decisions = [fallback.review(c, texts, space)[0].decision for c in cases]
    assert decisions == ["verified"] * n + ["rejected"] * (40 - n)
    assert fallback.fit(cases, texts, space, [1] * 40)["cut"] == float("inf")   # never right: never verify


def test_the_target_is_at_least_the_accuracy_of_what_the_threshold_accepts_unchecked(space):
    texts = class_texts(space, LABELS, "text")
    low = [0.45] * 30                       # below the threshold 0.6, the validators agree with all
    agreed = _cases(space, low, [0.9] * 30)
    truth = [0] * 27 + [1] * 3              # 90 % right: its lower bound (~0.76) passes 0.6, not 0.97
    confident = _cases(space, [0.9] * 30, [0.9] * 30)
    fallback = Fallback(FallbackSettings(threshold=0.6), validators=[FromSource("s", "agree")])
    sloppy = fallback.fit(agreed + confident, texts, space, truth + [0] * 15 + [1] * 15)   # unchecked 50 % right
    assert sloppy["target"] == 0.6 and sloppy["unchecked_accuracy"] == 0.5 and sloppy["cut"] < float("inf")
    sure = fallback.fit(agreed + confident, texts, space, truth + [0] * 29 + [1])   # unchecked 29 of 30 right
    assert sure["target"] == pytest.approx(29 / 30) and sure["cut"] == float("inf")
    assert sure["bound"] == pytest.approx(_lower_bound(27, 30))


def test_revisions_are_kept_only_when_their_lower_bound_reaches_the_target(space):
    texts = class_texts(space, LABELS, "text")
    cases = [_case(space, "a dog", [0.5, 0.3, 0.2]) for _ in range(20)]
    revising = Fallback(validators=[Stub("a", "disagree", 0.1, "cat")])
    # 5 of 5 revisions right is 100 % as a point estimate, yet its bound (0.05 ** (1/5) = 0.55) misses 0.6
    assert not revising.fit(cases[:5], texts, space, [1] * 5)["revise"]
    kept = revising.fit(cases, texts, space, [1] * 20)
    assert kept["revise"] and kept["revise_bound"] == pytest.approx(0.05 ** (1 / 20))


def test_cuts_fitted_across_the_grid_never_fall_as_the_threshold_rises(space):
    texts = class_texts(space, LABELS, "text")
    # below 0.5: 6 agreed and right at fused 0.7, then 4 at fused 0.5 of which 2 right
    # between 0.5 and 0.6: 20 agreed and right at fused 0.575; above 0.6: 40 predictions, 10 right (so what each
    # threshold accepts unchecked is right at most as often as the threshold: the targets are 0.5 and 0.6)
    confidences = [0.45] * 10 + [0.55] * 20 + [0.9] * 40
    supports = [0.95] * 6 + [0.55] * 4 + [0.6] * 20 + [0.9] * 40
    truth = [0] * 6 + [0, 1, 0, 1] + [0] * 20 + [0, 1, 1, 1] * 10
    cases = _cases(space, confidences, supports)
    fallback = Fallback(validators=[FromSource("s", "agree")])
    fits = fallback.fit_thresholds(cases, texts, space, truth, (0.5, 0.6))
    alone = {t: Fallback(FallbackSettings(threshold=t), validators=[FromSource("s", "agree")])
             .fit(cases, texts, space, truth)["cut"] for t in (0.5, 0.6)}
    # alone, 0.6 would verify down to 0.5 (28 of 30 right pass its bound) below 0.5's cut of 0.7 (8 of 10 do not)
    assert alone[0.5] == pytest.approx(0.7) and alone[0.6] == pytest.approx(0.5)
    assert fits[0.5]["cut"] == pytest.approx(0.7) and fits[0.6]["cut"] == pytest.approx(0.7)
    assert fits[0.6]["floor"] == pytest.approx(0.7) and fits[0.6]["bound"] >= fits[0.6]["target"] == 0.6
    assert not fallback.fitted and fallback.cut == 0.5      # fitting the grid leaves the policy as it was


def test_ranked_cases_name_the_label_classify_names_when_probabilities_tie(space):
    """A flat calibrator ties probabilities; the fallback must fit on classify's label (by score), not argmax's."""
    from unibind.validation.base import ranked_cases

    probs = torch.tensor([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.7, 0.2, 0.1]])
    scores = torch.tensor([[0.1, 0.3, 0.0], [0.0, 0.1, 0.5], [0.9, 0.0, 0.0]])
    vectors = space.embed_text(["a", "b", "c"])
    cases = ranked_cases(["a", "b", "c"], "text", LABELS, probs, vectors, scores)
    assert [c.predicted for c in cases] == [1, 2, 0]
    assert [c.predicted for c in ranked_cases(["a", "b", "c"], "text", LABELS, probs, vectors)] == [0, 1, 0]
    assert torch.equal(cases[1].scores, scores[1])
