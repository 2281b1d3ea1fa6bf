"""Prompt templates for depth maps: the depth modality's set for the ``templates`` description source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the
class as a depth sensor measures it, in the ways depth maps are captured and
drawn. The first is the depth modality's canonical prompt. Each holds the
class slot ``{}`` once.
"""

from __future__ import annotations

DEPTH_TEMPLATES: tuple[str, ...] = (
    "a depth map of a {}.", "a depth map of the {}.", "a depth image of a {}.", "a depth image of the {}.",
    "a Kinect depth image of a {}.", "a depth camera picture of a {}.", "an RGB-D depth frame of a {}.",
    "a stereo depth map of a {}.", "a time-of-flight depth image of a {}.", "a lidar depth image of a {}.",
    "a noisy depth map of a {}.", "a smooth depth map of a {}.", "a low resolution depth map of a {}.",
    "a depth map with holes of a {}.", "a close-up depth map of a {}.", "a depth map of a {} far away.",
    "a depth map of a {} indoors.", "a depth map of a {} outdoors.", "a near-is-bright depth image of a {}.",
    "a colour-coded depth map of a {}.", "a greyscale depth image of a {}.", "a disparity map of a {}.",
    "a range image of a {}.", "the distance to a {} as an image.", "the depth of a {} seen by a sensor.",
    "a depth map of many {}.", "a depth map of one {}.", "a depth map of my {}.", "a depth map of a small {}.",
    "a depth map of a large {}.", "a depth map of a {} in a cluttered room.", "a depth map of a {} on a table.",
    "a blurry depth image of the {}.", "a cropped depth image of a {}.", "a depth frame from a robot of a {}.",
    "a phone depth capture of a {}.", "a depth silhouette of a {}.", "the shape of a {} in a depth map.",
    "a rendered depth map of a {}.", "a synthetic depth image of a {}.", "a depth scan of the {}.",
    "a dark depth map of the {}.", "a bright depth map of the {}.",
)
