"""Start-up stays cheap: the heavy libraries load only where a command really needs them (issue 16).

Each check runs in a fresh interpreter and reads ``sys.modules``: timing
tests on a shared machine would be flaky, the set of imported modules is not.
The figures themselves come from ``benchmarks/startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

#: Libraries a bare import of the core or the command line must never pull in.
HEAVY = ("transformers", "sentence_transformers", "timm", "torchvision", "torch._dynamo", "sympy", "scipy",
         "sklearn", "matplotlib", "faiss", "lingua", "nltk", "inflect", "torchaudio", "av", "jinja2")
#: What embedding an image or classifying it against cached labels must not need either.
MODEL_LIBRARIES = ("transformers", "sentence_transformers", "timm", "torchvision", "torch._dynamo", "sympy",
                   "scipy", "sklearn", "matplotlib", "faiss")


def _loaded_after(code: str, names: tuple[str, ...], tmp_path: Path, **env: str) -> list[str]:
    """Run ``code`` in a new interpreter; which of ``names`` are in its ``sys.modules`` afterwards."""
    out = tmp_path / "modules.json"
    script = (f"{code}\nimport json, sys\n"
              f"open({str(out)!r}, 'w').write(json.dumps(sorted(n for n in {list(names)!r} if n in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("module", ["unibind", "unibind.space", "unibind_cli.main"])
def test_importing_the_core_or_the_cli_loads_no_model_library(module, tmp_path):
    assert _loaded_after(f"import {module}", HEAVY, tmp_path) == []


def test_building_a_space_loads_no_model_library(tmp_path):
    """The registry, the plugins' specs and the text pipeline's identity need no model code."""
    code = ("from unibind.space import Space\nfrom unibind.identity import space_text_identity\n"
            "space = Space()\nspace_text_identity(space)\nassert space.dim == 384")
    assert _loaded_after(code, MODEL_LIBRARIES, tmp_path) == []


def test_the_default_text_encoder_loads_transformers_on_first_use(tmp_path):
    code = ("import sys, torch\nfrom unibind.encoders.text import MiniLMSettings, build_minilm\n"
            "encoder = build_minilm(MiniLMSettings())\n"
            "assert encoder.dim == 384 and 'transformers' not in sys.modules\n"
            "encoder.to(torch.float64)  # a move asked for before loading is applied after\n"
            "out = encoder.encode(['a dog barking'])\n"
            "assert out.shape == (1, 384) and out.dtype == torch.float32\n"
            "assert next(encoder.model.parameters()).dtype == torch.float64\n"
            "assert not any(p.requires_grad for p in encoder.parameters()) and not encoder.model.training")
    assert _loaded_after(code, ("transformers",), tmp_path) == ["transformers"]


def _cli(args: list[str]) -> str:
    return ("import sys\nfrom unibind_cli.main import main\n"
            f"sys.argv = ['unibind', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n")


@pytest.mark.slow
def test_embedding_and_classifying_one_image_load_no_model_library(tmp_path, monkeypatch):
    """With the once-per-install caches warm (ImageNet-bridge class texts, label texts), one image
    is embedded and classified by torch alone: no transformers, timm, torchvision or torch._dynamo.
    On the code before issue 16, timm (with torchvision and torch._dynamo) and transformers loaded;
    until the fallback's texts went through the text cache, every re-check loaded transformers."""
    from unibind.atomic import save_tensors
    from unibind.space import Space

    bridge = pytest.importorskip("unibind_plugin_image.bridge")
    cache = tmp_path / "cache"
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(cache))
    # the bridge's class-text embeddings as a first run leaves them (values do not matter here:
    # computing the real ones takes minutes on a loaded machine), in this test's own cache
    text_encoder = Space().pipeline("text").encoder
    where = bridge.cache_path(text_encoder, bridge.ImageNetBridgeSettings())
    save_tensors({"class_embeddings": torch.nn.functional.normalize(torch.randn(1000, 384), dim=-1)}, where)
    photo = Path("/usr/share/tuxpaint/stamps/animals/marsupials/koala.png")
    if not photo.is_file():
        from PIL import Image
        from sklearn.datasets import load_sample_image

        photo = tmp_path / "flower.png"
        Image.fromarray(load_sample_image("flower.jpg")).save(photo)
    classify = ["classify", str(photo), "--labels", "cat,dog"]
    # --threshold 1: the fallback re-checks every prediction (its negations and the caption are texts too)
    checked = [*classify, "--threshold", "1", "--json"]
    env = {"UNIBIND_CACHE_DIR": str(cache)}
    _loaded_after(_cli(classify), (), tmp_path, **env)  # embeds the label texts once (loads transformers)
    first = subprocess.run([sys.executable, "-c", _cli(checked)], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert first.returncode == 0, first.stderr[-3000:]
    ran = json.loads(first.stdout.splitlines()[0])["fallback"]
    assert ran["ran"] and {v["name"] for v in ran["validators"]} >= {"yes-no", "caption-agreement"}, ran
    assert _loaded_after(_cli(["embed", "image", str(photo)]), MODEL_LIBRARIES, tmp_path, **env) == []
    assert _loaded_after(_cli(classify), MODEL_LIBRARIES, tmp_path, **env) == []
    # the same file re-checked again: its validators' texts come from the text cache, no text model
    assert _loaded_after(_cli(checked), MODEL_LIBRARIES, tmp_path, **env) == []


@pytest.mark.parametrize("user_setting", [None, "ACTIVE"])
def test_the_cli_lets_openmp_threads_sleep_unless_the_user_chose(user_setting, tmp_path):
    """``OMP_WAIT_POLICY`` is read when torch loads the OpenMP runtime, so the command line must set
    it before anything imports torch; spinning threads made a one-file classify on a busy 2-core
    machine spend ~1 s of CPU in its first forward. A user's own value is kept."""
    out = tmp_path / "policy.json"
    code = ("import json, os, sys\nseen = []\n"
            "class Spy:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch' and not seen:\n"
            "            seen.append(os.environ.get('OMP_WAIT_POLICY'))\n"
            "sys.meta_path.insert(0, Spy())\n"
            "from unibind_cli.main import main\n"
            "sys.argv = ['unibind', 'classify', 'no-such-file.png', '--labels', 'a,b']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"open({str(out)!r}, 'w').write(json.dumps(seen))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(HF_HUB_OFFLINE="1", **({"OMP_WAIT_POLICY": user_setting} if user_setting else {}))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=env, cwd=tmp_path)
    assert json.loads(out.read_text()) == [user_setting or "PASSIVE"], done.stderr[-3000:]
