"""scripts/fallback_eval.py's pure parts: the old point-estimate rule, the fused support, the AUROC, its errors.

Cases and validator records are made up here (no model, no data): three agreed predictions, all right, at
a fused support the threshold would accept as a point estimate (3/3) but not as a 95 % lower bound.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from unibind.results import FallbackRecord, ValidatorRecord
from unibind.validation.base import Case, Fallback

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fallback_eval.py"
LABELS = ["dog", "cat"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("fallback_eval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(p_dog: float, i: int) -> Case:
    return Case(f"item-{i}", "text", list(LABELS), torch.tensor([p_dog, 1 - p_dog]), torch.zeros(2))


def _agreed(case: Case, support: float) -> FallbackRecord:
    return FallbackRecord(threshold=0.6, ran=True, decision="accepted", original_label="dog",
                          original_confidence=float(case.probs.max()),
                          validators=[ValidatorRecord(name="v", verdict="agree", support=support, label="dog")])


def _few_right_below(n: int = 3):
    cases = [_case(0.55, i) for i in range(n)]           # below 0.6; fused (0.55 + 0.85) / 2 = 0.70
    return cases, [_agreed(c, 0.85) for c in cases], [0] * n    # all right


def test_the_old_rule_verifies_three_right_of_three_where_the_lower_bound_refuses(script):
    cases, records, truth = _few_right_below()
    old = script.PointEstimateFallback._choose(cases, records, truth, 0.6, None)
    new = Fallback._choose(cases, records, truth, 0.6, None)
    assert old["cut"] == pytest.approx(0.70) and old["verified"] == 3 and old["bound"] == 1.0
    assert old["target"] == 0.6 and "point estimate" in old["rule"]
    # 3 of 3 right: the one-sided 95 % Clopper-Pearson lower bound is 0.05 ** (1 / 3) = 0.368 < 0.6
    assert math.isinf(new["cut"]) and new["bound"] == pytest.approx(0.05 ** (1 / 3), abs=1e-6)
    # the library's rule is untouched by the subclass
    assert Fallback.lower_bound(3, 3) == pytest.approx(0.368, abs=1e-3)
    assert script.PointEstimateFallback.lower_bound(2, 4) == 0.5 and script.PointEstimateFallback.lower_bound(0, 0) == 0


def test_the_old_rule_targets_the_threshold_not_the_accuracy_of_what_it_accepts(script):
    cases, records, truth = _few_right_below(40)
    records[0].validators[0].support = 0.75      # one wrong agreed prediction, at a lower fused support
    truth[0] = 1
    confident = [_case(0.95, 100 + i) for i in range(20)]     # accepted unchecked, all right: accuracy 1.0
    cases += confident
    records += [FallbackRecord(threshold=0.6, ran=False, decision="accepted", original_label="dog",
                               original_confidence=0.95) for _ in confident]
    truth += [0] * len(confident)
    old = script.PointEstimateFallback._choose(cases, records, truth, 0.6, None)
    new = Fallback._choose(cases, records, truth, 0.6, None)
    assert old["target"] == 0.6 and new["target"] == 1.0
    assert old["cut"] == pytest.approx(0.65) and old["verified"] == 40     # 39/40 >= 0.6: takes the wrong one too
    assert math.isinf(new["cut"])    # no lower bound reaches 1.0


def test_fused_support_is_the_mean_of_confidence_and_voting_supports(script):
    record = FallbackRecord(threshold=0.6, ran=True, decision="accepted", original_label="dog", original_confidence=0.4,
                            validators=[ValidatorRecord(name="a", verdict="agree", support=0.8, label="dog"),
                                        ValidatorRecord(name="b", verdict="disagree", support=0.3, label="cat"),
                                        ValidatorRecord(name="c", verdict="abstain", detail="none")])
    assert script.fused_support(record) == pytest.approx((0.4 + 0.8 + 0.3) / 3)
    record.validators = record.validators[2:]
    assert script.fused_support(record) == pytest.approx(0.4)


def test_auroc_is_none_where_one_class_is_absent(script):
    assert script.auroc([0.1, 0.9], [True, True]) is None and script.auroc([], []) is None
    assert script.auroc([0.1, 0.9, 0.5], [False, True, True]) == 1.0
    assert script._num(None) == "n/a"


def test_right_count_is_recovered_from_coverage_and_accuracy(script):
    assert script.right_count({"coverage": 43 / 253, "accuracy": 24 / 43}, 253) == 24
    assert script.right_count({"coverage": 0.0, "accuracy": None}, 34) == 0


def test_a_remembered_validator_is_asked_once_per_item(script):
    calls = []

    class Counting:
        name = "counting"

        def validate(self, case, texts, space):
            calls.append(case.source)
            return ValidatorRecord(name=self.name, verdict="agree", support=0.9, label="dog")

    memory: dict = {}
    once = script.Remembered(Counting(), memory)
    case = _case(0.55, 0)
    first, second = once.validate(case, None, None), once.validate(case, None, None)
    assert calls == ["item-0"] and first == second and first is not second
    once.validate(_case(0.55, 1), None, None)
    assert calls == ["item-0", "item-1"]


@pytest.mark.parametrize("args, said", [(["--sets", "cifar"], "invalid choice"), (["--seeds", "x"], "invalid int"),
                                        (["--n", "5"], "--n 5"), (["--threshold", "1.5"], "--threshold 1.5"),
                                        (["--seeds", "1", "1"], "each seed once")])
def test_a_bad_argument_ends_in_one_error_line(script, capsys, args, said):
    with pytest.raises(SystemExit) as exited:
        script.main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith("Error: ") and said in err and err.count("\n") == 1
