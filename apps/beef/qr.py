"""QR codes for packs: PNG and SVG with `qrcode`, decoding photos with `zxing-cpp`, and a
printable label sheet."""

from __future__ import annotations

import io
from dataclasses import dataclass
from html import escape

import qrcode
import qrcode.image.svg
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
MAX_PIXELS = 50_000_000  # a 50-megapixel phone photo; larger is refused, not decoded


class QrError(ValueError):
    """Not an image, or no QR code could be read from it."""


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
    return image.to_string(encoding="unicode")


def decode_image(data: bytes) -> list[str]:
    """Every QR code text found in a photo; tries grey and enlarged versions before failing."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:  # refuse before decoding the pixels
            raise QrError(f"the image is over {MAX_PIXELS // 1_000_000} megapixels")
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise QrError("the upload is not an image (PNG or JPEG) that can be read") from e
    image = ImageOps.exif_transpose(image)
    grey = ImageOps.autocontrast(image.convert("L"))
    for candidate in (image.convert("RGB"), grey, grey.resize((grey.width * 2, grey.height * 2))):
        found = [
            r.text
            for r in zxingcpp.read_barcodes(candidate)
            if r.format == zxingcpp.BarcodeFormat.QRCode
        ]
        if found:
            return found
    raise QrError("no QR code was found in the image")


@dataclass(frozen=True)
class Label:
    uri: str
    product: str
    gtin: str
    lot: str
    serial: str
    best_before: str
    log_key_id: str


def label_sheet_html(labels: list[Label], *, title: str) -> str:
    """A printable A4 sheet of labels (3 x 8), each with its QR code as inline SVG."""
    cells = "".join(
        '<div class="label">'
        f"{qr_svg(label.uri)}"
        f"<p><b>{escape(label.product)}</b><br>GTIN {escape(label.gtin)}<br>"
        f"Lot {escape(label.lot)} · Serial {escape(label.serial)}<br>"
        f"Best before {escape(label.best_before)}<br>"
        f"<small>log key {escape(label.log_key_id)}</small></p></div>"
        for label in labels
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/beef/static/labels.css"></head>'
        f"<body><h1>{escape(title)}</h1><main class=sheet>{cells}</main></body></html>"
    )
