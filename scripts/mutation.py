"""Mutation score of the core modules where a silent error costs most (mutmut, one module at a time).

Not part of the default test run: it takes minutes per module. Run it niced, e.g.::

    nice -n 10 .venv/bin/python scripts/mutation.py                      # every module below
    nice -n 10 .venv/bin/python scripts/mutation.py calibration/metrics  # one module

Each module is mutated on its own, in a fresh ``mutants/`` copy of the tree, against the
narrowest test selection that aims at it (mutmut then runs, per mutant, only the tests that
reach the mutated function). It prints the score per module (killed / all mutants; a timeout
counts as killed, a mutant no test reaches as surviving) and writes, under ``--out``, one
``<module>.txt`` with the diff of every surviving mutant plus ``scores.json``. Survivors
judged equivalent are listed with their reason in docs/mutation-survivors.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module (under unibind/) -> the tests aimed at it
MODULES: dict[str, list[str]] = {
    "calibration/metrics": ["tests/calibration/test_metrics.py", "tests/calibration/test_metrics_edges.py",
                            "tests/calibration/test_metrics_inputs.py", "tests/test_properties.py"],
    "calibration/temperature": ["tests/calibration/test_calibrators.py", "tests/test_properties.py"],
    "knowledge/centres": ["tests/test_centres.py", "tests/test_centres_edges.py", "tests/test_properties.py"],
    "training/objective": ["tests/training/test_training_trainer.py", "tests/training/test_best_epoch.py"],
    "training/trainer": ["tests/training/test_training_trainer.py", "tests/training/test_best_epoch.py"],
    "testing": ["tests/test_testing_kit.py", "tests/test_testing_kit_catches.py"],
    "plugins": ["tests/test_plugins.py", "tests/test_hooks.py", "tests/test_plugin_names.py",
                "tests/test_plugin_manager_edges.py"],
    "registry": ["tests/test_registry_and_specs.py", "tests/test_plugin_names.py",
                 "tests/test_registry_edges.py"],
}
# Tests that start a fresh interpreter: inside mutmut's copy it has no mutmut configuration and fails.
DESELECT = ["tests/test_plugin_names.py::test_list_plugins_starts_without_pydantic_or_rich"]
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def _target(module: str) -> str:
    path = Path("unibind") / module
    return f"{path}/*" if (ROOT / path).is_dir() else f"{path}.py"


def existing_tests(module: str, baseline: str | None) -> list[str]:
    """The module's test files that exist (at git ref ``baseline`` if given: the score before new tests)."""
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    if baseline:
        tests = [t for t in tests if subprocess.run(["git", "cat-file", "-e", f"{baseline}:{t}"], cwd=ROOT,
                                                    capture_output=True, check=False).returncode == 0]
    return tests


def child(module: str, tests: list[str], max_children: int, out: Path, sample: int | None,
          only: list[str] | None = None) -> None:
    """Inside a fresh process: configure mutmut for one module, run it, dump results as JSON."""
    from mutmut import configuration

    configuration._guess_source_paths = lambda: ["unibind"]  # the config lives here, not in pyproject.toml
    base = configuration._load_config()
    configuration._config = dataclasses.replace(
        base, source_paths=[Path("unibind")], only_mutate=[_target(module)],
        also_copy=base.also_copy + [Path("conftest.py")],
        pytest_add_cli_args_test_selection=tests,
        pytest_add_cli_args=["-p", "no:cacheprovider", "-m", "not slow",
                             *(arg for test in DESELECT for arg in ("--deselect", test))],
        process_isolation=configuration.ProcessIsolation.FORKSERVER,
        use_git_change_detection=False,
        timeout_multiplier=20.0, timeout_constant=30.0,  # generous: on a busy machine a slow test is no loop
    )
    from mutmut import __main__ as mm
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    chosen: list[str] = list(only or [])
    if sample and not chosen:
        # generate the mutants once to know their names, then test an evenly spaced sample of them
        with mm.CatchOutput(spinner_title="Generating mutants"):
            mm.copy_src_dir()
            mm.copy_also_copy_files()
            mm.setup_source_paths()
            mm.store_lines_covered_by_tests()
            mm.create_mutants(max_children)
        names = []
        for path in mm.walk_mutatable_files():
            data = SourceFileMutationData(path=path)
            data.load()
            names += sorted(data.exit_code_by_key, key=lambda n: (n.rpartition("__mutmut_")[0],
                                                                    int(n.rpartition("_")[2])))
        step = max(1.0, len(names) / sample)
        chosen = [names[int(i * step)] for i in range(min(sample, len(names)))]
    try:
        mm._run(chosen, max_children)
    except SystemExit as stop:  # mutmut exits on a failing clean run
        if stop.code:
            raise
    statuses: dict[str, str] = {}
    diffs: dict[str, str] = {}
    for path in mm.walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            if code is None:       # not in the sample
                continue
            statuses[name] = status_by_exit_code[code]
            if statuses[name] not in KILLED:
                diffs[name] = get_diff_for_mutant(name, path=path)
    out.write_text(json.dumps({"statuses": statuses, "diffs": diffs}))


def run_module(module: str, max_children: int, out_dir: Path, baseline: str | None, sample: int | None,
               only: list[str] | None = None) -> dict:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    raw = out_dir / (module.replace("/", ".") + ".json")
    log = out_dir / (module.replace("/", ".") + ".log")
    with log.open("w") as sink:
        done = subprocess.run([sys.executable, __file__, "--child", module, "--max-children", str(max_children),
                               "--out", str(out_dir), *(["--sample", str(sample)] if sample else []),
                               *(arg for name in only or [] for arg in ("--mutant", name)),
                               *existing_tests(module, baseline)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                              check=False)
    if done.returncode:
        raise SystemExit(f"Error: mutmut failed on {module}, see {log}")
    result = json.loads(raw.read_text())
    raw.unlink()
    statuses = result["statuses"]
    killed = sum(status in KILLED for status in statuses.values())
    counts = {status: list(statuses.values()).count(status) for status in sorted(set(statuses.values()))}
    lines = [f"# {module}: {killed}/{len(statuses)} killed {counts}", ""]
    for name, diff in sorted(result["diffs"].items()):
        lines += [f"## {name}: {statuses[name]}", diff, ""]
    (out_dir / (module.replace("/", ".") + ".txt")).write_text("\n".join(lines))
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    return {"killed": killed, "total": len(statuses), "counts": counts, "sampled": bool(sample),
            "score": round(100 * killed / len(statuses), 1) if statuses else None,
            "survivors": sorted(result["diffs"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"modules under unibind/ (default: all of {', '.join(MODULES)})")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "mutation", help="where survivors go")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="use only the test files that exist at this ref (the score before new tests)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="test N evenly spaced mutants per module instead of all (a sampled score)")
    parser.add_argument("--mutant", action="append", metavar="NAME",
                        help="test only this mutant (repeatable; e.g. an earlier run's survivors after new tests)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown and not args.child:
        parser.error(f"unknown module {unknown[0]!r} (one of {', '.join(MODULES)})")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child, args.modules, args.max_children,
              args.out / (args.child.replace("/", ".") + ".json"), args.sample, args.mutant)
        return
    scores_path = args.out / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    for module in args.modules or list(MODULES):
        scores[module] = run_module(module, args.max_children, args.out, args.baseline, args.sample, args.mutant)
        scores_path.write_text(json.dumps(scores, indent=2))
        s = scores[module]
        print(f"{module}: {s['killed']}/{s['total']} killed ({s['score']} %), "
              f"survivors in {args.out / (module.replace('/', '.') + '.txt')}", flush=True)
    print("\nmodule                      killed/total  score")
    for module, s in scores.items():
        print(f"{module:<27} {s['killed']:>6}/{s['total']:<6} {s['score']} %")


if __name__ == "__main__":
    main()
