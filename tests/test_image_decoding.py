"""Image files from elsewhere are read as a viewer shows them and checked before they are decoded; arrays are
checked from their headers; `python -m bench.evaluate` refuses bad arguments in one line before any work
(issue 20, parts 4 and 5)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from bench.cli.evaluate import main as evaluate_main
from bench.data.folder import load_folder
from bench.errors import BenchError
from bench.io.image_files import MAX_SOURCE_PIXELS, load_images, read_image

RNG = np.random.default_rng(0)


def _one_line(e: pytest.ExceptionInfo) -> str:
    message = str(e.value)
    assert "\n" not in message, message
    return message


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_1bit_png(path: Path, width: int, height: int) -> None:
    """A valid all-black 1-bit PNG of any size, written row by row (a 12000 x 12000 one is 18 kB on disk and
    144 MB once Pillow decodes it)."""
    z = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte, then the packed bits
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Records (and stops) any decoding of PNG pixels."""
    calls: list[tuple[int, int]] = []

    def load(self):
        calls.append(self.size)
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", load)
    return calls


# ---------------------------------------------------------------- what a viewer shows


def _palette_image(rgb: np.ndarray) -> Image.Image:
    im = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    assert im.mode == "P"
    return im


def test_a_palette_png_reads_as_its_colours_not_its_indices(tmp_path):
    colours = np.array([[250, 10, 10], [10, 250, 10], [10, 10, 250], [200, 200, 30]], np.uint8)
    rgb = colours[RNG.integers(0, 4, (3, 8, 8))]  # three 8 x 8 images of four colours
    for i, image in enumerate(rgb):
        _palette_image(image).save(tmp_path / f"{i}.png")
    got = load_images(tmp_path, (3, 8, 8))
    assert got.shape == (3, 3, 8, 8)
    assert torch.equal(got, torch.from_numpy(rgb.transpose(0, 3, 1, 2).copy())), "the colours a viewer shows"
    # the same images as RGB files read the same
    (tmp_path / "rgb").mkdir()
    for i, image in enumerate(rgb):
        Image.fromarray(image).save(tmp_path / "rgb" / f"{i}.png")
    assert torch.equal(load_images(tmp_path / "rgb", (3, 8, 8)), got)


def test_a_grey_palette_png_scores_like_the_grey_image(tmp_path):
    levels = np.array([0, 90, 180, 255], np.uint8)
    indices = RNG.integers(0, 4, (2, 6, 6)).astype(np.uint8)
    grey = levels[indices]
    for i, image in enumerate(indices):
        im = Image.fromarray(image, "P")
        im.putpalette(np.repeat(levels, 3).tolist())  # index i shows the grey level levels[i]
        im.save(tmp_path / f"{i}.png")
        assert Image.open(tmp_path / f"{i}.png").mode == "P"
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"{i}.png")), image)  # raw: the indices 0..3
    assert torch.equal(load_images(tmp_path, (1, 6, 6)), torch.from_numpy(grey[:, None].copy()))


@pytest.mark.parametrize(
    "mode, channels, expected",
    [
        ("1", 1, lambda a: np.where(a > 127, 255, 0).astype(np.uint8)),
        ("LA", 1, lambda a: a),
        ("RGBA", 3, lambda a: np.repeat(a[..., None], 3, axis=2)),
        ("L", 3, lambda a: np.repeat(a[..., None], 3, axis=2)),
        ("RGB", 1, lambda a: a),
    ],
)
def test_other_modes_convert_to_the_data_sets_mode(tmp_path, mode, channels, expected):
    grey = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    if mode == "1":  # black and white already: no dithering
        grey = np.where(grey > 127, 255, 0).astype(np.uint8)
    Image.fromarray(grey).convert(mode).save(tmp_path / "x.png")
    assert Image.open(tmp_path / "x.png").mode == mode
    got = read_image(tmp_path / "x.png", channels, "test", size=(5, 7))
    want = expected(grey)
    want = want[None] if want.ndim == 2 else want.transpose(2, 0, 1)
    assert got.dtype == np.uint8 and got.shape == (channels, 5, 7)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # RGB -> L rounds


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    a = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    Image.fromarray(a).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    got = read_image(tmp_path / "deep.png", 1, "test", size=(3, 4))
    assert np.array_equal(got[0], (a >> 8).astype(np.uint8))


def test_a_folder_data_set_reads_palette_images_as_their_colours(tmp_path):
    colours = np.array([[250, 10, 10], [10, 250, 10], [10, 10, 250]], np.uint8)
    rgb = colours[RNG.integers(0, 3, (6, 5, 5))]
    (tmp_path / "p").mkdir()
    (tmp_path / "rgb").mkdir()
    for i, image in enumerate(rgb):
        _palette_image(image).save(tmp_path / "p" / f"{i}.png")
        Image.fromarray(image).save(tmp_path / "rgb" / f"{i}.png")
    palette, plain = load_folder(root=str(tmp_path / "p")), load_folder(root=str(tmp_path / "rgb"))
    assert torch.equal(palette.train_images, plain.train_images) and palette.checksum == plain.checksum


# ---------------------------------------------------------------- sizes from the header


def test_a_huge_1_bit_png_is_refused_from_its_header_without_decoding(tmp_path, no_decoding):
    (tmp_path / "s").mkdir()
    write_1bit_png(tmp_path / "s" / "bomb.png", 12000, 12000)
    assert (tmp_path / "s" / "bomb.png").stat().st_size < 100_000
    with pytest.raises(BenchError) as e:
        load_images(tmp_path / "s", (1, 28, 28))
    assert "bomb.png is 12000x12000 pixels (width x height); allowed: 28x28, the data set's image size" in _one_line(e)
    write_1bit_png(tmp_path / "s" / "other.png", 12000, 12000)
    with pytest.raises(BenchError) as e:  # data=folder, resized: any size up to 4096 x 4096
        load_folder(root=str(tmp_path / "s"), channels=1, image_size=28)
    assert f"is 12000x12000 pixels; allowed: at most {MAX_SOURCE_PIXELS} pixels" in _one_line(e)
    with pytest.raises(BenchError) as e:  # data=folder, one size for all
        load_folder(root=str(tmp_path / "s"), channels=1)
    assert "is 12000x12000 pixels; allowed: at most" in _one_line(e)
    assert no_decoding == []


def test_a_folder_that_mixes_sizes_is_refused_before_decoding(tmp_path, no_decoding):
    write_1bit_png(tmp_path / "a.png", 6, 6)
    write_1bit_png(tmp_path / "b.png", 7, 6)
    with pytest.raises(BenchError, match=r"mixes image sizes \[\(6, 6\), \(6, 7\)\]; set data.image_size"):
        load_folder(root=str(tmp_path), channels=1)
    assert no_decoding == []


def test_pillows_decompression_bomb_guard_is_one_line(tmp_path, monkeypatch):
    write_1bit_png(tmp_path / "a.png", 100, 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 10,000 pixels: more than twice the limit, an error
    with pytest.raises(BenchError) as e:
        read_image(tmp_path / "a.png", 1, "data=folder", resize_to=(28, 28))
    assert "has more than 8000 pixels (a decompression bomb?)" in _one_line(e)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # above the limit, below twice it: read (our limits rule)
    assert read_image(tmp_path / "a.png", 1, "data=folder", resize_to=(28, 28)).shape == (1, 28, 28)


def test_an_unreadable_image_is_one_line(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(BenchError) as e:
        load_images(tmp_path, (1, 28, 28))
    assert "x.png cannot be read" in _one_line(e)


# ---------------------------------------------------------------- arrays from the header


def test_a_pickled_npz_member_is_refused_in_one_line(tmp_path):
    np.savez(tmp_path / "s.npz", samples=np.array([{"a": 1}], dtype=object))
    with pytest.raises(BenchError) as e:
        load_images(tmp_path / "s.npz", (1, 28, 28))
    assert "member 'samples' holds Python objects (a pickle), which are never loaded" in _one_line(e)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 32, 32), np.uint8), "has shape (5, 32, 32); allowed: (N, 28, 28) or (N, 1, 28, 28)"),
        (np.zeros((5, 28, 28), np.float64), "has dtype float64; images must be uint8"),
    ],
)
def test_npz_and_npy_headers_are_checked(tmp_path, array, message):
    np.savez_compressed(tmp_path / "s.npz", images=array)
    np.save(tmp_path / "s.npy", array)
    for name in ("s.npz", "s.npy"):
        with pytest.raises(BenchError) as e:
            load_images(tmp_path / name, (1, 28, 28))
        assert message in _one_line(e)


def test_good_arrays_still_read(tmp_path):
    x = RNG.integers(0, 256, (4, 28, 28, 3), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", x)
    np.save(tmp_path / "s.npy", x)
    for name in ("s.npz", "s.npy"):
        got = load_images(tmp_path / name, (3, 28, 28))
        assert torch.equal(got, torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))


# ---------------------------------------------------------------- evaluate's arguments


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "error: argument --seed: -1 is negative; allowed: a seed from 0 to 2**63 - 1"),
        (["--seed", str(2**63)], f"error: argument --seed: {2**63} is too large; allowed: a seed from 0 to 2**63 - 1"),
        (["--seed", "1.5"], "error: argument --seed: '1.5' is not an integer; allowed: a seed from 0 to 2**63 - 1"),
        (
            ["--bootstrap", "-5"],
            "error: argument --bootstrap: -5 is negative; allowed: 0 (no bootstrap) or more resamples, at most 10^7",
        ),
        (["--n-samples", "0"], "error: argument --n-samples: 0 is too small; allowed: 1 or more"),
        (
            ["--out", "/proc/x"],
            "error: --out /proc/x cannot be written: no file can be created in /proc (No such file or directory); "
            "allowed: a path in a writable folder",
        ),
    ],
)
def test_evaluate_refuses_bad_arguments_before_any_work(tmp_path, monkeypatch, capsys, args, message):
    import bench.cli.evaluate

    def no_work(**kw):
        raise AssertionError("the scoring started")

    monkeypatch.setattr(bench.cli.evaluate, "evaluate", no_work)
    np.save(tmp_path / "s.npy", np.zeros((2, 28, 28), np.uint8))
    monkeypatch.chdir(tmp_path)
    try:
        code = evaluate_main(["--samples", str(tmp_path / "s.npy"), *args])
    except SystemExit as e:  # the parser's own refusal
        code = e.code
    assert code == 2
    assert capsys.readouterr().err == message + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy"], "nothing written"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "--seed -1 is not allowed; allowed: an integer from 0 to 2**63 - 1"),
        ({"seed": 2**63}, f"--seed {2**63} is not allowed; allowed: an integer from 0 to 2**63 - 1"),
        ({"bootstrap": -5}, "--bootstrap -5 is not allowed; allowed: 0 (no intervals) or more, at most 10^7"),
        ({"n_samples": 0}, "--n-samples 0 is not allowed; allowed: a positive integer"),
    ],
)
def test_evaluate_as_a_library_call_checks_its_numbers_first(kwargs, message):
    from bench.cli.evaluate import evaluate

    with pytest.raises(BenchError) as e:
        evaluate(data="no-such-data", samples="nowhere.npy", **kwargs)
    assert str(e.value) == message


def test_evaluate_refuses_a_folder_as_out(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.zeros((2, 28, 28), np.uint8))
    assert evaluate_main(["--samples", str(tmp_path / "s.npy"), "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == f"error: --out {tmp_path} is a folder; allowed: a file path in a writable folder\n"
    )
