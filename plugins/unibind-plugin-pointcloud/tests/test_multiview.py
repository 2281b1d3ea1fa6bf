"""The multiview-depth encoder: projection, the borrowed image encoder, and shape separation."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.multiview import MultiViewDepthEncoder, build_multiview_depth
from unibind_plugin_pointcloud.render import depth_views
from unibind_plugin_pointcloud.settings import MultiViewDepthSettings
from unibind_plugin_pointcloud.simulated import SHAPES, simulated_cloud

from unibind.errors import NotRegisteredError, SettingsError
from unibind.plugins import get_registry


def test_views_look_from_where_they_say() -> None:
    """A point at +x is near (bright) seen from the right and far (dim) seen from the left, where the
    point at +y, at mid depth, is the brighter one; in the front view +x is right of centre, +y above."""
    points = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.9, 0.0]])
    right, left, front = depth_views(points, ((90, 0), (270, 0), (0, 0)), 64, point_size=0, smooth=False)
    assert right.max() == pytest.approx(0.3 + 0.7 * 0.95, abs=1e-5)  # x = 0.9 is near from +x
    assert left.max() == pytest.approx(0.3 + 0.7 * 0.5, abs=1e-5)  # the +y point, at depth 0
    ys, xs = torch.nonzero(front, as_tuple=True)
    assert set(zip(ys.tolist(), xs.tolist())) == {(32, 55), (8, 32)}  # +x right of centre, +y above it


def test_nearest_point_wins_each_pixel_and_splats_grow() -> None:
    points = torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]])  # one behind the other, seen from the front
    front = depth_views(points, ((0, 0),), 32, point_size=0, smooth=False)[0]
    assert front.max() == pytest.approx(0.3 + 0.7 * 0.75) and (front > 0).sum() == 1
    splat = depth_views(points, ((0, 0),), 32, point_size=2, smooth=False)[0]
    assert (splat > 0).sum() == 25


def test_takes_the_image_default_and_its_dimension_and_head(multiview) -> None:
    image_default = get_registry().default("encoder", "image")
    assert MultiViewDepthEncoder.image_encoder_spec(None).name == image_default.name
    assert multiview.dim == multiview.image.dim > 0
    assert not any(p.requires_grad for p in multiview.parameters())
    head = multiview.image.imagenet_head()
    assert multiview.imagenet_head() is head and head.in_features == multiview.dim


def test_image_encoder_is_chosen_by_registered_name() -> None:
    with pytest.raises(NotRegisteredError, match="no encoder named 'no-such-encoder'"):
        MultiViewDepthEncoder.image_encoder_spec("no-such-encoder")
    with pytest.raises(SettingsError, match="'minilm' encodes 'text'"):
        MultiViewDepthEncoder.image_encoder_spec("minilm")


def test_encoding_is_the_pooled_image_encoding_of_the_rendered_views(multiview, simulated) -> None:
    cloud = simulated("cone", seed=4, points=1500)
    generic = build_multiview_depth(MultiViewDepthSettings(direct=False), image_encoder=multiview.image)
    assert multiview.direct and not generic.direct
    pictures = generic.render(cloud)
    assert len(pictures) == 6 and pictures[0].size == (224, 224)
    with torch.inference_mode():
        batch = generic.collate([generic.preprocess(cloud)])
        per_view = generic.image(torch.stack([generic.image.preprocess(p) for p in pictures]))
        assert torch.allclose(generic(batch), per_view.mean(0, keepdim=True), atol=1e-4)
        biggest = build_multiview_depth(MultiViewDepthSettings(direct=False, pooling="max"),
                                        image_encoder=multiview.image)
        assert torch.allclose(biggest(batch), per_view.max(0).values[None], atol=1e-4)
        # the direct path feeds the same pictures without the PIL round trip: nearly the same features
        cosine = F.cosine_similarity(multiview.encode([cloud]), generic(batch)).item()
    print(f"\ndirect vs picture-transform path, cosine of features: {cosine:.4f}")
    assert cosine > 0.95


def test_more_views_and_plain_arrays(multiview) -> None:
    ten = MultiViewDepthSettings(views=[(a, 30) for a in range(0, 360, 72)] + [(a, -30) for a in range(0, 360, 72)])
    encoder = build_multiview_depth(ten, image_encoder=multiview.image)
    points = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    views = encoder.preprocess(points)
    assert views.shape == (10, 3, 224, 224)
    assert torch.equal(views, encoder.preprocess(PointCloud(points)))       # a plain array is a cloud
    # ten distinct views (not one repeated), pooled into one row per cloud: the mean of their features
    assert all(not torch.equal(views[0], views[i]) for i in range(1, 10))
    other = np.random.default_rng(1).uniform(-1, 1, size=(400, 3)).astype(np.float32)
    out = encoder.encode([points, PointCloud(points), other])
    assert out.shape == (3, multiview.dim)
    with torch.inference_mode():
        assert torch.allclose(out[0], multiview.image(views).mean(0), atol=1e-4)
    assert torch.allclose(out[0], out[1], atol=1e-5) and not torch.allclose(out[0], out[2], atol=1e-3)
    with pytest.raises(TypeError, match="PointCloud samples or \\[N, 3\\] arrays"):
        encoder.preprocess("a string")


def _embed(encoder, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    clouds, labels = [], []
    for _ in range(per_class):
        for label, shape in enumerate(SHAPES):
            clouds.append(simulated_cloud(shape, rng, 3000))  # random proportions, rotation, scale, offset
            labels.append(label)
    return F.normalize(encoder.encode(clouds, batch_size=10), dim=-1), torch.tensor(labels)


@pytest.mark.slow
def test_simulated_shapes_are_nearest_neighbours_of_their_own_kind(multiview) -> None:
    """1-NN over five simulated shape classes, held-out clouds with random rotations and scales.

    Simulated data, not scans: it shows the projection keeps shape
    information an ImageNet encoder can use with no training; it says
    nothing about accuracy on real scans.
    """
    start = time.perf_counter()
    reference, reference_labels = _embed(multiview, per_class=4, seed=11)
    held_out, held_out_labels = _embed(multiview, per_class=4, seed=12)
    nearest = (held_out @ reference.T).argmax(dim=1)
    accuracy = (reference_labels[nearest] == held_out_labels).float().mean().item()
    chance = 1 / len(SHAPES)
    print(f"\nsimulated shapes {SHAPES}: multiview-depth 1-NN accuracy on {len(held_out_labels)} held-out "
          f"= {accuracy:.3f} (chance {chance:.3f}); {time.perf_counter() - start:.1f} s")
    assert accuracy >= 0.6


def test_the_image_bridge_is_the_default_adapter_and_maps_clouds_into_the_text_space(
        multiview, hash_text_encoder, simulated) -> None:
    """multiview-depth has its image encoder's ImageNet head, so the training-free bridge fits it."""
    registry = get_registry()
    defaults = registry.defaults("adapter", "pointcloud")
    bridge_spec = registry.get("adapter", "imagenet-bridge")
    assert bridge_spec in defaults and bridge_spec.requires == "imagenet_head"
    bridge = bridge_spec.build(encoder=multiview, text_encoder=hash_text_encoder)
    out = bridge(multiview.encode([simulated("sphere"), simulated("box")]))
    assert out.shape == (2, hash_text_encoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)


@pytest.mark.filterwarnings("ignore:pointnet2 has random weights")
def test_pointnet2_has_no_imagenet_head_so_it_needs_a_trained_adapter() -> None:
    pointnet = get_registry().get("encoder", "pointnet2").build({"num_points": 512, "sa_points": [64, 16]})
    assert getattr(pointnet, "imagenet_head", None) is None  # the bridge's requirement is not met
