"""The measured real sets hold what their names say: "MNIST, 1000" has all ten digits, evenly."""

import numpy as np

from unibind.calibration.report import mnist_files, round_robin


def test_round_robin_takes_each_class_in_turn_in_file_order():
    labels = [0, 0, 0, 1, 1, 2]
    assert round_robin(labels).tolist() == [0, 3, 5, 1, 4, 2]


def test_mnist_files_hold_every_digit_evenly_although_the_file_is_sorted_by_digit(tmp_path):
    data = mnist_files(tmp_path, 40)
    assert np.bincount(data.targets, minlength=10).tolist() == [4] * 10
    assert len({p.read_bytes() for p in data.paths}) == 40 and len(data.classes) == 10


def test_a_picture_file_is_named_by_its_pixels_so_a_changed_loader_never_reuses_a_stale_one(tmp_path):
    from PIL import Image

    from unibind.calibration.report import _png_files

    black, white = Image.new("L", (4, 4), 0), Image.new("L", (4, 4), 255)
    first = _png_files([black], tmp_path, "x")[0]
    again = _png_files([black], tmp_path, "x")[0]
    changed = _png_files([white], tmp_path, "x")[0]            # the same index, other pixels
    assert first == again and changed != first
    assert Image.open(changed).getpixel((0, 0)) == 255 and Image.open(first).getpixel((0, 0)) == 0
