"""The Attention Lab's "Causal vs masked" tab: a decoder and an encoder side by side on one sentence;
"Three families" when an encoder-decoder is at hand (the current model, the demo in
models/demo-encoder-decoder, or a folder chosen): its cross-attention, a rectangle, as the third.

The same layer and head of both models (or the nearest each has, said under
its heatmap), so the decoder's triangle (each token reads only the tokens
before it) and the encoder's full square (every token reads every token) are
seen together. Each side is the current model, a demo model, or any model
folder the learner picks; the looking runs as a job (`look_side_by_side` in
core/attention_jobs.py), and models read from folders are kept for the next look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground import paths
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import DEFAULT_PROBE_TEXT
from playground.ui.themes import AMBER_NOTICE, themed_style

CURRENT = ""  # the item data of "the current model": no folder
CHOOSE = "\0choose"  # the item data of "Choose a model folder…"
NO_DEMO_ENCODER = (
    "The demo encoder is not installed here. Choose an encoder's folder (a run built with the Encoder family, "
    "or an imported BERT) for one side to see the full square."
)
NO_DEMO_ENCODER_DECODER = (
    "The demo encoder-decoder is not installed here. Choose an encoder-decoder's folder (a run built with the "
    "Encoder-decoder family, or an imported T5) for a third side: its cross-attention, a rectangle."
)
INTRO = (
    "A decoder (GPT) reads left to right: each token sees only the tokens before it, so its attention is a "
    "triangle. An encoder (BERT) reads the whole text at once: every token sees every token, a full square."
)
INTRO_THREE = (
    "A decoder (GPT): each token reads the tokens before it, a triangle. An encoder (BERT): every token reads "
    "every token, a square. An encoder-decoder (T5) reads the sentence as its input and writes an output: "
    "each output token reads the input's tokens, a rectangle (its cross-attention)."
)
TITLES = ("Causal vs masked", "Three families")
TIPS = (
    "A decoder's triangle beside an encoder's square: two models on one sentence.",
    "A decoder's triangle, an encoder's square and an encoder-decoder's rectangle: three models on one sentence.",
)
FAMILY_OF_SIDE = ("decoder", "encoder", "encoder-decoder")
KIND_ROLE = 0x0101  # Qt.UserRole + 1: the family of a combo item's model ("" when unknown: a folder)
DEMO_ENCODER_DECODER = "demo-encoder-decoder"  # core/causal_vs_masked.py's folder name (not imported: PyTorch)


def demo_encoder_dir() -> Optional[Path]:
    """The demo encoder's folder, where this install has one (the function may be missing in older installs)."""
    finder = getattr(paths, "demo_encoder_dir", None)
    return finder() if finder is not None else None


def demo_encoder_decoder_dir() -> Optional[Path]:
    """The demo encoder-decoder's folder, where this install has one."""
    finder = getattr(paths, "demo_encoder_decoder_dir", None)
    if finder is not None:
        return finder()
    path = paths.models_dir() / DEMO_ENCODER_DECODER
    return path if (path / "config.json").exists() else None


def family_of_config(config) -> str:
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    return "encoder" if config.is_encoder else "decoder"


READS = {
    "decoder": "decoder: each token reads the past",
    "encoder": "encoder: every token reads every token",
    "encoder-decoder": "encoder-decoder: its output reads the sentence",
}

SHAPES = {
    "decoder": "Decoder: a triangle",
    "encoder": "Encoder: a square",
    "encoder-decoder": "Encoder-decoder's cross-attention: a rectangle",
}


def family_of_snapshot(side) -> str:
    """A compared side's family: its snapshot is a rectangle for an encoder-decoder (its cross-attention)."""
    if side.snapshot.is_rectangle:
        return "encoder-decoder"
    return "encoder" if side.encoder else "decoder"


class CausalVsMasked(QWidget):
    """Two (or three) model choices and a sentence on top; the heatmaps side by side below."""

    title_changed = Signal(str, str)  # the tab's title and tooltip: "Three families" with an encoder-decoder

    LOOK_DEBOUNCE_MS = 300

    def __init__(self, session, parent=None) -> None:
        super().__init__(parent)
        from playground.core.attention_jobs import FolderModels  # no PyTorch until a look runs

        self.session = session
        self.slot = JobSlot(self)
        self.folders = FolderModels()
        self.result = None  # the latest SideBySide
        self._heatmaps: list = []  # made on first use (pyqtgraph), one a side
        self.three = False  # an encoder-decoder is at hand: a third side, its rectangle
        self._timer = QTimer(self, singleShot=True, interval=self.LOOK_DEBOUNCE_MS)
        self._timer.timeout.connect(self.look)

        self.intro = intro = QLabel(INTRO)
        intro.setWordWrap(True)
        themed_style(intro, "color: {muted};")
        self.text_edit = QLineEdit(DEFAULT_PROBE_TEXT)
        self.text_edit.setToolTip("The sentence both models read.")
        self.text_edit.textEdited.connect(lambda _t: self._timer.start())
        self.look_button = QPushButton("Look")
        self.look_button.setToolTip("Run both models over the sentence and show where the chosen head looks.")
        self.look_button.clicked.connect(self.look)
        self.choices = [QComboBox(), QComboBox(), QComboBox()]
        for side, combo in enumerate(self.choices):
            # Three long model names side by side must still fit 1024 px: the combos shrink, eliding.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
            combo.setToolTip("The model on this side: the current model, a demo model, or any model folder.")
            combo.activated.connect(lambda index, side=side: self._on_choice(side, index))
        self.layer = QSpinBox()
        self.layer.setToolTip("The layer, counted from 0 (a model with fewer layers shows its last).")
        self.head = QSpinBox()
        self.head.setToolTip("The head, counted from 0 (a model with fewer heads shows its last).")
        self.mean = QCheckBox("Mean of the heads")
        self.mean.setToolTip("Show the average of the layer's heads instead of one head.")
        for control in (self.layer, self.head):
            control.setRange(0, 63)
            control.valueChanged.connect(self._draw)
        self.mean.toggled.connect(self._draw)
        self.mean.toggled.connect(lambda on: self.head.setEnabled(not on))
        self.missing = QLabel(NO_DEMO_ENCODER)
        self.missing.setWordWrap(True)
        themed_style(self.missing, AMBER_NOTICE)
        self.choose_button = QPushButton("Choose a model…")
        self.choose_button.setToolTip("Pick a model folder (a run, or its best/last checkpoint) for the right side.")
        self.choose_button.clicked.connect(lambda: self.choose_folder(1))
        self.missing_row = QWidget()
        mr = QHBoxLayout(self.missing_row)
        mr.setContentsMargins(0, 0, 0, 0)
        mr.addWidget(self.missing, 1)
        mr.addWidget(self.choose_button)
        self.missing_third = QLabel(NO_DEMO_ENCODER_DECODER)
        self.missing_third.setWordWrap(True)
        themed_style(self.missing_third, AMBER_NOTICE)
        self.choose_third_button = QPushButton("Choose an encoder-decoder…")
        self.choose_third_button.setToolTip("Pick an encoder-decoder's folder (a run, or its best/last checkpoint).")
        self.choose_third_button.clicked.connect(lambda: self.choose_folder(2))
        self.missing_third_row = QWidget()
        mt = QHBoxLayout(self.missing_third_row)
        mt.setContentsMargins(0, 0, 0, 0)
        mt.addWidget(self.missing_third, 1)
        mt.addWidget(self.choose_third_button)

        top = QGridLayout()
        top.addWidget(QLabel("<b>Sentence</b>"), 0, 0)
        top.addWidget(self.text_edit, 0, 1, 1, 5)
        self.side_labels = [QLabel("Left"), QLabel("Right"), QLabel("Third")]
        for side, (label, combo) in enumerate(zip(self.side_labels, self.choices)):
            top.addWidget(label, 1, 2 * side)
            top.addWidget(combo, 1, 2 * side + 1)
            top.setColumnStretch(2 * side + 1, 1)
        top.addWidget(self.look_button, 0, 6)
        heads = QHBoxLayout()
        for widget in (QLabel("Layer"), self.layer, QLabel("Head"), self.head, self.mean):
            heads.addWidget(widget)
        heads.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        themed_style(self.status, "color: {muted};")
        self.views = QHBoxLayout()
        self.notes = [QLabel(), QLabel(), QLabel()]
        for note in self.notes:
            note.setWordWrap(True)
            themed_style(note, "color: {muted};")
        notes = QHBoxLayout()
        for note in self.notes:
            notes.addWidget(note, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.missing_row)
        layout.addWidget(self.missing_third_row)
        layout.addLayout(heads)
        layout.addLayout(self.views, 1)
        layout.addLayout(notes)
        layout.addWidget(self.status)
        self.fill_choices()
        session.checkpoint_changed.connect(self._on_checkpoint)

    # ------------------------------------------------------------------ the two models

    def fill_choices(self, model_changed: bool = False) -> None:
        """Offer the current model, the demo models and any folder chosen before; keep each side's choice
        (but a side on "the current model" that has just become another family takes its own family again)."""
        current = self.session.checkpoint
        offered: list[tuple[str, str, str]] = []  # (label, folder or CURRENT, family)
        kind = ""
        if current is not None:
            kind = family_of_config(current.model_config)
            offered.append((f"Current model: {current.name} ({kind})", CURRENT, kind))
        decoder, encoder, both = paths.demo_model_dir(), demo_encoder_dir(), demo_encoder_decoder_dir()
        for folder, label, family in (
            (decoder, "Demo decoder (GPT style)", "decoder"),
            (encoder, "Demo encoder (BERT style)", "encoder"),
            (both, "Demo encoder-decoder (T5 style)", "encoder-decoder"),
        ):
            if folder is not None:
                offered.append((label, str(folder), family))
        for combo in self.choices:
            for i in range(combo.count()):
                data = combo.itemData(i)
                if data not in (CURRENT, CHOOSE, None) and all(data != d for _, d, _ in offered):
                    offered.append((combo.itemText(i), data, combo.itemData(i, KIND_ROLE) or ""))  # chosen before
        for side, combo in enumerate(self.choices):
            before = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for label, data, family in offered:
                combo.addItem(label, data)
                combo.setItemData(combo.count() - 1, family, KIND_ROLE)
            combo.addItem("Choose a model folder…", CHOOSE)
            index = combo.findData(before) if before not in (None, CHOOSE) else -1
            if model_changed and before == CURRENT and current is not None and kind != FAMILY_OF_SIDE[side]:
                index = -1  # "the current model" is now another family: this side takes its own family again
            combo.setCurrentIndex(index if index >= 0 else self._default_index(side, offered))
            combo.blockSignals(False)
        self.missing_row.setVisible(encoder is None and not self._has_choice("encoder"))
        self._set_three(self._has_choice("encoder-decoder"))

    def _set_three(self, three: bool) -> None:
        """Three sides (the tab becomes "Three families") when an encoder-decoder is offered, else two."""
        self.missing_third_row.setVisible(not three and self.missing_row.isHidden())
        self.side_labels[2].setVisible(three)
        self.choices[2].setVisible(three)
        self.notes[2].setVisible(three)
        self.side_labels[1].setText("Middle" if three else "Right")
        if three == self.three:
            return
        self.three = three
        self.intro.setText(INTRO_THREE if three else INTRO)
        if len(self._heatmaps) > 2:
            self._heatmaps[2].setVisible(three)
        self.title_changed.emit(TITLES[three], TIPS[three])

    def _on_checkpoint(self, _checkpoint) -> None:
        """A new current model: offer it, and look again where a side shows the current model."""
        self.fill_choices(model_changed=True)
        if any(combo.currentData() == CURRENT for combo in self.chosen_combos()):
            if self.isVisible():
                self.look()
            else:
                self.result = None  # looked at again when shown

    def _default_index(self, side: int, offered: list[tuple[str, str, str]]) -> int:
        """Each side the first model of its family offered (the current model, else the demo), if any."""
        for i, (_, _, family) in enumerate(offered):
            if family == FAMILY_OF_SIDE[side]:
                return i
        return 0 if offered else len(offered)

    def _has_choice(self, family: str) -> bool:
        """Whether a model of `family` is offered (a folder of unknown family counts on its own side)."""
        side = FAMILY_OF_SIDE.index(family)
        combo = self.choices[side]
        for i in range(combo.count() - 1):
            known = combo.itemData(i, KIND_ROLE)
            if known == family or (not known and combo.itemData(i) == combo.currentData()):
                return True
        return False

    def chosen_combos(self) -> list:
        return self.choices[: 3 if self.three else 2]

    def _on_choice(self, side: int, index: int) -> None:
        if self.choices[side].itemData(index) == CHOOSE:
            self.choose_folder(side)
        else:
            self.look()

    def choose_folder(self, side: int) -> None:
        """Ask for a model folder for `side` (a file dialog)."""
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder (a run, or its best/last)")
        if folder:
            self.set_folder(side, folder)
        else:
            self.fill_choices()  # no folder: the side goes back to its default model

    def set_folder(self, side: int, folder) -> None:
        """Put the model in `folder` on `side` and look."""
        folder = str(folder)
        combo = self.choices[side]
        index = combo.findData(folder)
        if index < 0:
            combo.insertItem(combo.count() - 1, f"Folder: {Path(folder).name}", folder)
            index = combo.findData(folder)
        combo.setCurrentIndex(index)
        if side == 2:
            self._set_three(True)
        self.look()

    def chosen(self) -> list:
        """The `ModelChoice` of each side (None where nothing is chosen)."""
        from playground.core.attention_jobs import ModelChoice

        out: list[Optional[ModelChoice]] = []
        for combo in self.chosen_combos():
            data = combo.currentData()
            if data is None or data == CHOOSE:
                out.append(None)
            else:
                out.append(ModelChoice(combo.currentText(), None if data == CURRENT else data))
        return out

    # ------------------------------------------------------------------ looking

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.result is None and not self.slot.busy:
            self.look()

    def look(self) -> Optional[Job]:
        """Run both models over the sentence in a job (a newer look replaces a running one)."""
        self._timer.stop()
        choices = self.chosen()
        if any(c is None for c in choices):
            self.status.setText("Choose a model for each side: the demo models, the current model or a folder.")
            return None
        from playground.core.attention_jobs import look_side_by_side

        self.status.setText("Looking…")
        job = Job(
            look_side_by_side,
            self.session.models,
            self.session.checkpoint,
            tuple(choices),
            self.text_edit.text(),
            self.folders,
            doing="comparing a decoder's and an encoder's attention",
        )
        job.result.connect(self._on_result)
        job.error.connect(self._on_error)
        return self.slot.start(job)

    def _on_result(self, result) -> None:
        self.result = result
        families = [family_of_snapshot(side) for side in result.sides]
        if len(set(families)) < len(families):
            names = " and ".join(dict.fromkeys(f"{f}s" for f in families))
            self.status.setText(f"Two sides show {names}: choose one of each family to see each shape.")
        else:
            self.status.setText("Hover over a cell to read its weight.")
        if "encoder" in families:
            self.missing_row.hide()  # an encoder is on view: nothing missing
        n_layer = max(side.snapshot.weights.shape[0] for side in result.sides)
        n_head = max(side.snapshot.weights.shape[1] for side in result.sides)
        for spin, n in ((self.layer, n_layer), (self.head, n_head)):
            spin.blockSignals(True)
            spin.setRange(0, max(0, n - 1))
            spin.blockSignals(False)
        self._draw()

    def _on_error(self, message: str) -> None:
        self.status.setText(message)

    @property
    def heatmaps(self) -> list:
        """The heatmaps on view, one a side (made on first use)."""
        return self._heatmaps[: len(self.result.sides) if self.result is not None else 0]

    def _ensure_heatmaps(self, n: int) -> None:
        from playground.ui.widgets.heatmap import AttentionHeatmap

        while len(self._heatmaps) < n:
            heatmap = AttentionHeatmap()
            heatmap.setMinimumSize(160, 160)
            heatmap.hovered.connect(self._on_hover)
            self.views.addWidget(heatmap, 1)
            self._heatmaps.append(heatmap)
        for i, heatmap in enumerate(self._heatmaps):
            heatmap.setVisible(i < n)
            heatmap.show_colour_bar(n < 3 or i == n - 1)  # three abreast share the last one's: more room

    def _on_hover(self, text: str) -> None:
        if text:
            self.status.setText(text)

    def _draw(self) -> None:
        if self.result is None:
            return
        from playground.core.attention import select
        from playground.core.attention_jobs import nearest_head

        self._ensure_heatmaps(len(self.result.sides))
        head = "mean" if self.mean.isChecked() else self.head.value()
        for side, heatmap, note in zip(self.result.sides, self.heatmaps, self.notes):
            layer, use_head, nearer = nearest_head(side.snapshot, self.layer.value(), head)
            matrix = select(side.snapshot.weights, layer, use_head)
            family = family_of_snapshot(side)
            what = "mean of the heads" if use_head == "mean" else f"head {use_head}"
            title = f"{side.name} ({READS[family]}) · layer {layer}, {what}"
            if len(self.result.sides) == 3:  # three abreast: short titles (the models are named above)
                title = SHAPES[family]
            heatmap.set_matrix(
                matrix,
                side.snapshot.tokens,
                title,
                causal=side.snapshot.causal,
                key_tokens=side.snapshot.key_tokens,
            )
            note.setText(" ".join(t for t in (nearer, side.snapshot.notice) if t))

    def matrices(self) -> list:
        """What each heatmap shows now ([T, T], NaN where a decoder's mask covers the cells above the diagonal;
        an encoder-decoder's [T, S] rectangle)."""
        return [heatmap.image for heatmap in self.heatmaps]

    def is_busy(self) -> bool:
        return self.slot.any_not_done

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        self._timer.stop()
        return self.slot.stop_and_wait(timeout_ms)
