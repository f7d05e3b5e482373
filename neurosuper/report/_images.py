"""Figures as data URIs: PNG for drawings, JPEG when it is much smaller (photographs, MEI grids), within a budget."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Embedded", "encode", "encode_figure", "IMAGE_SUFFIXES"]

#: Files the report embeds when a step lists them.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Embedded:
    """One encoded image: its MIME type, bytes and pixel size."""

    mime: str
    data: bytes
    width: int
    height: int

    @property
    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def encoded_size(self) -> int:
        """Bytes the data URI takes in the HTML."""
        return 4 * ((len(self.data) + 2) // 3) + len(self.mime) + 13


def _flatten(img: Any) -> Any:
    """RGB on white (transparent figures are drawn on a white page)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        page = Image.new("RGB", img.size, (255, 255, 255))
        page.paste(img, mask=img.getchannel("A"))
        return page
    return img.convert("RGB")


def _png(img: Any, *, palette: bool) -> bytes:
    buf = io.BytesIO()
    if palette:
        from PIL import Image

        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _jpeg(img: Any, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def encode(source: str | Path | bytes, *, max_width: int = 1400, scale: float = 1.0) -> Embedded:
    """An image file (or its bytes) for embedding, at most ``max_width * scale`` pixels wide: a PNG that fits is
    kept as it is; anything else is redrawn as RGB on white, a lossless PNG — unless that is over 150 kB and a
    256-colour PNG or a JPEG (quality 88) is less than half its size (photographs and MEI grids)."""
    from PIL import Image

    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    width = max(64, int(max_width * scale))
    with Image.open(io.BytesIO(raw)) as opened:
        opened.load()
        as_is = opened.format == "PNG" and opened.width <= width  # a PNG that fits is embedded unchanged
        img = _flatten(opened)
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)
    best = ("image/png", raw if as_is else _png(img, palette=False))
    if len(best[1]) > 150_000:
        lossy = min((("image/png", _png(img, palette=True)), ("image/jpeg", _jpeg(img))), key=lambda md: len(md[1]))
        if len(lossy[1]) < len(best[1]) / 2:
            best = lossy
    return Embedded(best[0], best[1], img.width, img.height)


def encode_figure(fig: Any, *, dpi: int = 110, max_width: int = 1400, scale: float = 1.0) -> Embedded:
    """A matplotlib Figure drawn to PNG in memory, then :func:`encode`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return encode(buf.getvalue(), max_width=max_width, scale=scale)
