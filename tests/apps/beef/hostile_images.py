"""Uploads a black-box probe of the photo scan found harmful, each made for real with Pillow."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw


def png(width: int, height: int) -> bytes:
    """A white PNG: tiny on the wire whatever its size, since it compresses to almost nothing."""
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, format="PNG")
    return out.getvalue()


def truncated(format_name: str) -> bytes:
    """The first half of a small image in `format_name`: its header promises pixels it lacks."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, format=format_name)
    whole = out.getvalue()
    return whole[: len(whole) // 2]


def busy_png(width: int, height: int) -> bytes:
    """A PNG full of small black squares and no QR code: slow to search, yet a small upload."""
    tile = Image.new("L", (64, 64), 255)
    draw = ImageDraw.Draw(tile)
    rng = random.Random(1)
    for x in range(0, 64, 4):
        for y in range(0, 64, 4):
            if rng.random() < 0.5:
                draw.rectangle((x, y, x + 3, y + 3), fill=0)
    image = Image.new("L", (width, height), 255)
    for x in range(0, width, 64):
        for y in range(0, height, 64):
            image.paste(tile, (x, y))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# Each answered 500 `internal`: Pillow raised something other than OSError. Built on demand
# (parametrize by name), so collecting the tests does not draw 50-megapixel images.
UNREADABLE: dict[str, Callable[[], bytes]] = {
    "bad PPM header": lambda: b"P5\n1x 1\n255\n\x00",  # ValueError: invalid literal for int()
    "QOI cut in half": lambda: truncated("QOI"),  # ValueError: not enough image data
    "DDS cut in half": lambda: truncated("DDS"),
}
ABSURD_SIDES: dict[str, Callable[[], bytes]] = {
    "40000 x 10": lambda: png(40_000, 10),  # its 2x enlargement passed Pillow's 65535 px
    "1 x 50,000,000": lambda: png(1, 50_000_000),  # under 50 MP, then MemoryError in zxing
}


def blank_49_megapixels() -> bytes:
    """62 KB that held the event loop for 8 s and took 1.46 GB: decoded, then enlarged 2x."""
    return png(7000, 7000)
