"""QR codes: what is printed decodes back, from a clean image and from a photo of one."""

from __future__ import annotations

import io
import random

import biip
import pytest
from PIL import Image, ImageFilter

from apps.beef.identifiers import parse_pack_uri
from apps.beef.qr import (
    MAX_PIXELS,
    QrError,
    decode_image,
    qr_png,
    qr_svg,
)
from tests.apps.beef.hostile_images import ABSURD_SIDES, UNREADABLE, blank_49_megapixels

URI = "http://127.0.0.1:8000/01/09312345000012/10/L2611/21/0001"


def test_png_round_trip_gives_a_digital_link_biip_accepts() -> None:
    (text,) = decode_image(qr_png(URI))
    assert text == URI
    parsed = biip.parse(text)
    assert parsed.gs1_digital_link_uri is not None
    assert parsed.gtin is not None
    assert parsed.gtin.value == "09312345000012"
    assert parse_pack_uri(text).serial == "0001"


def photo_of(png: bytes) -> bytes:
    """The label as a phone might see it: rotated, smaller, on a noisy grey background, blurred."""
    code = Image.open(io.BytesIO(png)).convert("L").rotate(11, expand=True, fillcolor=255)
    code = code.resize((code.width * 3 // 4, code.height * 3 // 4))
    rng = random.Random(7)
    canvas = Image.new("L", (code.width + 300, code.height + 240), 170)
    canvas.putdata(
        [max(0, min(255, 170 + rng.randint(-25, 25))) for _ in range(canvas.width * canvas.height)]
    )
    canvas.paste(code, (140, 90))
    out = io.BytesIO()
    canvas.filter(ImageFilter.GaussianBlur(0.8)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_a_photo_of_the_label_still_decodes() -> None:
    assert decode_image(photo_of(qr_png(URI))) == [URI]


def test_svg_is_an_svg_of_the_code() -> None:
    svg = qr_svg(URI)
    assert svg.startswith("<svg")
    assert "<path" in svg


def test_garbage_is_not_an_image() -> None:
    with pytest.raises(QrError, match="not a JPEG, PNG, WebP or GIF image"):
        decode_image(b"definitely not a picture")


def test_an_image_without_a_code_says_so() -> None:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(out, format="PNG")
    with pytest.raises(QrError, match="No QR code"):
        decode_image(out.getvalue())


@pytest.mark.parametrize("name", UNREADABLE)
def test_malformed_image_is_refused_as_unreadable_not_a_crash(name: str) -> None:
    with pytest.raises(QrError, match="not a JPEG, PNG, WebP or GIF image"):
        decode_image(UNREADABLE[name]())


@pytest.mark.parametrize("name", ABSURD_SIDES)
def test_absurd_side_is_refused_before_its_pixels_are_decoded(name: str) -> None:
    with pytest.raises(QrError, match="pixels wide or high"):
        decode_image(ABSURD_SIDES[name]())


def test_blank_49_megapixel_image_is_refused_before_decoding() -> None:
    with pytest.raises(QrError, match="over 24 megapixels"):
        decode_image(blank_49_megapixels())


def test_a_label_in_a_photo_at_the_pixel_limit_still_decodes() -> None:
    """The limit must not refuse a phone photo: 6000 x 4000 is 24 MP, the largest allowed."""
    assert MAX_PIXELS == 6000 * 4000
    canvas = Image.new("L", (6000, 4000), 200)
    canvas.paste(Image.open(io.BytesIO(qr_png(URI, box_size=12))), (2500, 1500))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=85)
    assert decode_image(out.getvalue()) == [URI]


def _code_as(image_format: str) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(qr_png(URI))).convert("RGB").save(out, format=image_format)
    return out.getvalue()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "GIF"])
def test_photo_formats_are_read(image_format: str) -> None:
    assert decode_image(_code_as(image_format)) == [URI]


@pytest.mark.parametrize("image_format", ["BMP", "TIFF", "PPM", "TGA", "EPS"])
def test_other_formats_are_refused_even_with_a_readable_code(image_format: str) -> None:
    """Pillow reads these, but phones do not upload them: the decoders stay out of reach."""
    with pytest.raises(QrError, match="not a JPEG, PNG, WebP or GIF image"):
        decode_image(_code_as(image_format))
