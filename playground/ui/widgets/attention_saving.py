"""Saving what the Attention Lab shows: the view as a picture, the chosen head's weights as a matrix.

The base class of `AttentionPanel` (it uses the panel's `shown` snapshot, `current_matrix`, `views`,
controls and `session`, declared below), kept apart so that the panel module holds the looking and drawing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
from PySide6.QtWidgets import QFileDialog, QSpinBox, QTabBar, QWidget

from playground.core.progress import UserError
from playground.ui.widgets.attention_views import VIEW_MEAN, AttentionViews

if TYPE_CHECKING:
    from playground.core.attention_records import AttentionSnapshot
    from playground.engine.session import Session

NO_ATTENTION_YET = "There is no attention to save yet: look at some text first."


class AttentionSaving(QWidget):
    """Save picture / Save matrix (a rectangle of cross-attention keeps its input tokens as the columns)."""

    # What the panel provides.
    session: Session
    shown: Optional[AttentionSnapshot]
    current_matrix: Optional[np.ndarray]
    views: AttentionViews
    view: QTabBar
    layer: QSpinBox
    head: QSpinBox

    def export_picture(self, path) -> Path:
        """Save the current view as a PNG picture."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        if self.shown is None:
            raise UserError(NO_ATTENTION_YET)
        if not self.views.picture().save(str(path), "PNG"):
            raise UserError(
                f"Could not save the picture to {path}: check that the folder exists and you may write there."
            )
        return path

    def export_matrix(self, path) -> Path:
        """Save the chosen head's (or the layer mean's) weights: .csv with the tokens, or .npy."""
        from playground.core.attention import save_matrix

        if self.shown is None or self.current_matrix is None:
            raise UserError(NO_ATTENTION_YET)
        return save_matrix(self.current_matrix, path, tokens=self.shown.tokens, key_tokens=self.shown.key_tokens)

    def _matrix_name(self) -> str:
        what = "mean" if self.view.currentIndex() == VIEW_MEAN else f"head{self.head.value()}"
        kind = f"{self.shown.kind}-" if self.shown is not None and self.shown.kind else ""
        return f"attention-{kind}layer{self.layer.value()}-{what}"

    def _choose_picture_file(self) -> None:
        if self.shown is None:
            self.session.warn(NO_ATTENTION_YET)
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the view as a picture", str(Path.home() / f"{self._matrix_name()}.png"), "PNG picture (*.png)"
        )
        if path:
            self._export(lambda: f"Saved the picture to {self.export_picture(path)}.")

    def _choose_matrix_file(self) -> None:
        if self.shown is None:
            self.session.warn(NO_ATTENTION_YET)
            return
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Save the weights as a matrix",
            str(Path.home() / f"{self._matrix_name()}.csv"),
            "CSV table, with the tokens (*.csv);;NumPy array (*.npy)",
        )
        if not path:
            return
        if Path(path).suffix.lower() not in (".csv", ".npy"):
            path += ".npy" if "npy" in chosen else ".csv"
        T, S = self.shown.weights.shape[-2:]
        self._export(lambda: f"Saved the {T}×{S} matrix to {self.export_matrix(path)}.")

    def _export(self, save) -> None:
        """Run `save` (which returns what to tell the person) and say how it went."""
        try:
            self.session.info(save())
        except UserError as e:
            self.session.error(str(e))
