"""Sample captioners: imagenet-captioner on real photos, hf-captioner on tiny local models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from unibind_plugin_image.captioners import (
    HFCaptioner,
    HFCaptionerSettings,
    ImageNetCaptioner,
    ImageNetCaptionerSettings,
    name_classes,
)

from unibind.datasets import sklearn_photos, tuxpaint_stamps
from unibind.errors import UniBindError
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected, SampleRef
from unibind.knowledge.sources import check_captioner
from unibind.plugins import get_registry


def _ref(path: Path | str, label: ClassRef | None = None) -> SampleRef:
    return SampleRef.from_path(path, "image", label=label)


def _drafts(pairs) -> dict[int, list[DescriptionDraft]]:
    out: dict[int, list[DescriptionDraft]] = {}
    for index, item in pairs:
        if isinstance(item, DescriptionDraft):
            out.setdefault(index, []).append(item)
    return out


@pytest.fixture(scope="module")
def photos() -> list[SampleRef]:
    """scikit-learn's two real photos: china.jpg (a temple), flower.jpg (a daisy-like flower)."""
    found = sklearn_photos()
    return [_ref(found["china.jpg"]), _ref(found["flower.jpg"])]


@pytest.fixture(scope="module")
def bad_image(tmp_path_factory) -> SampleRef:
    path = tmp_path_factory.mktemp("bad") / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n but the rest is not a picture")
    return _ref(path)


@pytest.fixture(scope="module")
def imagenet_captioner() -> ImageNetCaptioner:
    return get_registry().get("description_source", "imagenet-captioner").build()


@pytest.fixture(scope="module")
def minilm():
    """The real default text encoder (all-MiniLM-L6-v2, ships in a package)."""
    return get_registry().get("encoder", "minilm").build()


def _embed(encoder, texts: list[str]) -> torch.Tensor:
    return F.normalize(torch.as_tensor(encoder.encode(texts)).float(), dim=-1)


# -- phrasing and settings ----------------------------------------------------------------------

def test_class_names_become_a_hedged_phrase_with_articles():
    assert name_classes(["daisy"]) == "a daisy"
    assert name_classes(["palace", "Affenpinscher"]) == "a palace, perhaps an Affenpinscher"
    assert name_classes(["daisy", "bee", "mushroom"], hedge="or maybe") == \
        "a daisy, or maybe a bee or a mushroom"


def test_settings_refuse_templates_without_a_slot_and_inverted_thresholds():
    with pytest.raises(ValueError, match="no '\\{classes\\}'"):
        ImageNetCaptionerSettings(templates=["a photo"])
    with pytest.raises(ValueError, match="must not exceed"):
        ImageNetCaptionerSettings(min_probability=0.05, alternative_min_probability=0.2)
    with pytest.raises(ValueError):
        HFCaptionerSettings()  # a model is required


# -- imagenet-captioner on real pictures --------------------------------------------------------

@pytest.mark.slow
def test_imagenet_captions_of_real_photos_say_what_they_show(imagenet_captioner, photos, minilm):
    pairs = check_captioner(imagenet_captioner, photos, n=1)
    drafts = _drafts(pairs)
    china, flower = drafts[0][0], drafts[1][0]
    # the captions name the classes the head found, most likely first, all above the thresholds
    for draft in (china, flower):
        classes = draft.meta["classes"]
        probabilities = [c["probability"] for c in classes]
        assert probabilities == sorted(probabilities, reverse=True)
        assert probabilities[0] >= 0.1 and all(p >= 0.05 for p in probabilities)
        assert all(c["name"] in draft.text for c in classes)
        assert draft.prompt == "a photo of {classes}." and draft.modality == "image"
    captions = _embed(minilm, [flower.text, china.text])
    words = _embed(minilm, ["a flower", "a building"])
    similarity = captions @ words.T
    assert similarity[0, 0] > similarity[0, 1], flower.text  # the flower photo: flower, not building
    assert similarity[1, 1] > similarity[1, 0], china.text   # the temple photo: building, not flower


def test_n_captions_rotate_the_templates_with_the_seed(imagenet_captioner, photos):
    templates = imagenet_captioner.settings.templates
    first = _drafts(imagenet_captioner.caption(photos[1:], n=2, seed=0))[0]
    assert [d.prompt for d in first] == templates[:2]
    shifted = _drafts(imagenet_captioner.caption(photos[1:], n=2, seed=1))[0]
    assert [d.prompt for d in shifted] == templates[1:3]
    many = _drafts(imagenet_captioner.caption(photos[1:], n=10, seed=0))[0]
    assert len(many) == len(templates)  # one caption per distinct template, no repeats


def test_a_bad_file_is_rejected_by_name_and_the_rest_is_captioned(imagenet_captioner, photos, bad_image):
    pairs = list(imagenet_captioner.caption([photos[0], bad_image, photos[1]]))
    assert [i for i, _ in pairs] == [0, 1, 2]
    (rejected,) = [item for i, item in pairs if i == 1]
    assert isinstance(rejected, Rejected) and rejected.reason == "unreadable"
    assert "broken.png" in rejected.detail
    assert all(isinstance(item, DescriptionDraft) for i, item in pairs if i != 1)


def test_nothing_above_the_threshold_is_rejected_as_low_confidence(photos):
    settings = ImageNetCaptionerSettings(min_probability=0.99, alternative_min_probability=0.5)
    strict = ImageNetCaptioner(settings)
    pairs = list(strict.caption(photos))
    assert len(pairs) == 2
    for (index, item), sample in zip(pairs, photos):
        assert isinstance(item, Rejected) and item.reason == "low_confidence"
        assert sample.path in item.detail and item.text in strict.class_names


def test_an_encoder_without_an_imagenet_head_is_refused(tiny_clip_dir):
    settings = ImageNetCaptionerSettings(encoder="hf-vision", encoder_settings={"model": str(tiny_clip_dir)})
    with pytest.raises(UniBindError, match="ImageNet head; 'hf-vision' has none"):
        ImageNetCaptioner(settings)


@pytest.mark.slow
def test_stamp_captions_find_their_own_descriptions(imagenet_captioner, minilm):
    """Real Tux Paint photo stamps: each caption's nearest stamp description is often its own."""
    stamps = [s for s in tuxpaint_stamps() if s.description and "symbols" not in s.category][::25][:24]
    pairs = imagenet_captioner.caption([_ref(s.image) for s in stamps])
    captions = {i: d[0].text for i, d in _drafts(pairs).items()}
    assert len(captions) >= len(stamps) // 2
    similarity = _embed(minilm, list(captions.values())) @ _embed(minilm, [s.description for s in stamps]).T
    own = torch.tensor(list(captions))
    hits = (similarity.argmax(dim=1) == own).float().mean().item()
    assert hits >= 4 / len(stamps), f"top-1 {hits:.2f}, chance {1 / len(stamps):.2f}"


# -- hf-captioner on tiny local models ----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_blip_dir(tmp_path_factory, tiny_captioner_dir) -> Path:
    """A randomly initialised BLIP captioner (32px); its BERT vocabulary: the tiny captioner's words."""
    from transformers import (BertTokenizerFast, BlipConfig, BlipForConditionalGeneration,
                              BlipImageProcessor, BlipProcessor)

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-blip")
    words = _words(tiny_captioner_dir)
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = BlipConfig(vision_config={**tower, "image_size": 32, "patch_size": 8}, projection_dim=16,
                        text_config={**tower, "vocab_size": len(vocab), "max_position_embeddings": 32,
                                     "bos_token_id": 2, "sep_token_id": 3, "eos_token_id": 3,
                                     "pad_token_id": 0})
    BlipForConditionalGeneration(config).save_pretrained(path)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=BertTokenizerFast(vocab=vocab)).save_pretrained(path)
    return path


def _words(path: Path) -> list[str]:
    """The plain words of a tiny model's vocabulary (special tokens left out)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return sorted(w for w in tokenizer.get_vocab() if w not in tokenizer.all_special_tokens)


def _reference_beams(path: Path, picture, n: int, max_new_tokens: int) -> list[str]:
    """What transformers itself generates for one picture (beam search), decoded."""
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True).eval()
    processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
    pixels = processor(images=picture, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(pixel_values=pixels["pixel_values"], num_beams=max(3, n), num_return_sequences=n,
                             max_new_tokens=max_new_tokens, do_sample=False)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return [" ".join(t.split()) for t in tokenizer.batch_decode(out, skip_special_tokens=True)]


@pytest.mark.slow
def test_hf_captioner_beams_match_transformers(tiny_captioner_dir, photos, bad_image):
    settings = HFCaptionerSettings(model=str(tiny_captioner_dir), max_new_tokens=6, batch_size=2)
    captioner = HFCaptioner(settings)
    assert captioner.model == str(tiny_captioner_dir) and captioner.prompt == ""
    pairs = check_captioner(captioner, [photos[1], bad_image, photos[0]], n=3)
    assert [item.reason for i, item in pairs if i == 1] == ["unreadable"]
    flower = [item for i, item in pairs if i == 0]
    assert len(flower) == 3
    expected = _reference_beams(tiny_captioner_dir, photos[1].load(), n=3, max_new_tokens=6)
    kept = [d.text for d in flower if isinstance(d, DescriptionDraft)]
    assert kept == list(dict.fromkeys(t for t in expected if t))  # same beams, repeats rejected
    assert all(set(t.split()) <= set(_words(tiny_captioner_dir)) for t in kept)


def test_hf_sampling_is_seeded_per_picture_not_per_batch(tiny_captioner_dir, photos):
    captioner = HFCaptioner(HFCaptionerSettings(model=str(tiny_captioner_dir), do_sample=True,
                                                max_new_tokens=8, temperature=1.5, top_k=0, top_p=1.0))

    def texts(samples, seed):
        return [(i, getattr(item, "text", None) or item.reason) for i, item in
                captioner.caption(samples, n=3, seed=seed)]

    rng = torch.get_rng_state()
    together = texts(photos, seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the global generator is left alone
    alone = texts(photos[1:], seed=0)
    assert [t for i, t in together if i == 1] == [t for _, t in alone]
    assert texts(photos, seed=0) == together
    assert texts(photos, seed=1) != together


@pytest.mark.slow
def test_hf_prompts_prefix_the_caption(tiny_captioner_dir, tiny_blip_dir, photos):
    # the prompt goes in as the decoder prefix (VisionEncoderDecoder) or through the processor (BLIP)
    for path in (tiny_captioner_dir, tiny_blip_dir):
        captioner = HFCaptioner(HFCaptionerSettings(model=str(path), prompt="a photo of", max_new_tokens=5))
        drafts = _drafts(check_captioner(captioner, photos, n=2))
        assert drafts and all(d.text.startswith("a photo of") for ds in drafts.values() for d in ds), path
    blip = HFCaptioner(HFCaptionerSettings(model=str(tiny_blip_dir), max_new_tokens=5))
    assert blip.processor is not None
    assert check_captioner(blip, photos)


def test_hf_truncated_captions_can_be_rejected(tiny_captioner_dir, photos):
    captioner = HFCaptioner(HFCaptionerSettings(model=str(tiny_captioner_dir), max_new_tokens=4,
                                                reject_truncated=True))
    items = [item for _, item in captioner.caption(photos)]
    assert items and all(isinstance(i, Rejected) for i in items)
    assert "truncated" in {i.reason for i in items}
    kept = HFCaptioner(HFCaptionerSettings(model=str(tiny_captioner_dir), max_new_tokens=4))
    assert all(d.meta == {"truncated": True} for ds in _drafts(kept.caption(photos)).values() for d in ds)


def test_hf_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(UniBindError, match="cannot load .*nowhere'.*no such directory"):
        HFCaptioner(HFCaptionerSettings(model=str(tmp_path / "nowhere")))
    with pytest.raises(UniBindError, match="hub models need a network"):  # HF_HUB_OFFLINE=1 (conftest)
        HFCaptioner(HFCaptionerSettings(model="Salesforce/blip-image-captioning-base"))


# -- the command line: unibind kb caption --------------------------------------------------------

@pytest.mark.slow
def test_kb_caption_stores_captions_per_class_folder_and_resumes(tmp_path, bad_image):
    import json
    import shutil

    from click.testing import CliRunner
    from unibind_cli.kb import kb

    from unibind.knowledge.store import KnowledgeBase

    found = sklearn_photos()
    (tmp_path / "samples" / "daisy").mkdir(parents=True)
    (tmp_path / "samples" / "palace").mkdir()
    shutil.copy(found["flower.jpg"], tmp_path / "samples" / "daisy" / "flower.jpg")
    shutil.copy(found["china.jpg"], tmp_path / "samples" / "palace" / "china.jpg")
    shutil.copy(bad_image.path, tmp_path / "samples" / "daisy" / "broken.png")
    (tmp_path / "samples" / "daisy" / "notes.txt").write_text("not a picture, and not picked up")
    path = str(tmp_path / "kb.sqlite")
    args = ["caption", "--kb", path, str(tmp_path / "samples"), "--source", "imagenet-captioner:top_k=2",
            "--per-sample", "2", "--classes", "n11939491 daisy,palace"]
    done = CliRunner().invoke(kb, args)
    assert done.exit_code == 0, done.output
    assert "rejected by imagenet-captioner: unreadable 1" in done.output
    with KnowledgeBase(path) as store:
        captions = store.descriptions(kind="sample_caption")
        by_file = {Path(c.sample_path).name: c for c in captions}
        assert len(captions) == 4 and set(by_file) == {"flower.jpg", "china.jpg"}
        assert by_file["flower.jpg"].class_id == "n11939491" and by_file["china.jpg"].class_name == "palace"
        assert by_file["flower.jpg"].provenance.source == "imagenet-captioner"
    again = CliRunner().invoke(kb, [*args, "--json"])
    assert again.exit_code == 0, again.output
    (summary,) = json.loads(again.output)["sources"]
    assert summary["skipped"] == 3 and summary["kept"] == 4
    with KnowledgeBase(path) as store:
        assert len(store.descriptions(kind="sample_caption")) == 4  # nothing captioned twice
