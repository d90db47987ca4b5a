"""Image files as data: arrays (.npy, .npz, never unpickled, headers checked before data is read), folders of
PNGs, and single image files decoded to what a viewer shows with their size checked from the header before any
pixel (used by data=folder, python -m bench.evaluate, data.contamination_source and the audit)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError

# the most pixels a source image may have when it is resized to the data set's size (data=folder with
# data.image_size): 4096 x 4096, 48 MiB as RGB; far beyond any data set here, far below a decompression bomb
MAX_SOURCE_PIXELS = 4096 * 4096
MODES = {1: "L", 3: "RGB"}  # channels -> the Pillow mode images are decoded to


def image_mode(channels: int, where: str) -> str:
    """The Pillow mode of a data set with `channels` channels; other channel counts have no image-file form."""
    if channels not in MODES:
        raise BenchError(f"{where}: image files give 1 (grey) or 3 (RGB) channels, the data set has {channels}")
    return MODES[channels]


def open_image(path: Path, where: str) -> Any:
    """`path` opened lazily (Pillow reads the header only: size and mode, no pixels); every failure is one line.

    Pillow's decompression-bomb error (above 2 x Image.MAX_IMAGE_PIXELS) is one line too; its warning (above
    MAX_IMAGE_PIXELS) is silenced, since `read_image`'s own size limits are far lower and come next."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        raise BenchError(
            f"{where}: image {path} has more than {2 * Image.MAX_IMAGE_PIXELS} pixels (a decompression bomb?); "
            "allowed: images of the data set's size"
        ) from None
    except Exception as e:
        raise BenchError(f"{where}: image {path} cannot be read ({type(e).__name__})") from None


def header_size(path: Path, where: str) -> tuple[int, int]:
    """(height, width) of an image file from its header, no pixel decoded."""
    with open_image(path, where) as im:
        width, height = im.size
    return int(height), int(width)


def decode_image(im: Any, mode: str) -> Any:
    """An opened image as a viewer shows it, in `mode` ("L" or "RGB"): palette ("P", "PA") images through their
    palette, 1-bit ones as 0/255, grey-alpha and RGBA with the alpha channel dropped (Pillow's `Image.convert`),
    16-bit grey scaled to 8 bits (Pillow would clip it to 255)."""
    from PIL import Image

    if im.mode.startswith("I;16"):
        im = Image.fromarray((np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8), "L")
    elif im.mode in ("I", "F"):
        raise ValueError(f"mode {im.mode} (32-bit) has no viewer's form; allowed: 8- or 16-bit images")
    return im if im.mode == mode else im.convert(mode)


def read_image(
    path: Path,
    channels: int,
    where: str,
    *,
    size: tuple[int, int] | None = None,
    resize_to: tuple[int, int] | None = None,
) -> np.ndarray:
    """One image file as uint8 (C, H, W), decoded to what a viewer shows in the data set's mode (`decode_image`).

    Its size is checked from the header before any pixel is decoded: `size` (height, width) the only size allowed;
    with `resize_to`, any size up to MAX_SOURCE_PIXELS, resized (bilinear) to it. Every failure is one line."""
    from PIL import Image

    mode = image_mode(channels, where)
    with open_image(path, where) as im:
        width, height = im.size
        if size is not None and (height, width) != tuple(size):
            raise BenchError(
                f"{where}: image {path} is {width}x{height} pixels (width x height); "
                f"allowed: {size[1]}x{size[0]}, the data set's image size"
            )
        if width * height > MAX_SOURCE_PIXELS:
            raise BenchError(
                f"{where}: image {path} is {width}x{height} pixels; allowed: at most {MAX_SOURCE_PIXELS} pixels "
                "(4096 x 4096)"
            )
        try:
            im = decode_image(im, mode)
            if resize_to is not None and im.size != (resize_to[1], resize_to[0]):
                im = im.resize((resize_to[1], resize_to[0]), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
        except Exception as e:
            reason = (str(e).splitlines() or [""])[0][:200]
            raise BenchError(f"{where}: image {path} cannot be read ({type(e).__name__}: {reason})") from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


# ---------------------------------------------------------------- arrays and folders of images

IMAGE_SUFFIXES = (".png",)


def load_images(path: str | Path, image_shape: tuple[int, int, int], option: str = "--samples") -> torch.Tensor:
    """uint8 (N, C, H, W) from an array file or a folder of PNGs; anything else is a one-line BenchError naming
    `option` (the command-line flag or config key the path came from)."""
    path = Path(path)
    if path.is_dir() and (path / "samples.npy").is_file():  # a run folder's gen_XXX/: its samples, not its grid PNG
        path = path / "samples.npy"
    if not path.exists():
        raise BenchError(f"{option} {path} does not exist; give a .npy/.npz file or a folder of PNG images")
    if path.is_dir():
        return torch.from_numpy(_read_png_folder(path, image_shape, option))
    elif path.suffix == ".npy":
        array = _load_array(path, lambda: _checked_npy(path, image_shape, option), option)
    elif path.suffix == ".npz":
        array = _load_array(path, lambda: _first_array(path, image_shape, option), option)
    else:
        raise BenchError(f"{option} {path} has suffix {path.suffix!r}; allowed: .npy, .npz or a folder of .png files")
    return to_nchw(array, image_shape, f"{option} {path}")


def _load_array(path: Path, load, option: str) -> np.ndarray:
    try:
        return load()
    except BenchError:
        raise
    except Exception as e:  # pickled object arrays are refused here too (allow_pickle=False)
        reason = (str(e).splitlines() or [""])[0][:200]
        raise BenchError(f"{option} {path} cannot be read as a numpy array ({type(e).__name__}: {reason})") from None


def _checked_npy(path: Path, image_shape: tuple[int, int, int], option: str) -> np.ndarray:
    """A .npy file's array, its dtype and shape checked from the header (memory-mapped) before it is read."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    check_array_header(array.dtype, array.shape, image_shape, f"{option} {path}")
    return np.array(array)


def _first_array(path: Path, image_shape: tuple[int, int, int], option: str) -> np.ndarray:
    """The images of a .npz file (`samples`, `images`, `x`, `arr_0` or its only member). The member's header
    (dtype and shape) is checked before its data is decompressed; a pickled member is refused."""
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        key = next((k for k in ("samples", "images", "x", "arr_0") if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise BenchError(
                f"{option} {path} holds arrays {keys}; name the images 'samples' or 'images', or store only one"
            )
        name = f"{key}.npy" if f"{key}.npy" in npz.zip.namelist() else key
        with npz.zip.open(name) as member:
            version = np.lib.format.read_magic(member)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read_header:
                raise ValueError(f"npy format version {version} is not read; allowed: 1.0, 2.0")
            shape, _, dtype = read_header[version](member)
        if dtype.hasobject:
            raise BenchError(
                f"{option} {path}: member {key!r} holds Python objects (a pickle), which are never loaded; "
                "allowed: a uint8 array"
            )
        check_array_header(dtype, shape, image_shape, f"{option} {path}")
        array: np.ndarray = npz[key]
        return array


def check_array_header(dtype: np.dtype, shape: tuple[int, ...], image_shape: tuple[int, int, int], where: str) -> None:
    """uint8 and one of the layouts `to_nchw` takes, from an array's header (nothing read yet)."""
    c, h, w = image_shape
    if dtype.hasobject:
        raise BenchError(f"{where} holds Python objects (a pickle), which are never loaded; allowed: a uint8 array")
    if dtype != np.uint8:
        raise BenchError(
            f"{where} has dtype {dtype}; images must be uint8 in 0..255 "
            "(convert with (x * 255).round().astype('uint8'))"
        )
    shape = tuple(shape)
    if not (
        (len(shape) == 3 and c == 1 and shape[1:] == (h, w))
        or (len(shape) == 4 and shape[1:] in ((c, h, w), (h, w, c)))
    ):
        allowed = f"(N, {h}, {w})" if c == 1 else ""
        allowed = " or ".join(x for x in (allowed, f"(N, {c}, {h}, {w})", f"(N, {h}, {w}, {c})") if x)
        raise BenchError(f"{where} has shape {shape}; allowed: {allowed}")


def _read_png_folder(folder: Path, image_shape: tuple[int, int, int], option: str) -> np.ndarray:
    """uint8 (N, C, H, W) from a folder of PNGs, each decoded as a viewer shows it in the data set's mode and its
    size checked from its header first (read_image)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(f"{option} {folder} holds no .png images")
    c, h, w = image_shape
    return np.stack([read_image(f, c, f"{option} {folder}", size=(h, w)) for f in files])


def to_nchw(array: np.ndarray, image_shape: tuple[int, int, int], where: str) -> torch.Tensor:
    c, h, w = image_shape
    check_array_header(array.dtype, array.shape, image_shape, where)
    if array.ndim == 3:
        array = array[:, None]
    elif array.shape[1:] != (c, h, w):
        array = array.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array))
