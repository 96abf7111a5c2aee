"""A certificate as an A4 PDF: title, labelled sections of facts, a QR code to the page that
verifies them, and a footer. Chinese text is set in STSong-Light, one of the CID fonts every
PDF reader carries (Adobe's Asian font packs), so no font file ships with Sealchain or is
embedded; hashes, keys and signed notes are set in Courier and break anywhere, so a 64-digit
hash wraps instead of running off the page. Unsigned output is reproducible: reportlab's
invariant mode fixes the document id and dates.
"""

from __future__ import annotations

import io
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
pdfmetrics.registerFont(UnicodeCIDFont(CJK))
QR_SIZE = 32 * mm


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    mono: bool = False  # hashes, keys, notes: Courier, broken anywhere


@dataclass(frozen=True)
class Section:
    heading: str
    rows: Sequence[Row]


_TEXT = ParagraphStyle("text", fontName=CJK, fontSize=9, leading=12, wordWrap="CJK")
_LABEL = ParagraphStyle("label", parent=_TEXT, textColor="#555555")
_MONO = ParagraphStyle("mono", fontName="Courier", fontSize=8, leading=10, wordWrap="CJK")
_TITLE = ParagraphStyle("title", fontName=CJK, fontSize=17, leading=22, spaceAfter=2 * mm)
_SUBTITLE = ParagraphStyle("subtitle", parent=_TEXT, fontSize=10, textColor="#333333")
_HEADING = ParagraphStyle(
    "heading", fontName=CJK, fontSize=11, leading=14, spaceBefore=4 * mm, spaceAfter=1 * mm
)
_SMALL = ParagraphStyle("small", parent=_TEXT, fontSize=7.5, leading=10, textColor="#555555")


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    # Paragraphs read a little markup: escape what was signed, and keep its line breaks.
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


def qr_image(url: str) -> Image:
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
    qr_caption: str,
    footer: str,
    author: str,
) -> bytes:
    """The certificate as PDF bytes (unsigned)."""
    buffer = io.BytesIO()
    width = A4[0] - 36 * mm
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author=author,
        invariant=1,
    )
    header = Table(
        [
            [
                [_text(title, _TITLE), _text(subtitle, _SUBTITLE)],
                [qr_image(qr_url), _text(qr_caption, _SMALL)],
            ]
        ],
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
        table = Table(rows, colWidths=[38 * mm, width - 38 * mm])
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
