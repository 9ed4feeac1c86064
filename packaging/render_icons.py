"""Render packaging/icons/llm-playground.svg to the PNG sizes we ship.

Run with the project's Python (needs PySide6):  python packaging/render_icons.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent / "icons"
SVG = ICONS / "llm-playground.svg"
OUTPUTS = {256: ICONS / "llm-playground.png", 64: ICONS / "llm-playground-64.png"}


def render(renderer: QSvgRenderer, size: int, path: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(path), "PNG"):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path} ({size}x{size})")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # QSvgRenderer needs one alive
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"invalid SVG: {SVG}")
    for size, path in OUTPUTS.items():
        render(renderer, size, path)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
