"""A certificate as an A4 PDF: title, labelled sections of facts, a QR code to the page that
verifies them with its URL printed under it, and a footer.

Fonts: Latin text is set in Helvetica and hashes, keys, URLs and signed notes in Courier, two of
the 14 standard fonts every PDF reader has; whatever those cannot encode (Chinese) is set in
STSong-Light, one of the CID fonts of Adobe's Asian font packs, which readers carry or
substitute with a Song font. So no font file ships with Sealchain or is embedded, and an English
certificate needs no Chinese font at all. Every value breaks anywhere if it must (reportlab's
CJK wrapping, which still keeps Latin words whole where it can), so a 64-digit hash wraps
instead of running off the page, and a table row may split across pages, so even a value longer
than a page fits. Unsigned output is reproducible: reportlab's invariant mode fixes the document
id and dates, so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import qrcode
from qrcode.image.pil import PilImage
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CJK = "STSong-Light"
LATIN, MONO = "Helvetica", "Courier"
pdfmetrics.registerFont(UnicodeCIDFont(CJK))
QR_SIZE = 32 * mm
MARGIN = 18 * mm
LABEL_WIDTH = 38 * mm
# The standard fonts are drawn through WinAnsiEncoding (cp1252 less five unused bytes):
# a character outside it has no glyph there and would print as a blank or a box.
_STANDARD_ENCODING = "cp1252"


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    mono: bool = False  # hashes, keys, URLs, notes: Courier, broken anywhere


@dataclass(frozen=True)
class Section:
    heading: str
    rows: Sequence[Row]


_TEXT = ParagraphStyle("text", fontName=LATIN, fontSize=9, leading=12, wordWrap="CJK")
_LABEL = ParagraphStyle("label", parent=_TEXT, textColor="#555555")
_MONO = ParagraphStyle("mono", fontName=MONO, fontSize=8, leading=10, wordWrap="CJK")
_TITLE = ParagraphStyle("title", parent=_TEXT, fontSize=17, leading=22, spaceAfter=2 * mm)
_SUBTITLE = ParagraphStyle("subtitle", parent=_TEXT, fontSize=10, textColor="#333333")
_HEADING = ParagraphStyle(
    "heading", parent=_TEXT, fontSize=11, leading=14, spaceBefore=4 * mm, spaceAfter=1 * mm
)
_SMALL = ParagraphStyle("small", parent=_TEXT, fontSize=7.5, leading=10, textColor="#555555")
_SMALL_MONO = ParagraphStyle("small-mono", parent=_MONO, fontSize=7, leading=9)


def _standard(char: str) -> bool:
    try:
        char.encode(_STANDARD_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _markup(value: str, font: str) -> str:
    """`value` as Paragraph markup: runs the standard `font` can draw are set in it, the rest in
    STSong-Light; markup characters are escaped and line breaks kept."""
    out = []
    for standard, run in itertools.groupby(value, _standard):
        text = escape("".join(run)).replace("\n", "<br/>")
        out.append(f'<font face="{font if standard else CJK}">{text}</font>')
    return "".join(out)


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_markup(value, style.fontName), style)


def qr_image(url: str) -> Image:
    """The QR code of `url`, drawn QR_SIZE wide, with the 4-module quiet zone scanners need."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    picture = code.make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    buffer.seek(0)
    return Image(buffer, width=QR_SIZE, height=QR_SIZE)


def render_certificate(
    *,
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    qr_url: str,
    footer: str,
    author: str,
    qr_caption: str | None = None,
) -> bytes:
    """The certificate as PDF bytes (unsigned); the same arguments give the same bytes.

    `qr_url` is encoded in the QR code and printed under it in full; `qr_caption`, if given and
    not the URL itself, is printed above the URL (say, "Scan to verify").
    """
    buffer = io.BytesIO()
    width = A4[0] - 2 * MARGIN
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author=author,
        invariant=1,
    )
    under_qr = [qr_image(qr_url)]
    if qr_caption and qr_caption != qr_url:
        under_qr.append(_text(qr_caption, _SMALL))
    under_qr.append(_text(qr_url, _SMALL_MONO))
    header = Table(
        [[[_text(title, _TITLE), _text(subtitle, _SUBTITLE)], under_qr]],
        colWidths=[width - QR_SIZE - 4 * mm, QR_SIZE + 4 * mm],
    )
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[object] = [header]
    for section in sections:
        story.append(_text(section.heading, _HEADING))
        rows = [
            [_text(row.label, _LABEL), _text(row.value, _MONO if row.mono else _TEXT)]
            for row in section.rows
        ]
        # splitInRow: a row taller than what is left of the page continues on the next one;
        # without it a long note would stop the whole document with a LayoutError.
        table = Table(rows, colWidths=[LABEL_WIDTH, width - LABEL_WIDTH], splitInRow=1)
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#dddddd"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        story.append(table)
    story += [Spacer(1, 5 * mm), _text(footer, _SMALL)]
    document.build(story)
    return buffer.getvalue()
