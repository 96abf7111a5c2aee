"""QR codes for packs: PNG and SVG with `qrcode`, and decoding photos with `zxing-cpp`."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import qrcode
import qrcode.image.svg
import zxingcpp
from PIL import Image, ImageOps

from ledger.plugin import tr

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
# Phones save 12 MP photos by default (48-200 MP sensors bin 4 or 16 pixels into one); 24 MP
# leaves room for a full-resolution 24 MP mode and a label needs far fewer. Decoding one costs
# a few hundred MB (the pixels, a grey copy, zxing's own buffers), so a limit here bounds memory.
MAX_PIXELS = 24_000_000
# Wider or taller than any camera frame (a 200 MP sensor is 16320 px wide). A thin strip passes
# MAX_PIXELS yet breaks the decoders (1 x 50,000,000 px ran zxing out of memory), so it is
# refused from the header, before any pixel is decoded.
MAX_SIDE = 16_384
# A 2x enlargement helps only codes a few pixels per module wide, which means a small image;
# on a big one it would quadruple the work and the memory for nothing.
ENLARGE_BELOW_PIXELS = 4_000_000
# What phones and browsers upload (iOS converts its HEIC photos to JPEG when a page asks for
# one). Pillow would otherwise try every format it knows, rare decoders (QOI, DDS, PSD, ...)
# are where its parsing bugs have been, and EPS would even run Ghostscript where installed.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# What Pillow and zxing raise on malformed or hostile input. OSError (UnidentifiedImageError is
# one) is only part of it: ValueError came from a bad PPM header, "not enough image data" in a
# cut QOI or DDS file and a side over 65535 px, MemoryError from a 1 x 50,000,000 px strip, and
# Pillow's format plugins parse with SyntaxError, EOFError, struct.error and index arithmetic.
# Each means "this upload cannot be read", never a fault of the server.
UNREADABLE = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ArithmeticError,
    MemoryError,
    Image.DecompressionBombError,
)


class QrError(ValueError):
    """Not an image, or no QR code could be read from it. Its message (`args[0]`) is a
    `Localized` text, shown in the reader's language in a problem answer."""


def _code(uri: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=4)
    code.add_data(uri)
    code.make(fit=True)
    return code


def qr_png(uri: str, *, box_size: int = 8) -> bytes:
    out = io.BytesIO()
    _code(uri, box_size).make_image().save(out, format="PNG")
    return out.getvalue()


def qr_svg(uri: str) -> str:
    image = _code(uri, 10).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    return svg


def decode_image(data: bytes) -> list[str]:
    """Every QR code text found in a photo; tries grey and (small images) enlarged versions.

    Raises QrError for anything that is not a readable image within MAX_PIXELS and MAX_SIDE, or
    holds no QR code. CPU-bound for up to a few seconds: call it off the event loop.
    """
    try:
        for candidate in _candidates(_open(data)):
            found = [
                r.text
                for r in zxingcpp.read_barcodes(candidate)
                if r.format == zxingcpp.BarcodeFormat.QRCode
            ]
            if found:
                return found
    except QrError:
        raise  # a ValueError too: caught here so the sentence is kept
    except UNREADABLE as e:
        raise QrError(
            tr("The upload is not a JPEG, PNG, WebP or GIF image that can be read.")
        ) from e
    raise QrError(tr("No QR code was found in the image."))


def _open(data: bytes) -> Image.Image:
    """The image with its pixels loaded, once its header shows a size we are willing to decode."""
    image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    if image.width > MAX_SIDE or image.height > MAX_SIDE:
        raise QrError(tr("The image is over %(side)s pixels wide or high.", side=MAX_SIDE))
    if image.width * image.height > MAX_PIXELS:
        raise QrError(tr("The image is over %(mp)s megapixels.", mp=MAX_PIXELS // 1_000_000))
    image.load()
    return image


def _candidates(image: Image.Image) -> Iterator[Image.Image]:
    """The photo as it is, then grey with stretched contrast, then enlarged if small: each is
    made only if the one before held no code."""
    image = ImageOps.exif_transpose(image)
    yield image.convert("RGB")
    grey = ImageOps.autocontrast(image.convert("L"))
    yield grey
    if grey.width * grey.height < ENLARGE_BELOW_PIXELS:
        yield grey.resize((grey.width * 2, grey.height * 2))
