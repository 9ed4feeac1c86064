"""The token embeddings on a map: each token's vector projected onto the two directions in which
the vectors differ most (PCA), a search for a token, and its nearest neighbours by cosine similarity.

`playground.core.embeddings.compute_embedding_map` does the heavy part (in a
job); the `EmbeddingView` widget draws what it returns and answers searches.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.embeddings import EmbeddingMap
from playground.ui.themes import colour, follow_look, font_scale, qcolour, themed_style, themed_text
from playground.ui.type_scale import OWNER_SCALES
from playground.ui.widgets.number_item import NumberItem
from playground.ui.widgets.table_cells import header_cell

N_FEATURED = 24  # common whole words labelled on the map (where they do not crowd each other)
LABEL_SPACING = 0.05  # labels at least this share of the map's width apart
N_NEIGHBOURS = 10
HOVER_PIXELS = 9  # the mouse names a point this close to it


class EmbeddingView(QWidget):
    """A scatter of every token's vector (PCA), a token search and the chosen token's neighbours."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.data: Optional[EmbeddingMap] = None
        self.chosen: Optional[int] = None
        self.neighbours: list[tuple[int, float]] = []
        self.hovered: Optional[int] = None
        self._by_text: dict[str, int] = {}
        self._by_label: dict[str, int] = {}
        self._by_lower: dict[str, int] = {}

        self.plot_widget = pg.PlotWidget(background=colour("paper"))  # paper, like the heatmaps
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for edge in ("left", "bottom"):
            axis = self.plot.getAxis(edge)
            axis.setPen(pg.mkPen(colour("paper_muted")))
            axis.setTextPen(pg.mkPen(colour("paper_text")))
        self.plot.getViewBox().setAspectLocked(True)
        self.title = QLabel()
        self.title.setWordWrap(True)  # a long model name must not widen the step
        themed_style(self.title, "color: {body}; font-weight: 600;")
        self.points = pg.ScatterPlotItem(
            size=5, pen=None, brush=pg.mkBrush(qcolour("paper_point", alpha=70)), pxMode=True
        )
        self.featured_points = pg.ScatterPlotItem(
            size=6, pen=None, brush=pg.mkBrush(qcolour("paper_featured", alpha=200))
        )
        self.links = pg.PlotDataItem(pen=pg.mkPen(qcolour("picked_edge", alpha=90), width=1), connect="pairs")
        self.neighbour_points = pg.ScatterPlotItem(
            size=10, pen=pg.mkPen(colour("paper"), width=1), brush=pg.mkBrush(colour("picked_edge"))
        )
        self.chosen_point = pg.ScatterPlotItem(
            size=15, pen=pg.mkPen(colour("paper"), width=1.5), brush=pg.mkBrush(colour("heat_5")), symbol="star"
        )
        self.hover_point = pg.ScatterPlotItem(size=13, pen=pg.mkPen(colour("paper_select"), width=2), brush=None)
        for item in (
            self.points,
            self.featured_points,
            self.links,
            self.neighbour_points,
            self.chosen_point,
            self.hover_point,
        ):
            self.plot.addItem(item)
        self._label_items: list[pg.TextItem] = []
        self._labels_wanted: list[tuple[int, str]] = []
        follow_look(self, lambda: self._set_labels(self._labels_wanted))  # presentation mode: bigger names
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.readout = QLabel("Hover over a point to see its token; click one to choose it.")
        self.readout.setWordWrap(True)
        themed_style(self.readout, "color: {muted};")

        # ---- the right-hand column: search and neighbours
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("a token, e.g. the")
        self.search_box.setToolTip(
            "Type a token's text and press Enter. A leading space matters: ' the' "
            "(written ␣the) is the word, 'the' may be part of another word."
        )
        self.search_box.setClearButtonEnabled(True)
        self.completer_model = QStringListModel()
        completer = QCompleter(self.completer_model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        completer.activated.connect(self.search)
        self.search_box.setCompleter(completer)
        self.search_box.returnPressed.connect(lambda: self.search(self.search_box.text()))
        self.chosen_label = QLabel("No token chosen.")
        self.chosen_label.setWordWrap(True)
        self.neighbour_table = QTableWidget(0, 3)
        self.neighbour_table.setHorizontalHeaderLabels(["Token", "Id", "Similarity"])
        tips = [
            "The neighbour's text (␣ is a space, ⏎ a line break).",
            "Its id in the vocabulary.",
            "Cosine similarity of the two vectors: 1 points the same way, 0 unrelated, -1 opposite.",
        ]
        for column, tip in enumerate(tips):
            header_cell(self.neighbour_table, column).setToolTip(tip)
        self.neighbour_table.verticalHeader().setVisible(False)
        self.neighbour_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.neighbour_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.neighbour_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.neighbour_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.neighbour_table.cellDoubleClicked.connect(self._neighbour_chosen)
        self.neighbour_table.setToolTip("Double-click a neighbour to choose it and see its own neighbours.")
        mono = QFont("DejaVu Sans Mono")
        self.neighbour_table.setFont(mono)
        hint = QLabel(
            "Tokens the model uses alike get similar vectors: close on the map and high in this "
            "list. The map keeps only the two directions in which the vectors differ most, so "
            "closeness on it is approximate; the list measures all of them. A tight clump far from "
            "the rest is usually tokens training never showed the model (rare bytes): their vectors "
            "stayed where they started."
        )
        hint.setWordWrap(True)
        themed_style(hint, "color: {muted}; font-size: 9pt;")

        side = QWidget()
        side.setMinimumWidth(250)
        side.setMaximumWidth(320)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(6, 0, 0, 0)
        sl.addWidget(QLabel("<b>Find a token</b>"))
        sl.addWidget(self.search_box)
        sl.addWidget(self.chosen_label)
        sl.addWidget(QLabel("<b>Nearest neighbours</b> (cosine similarity)"))
        sl.addWidget(self.neighbour_table, 1)
        sl.addWidget(hint)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.title)
        ll.addWidget(self.plot_widget, 1)
        ll.addWidget(self.readout)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left, 1)
        layout.addWidget(side)

    # ------------------------------------------------------------------ data

    def set_map(self, data: EmbeddingMap, choose: Optional[int] = None) -> None:
        """Show a new map; keeps the chosen token (by its text) when the new vocabulary has it."""
        previous = self.data.texts[self.chosen] if self.data is not None and self.chosen is not None else None
        self.data = data
        self._by_text, self._by_label, self._by_lower = {}, {}, {}
        for i, (text, label) in enumerate(zip(data.texts, data.labels)):
            if not text:
                continue
            self._by_text.setdefault(text, i)
            self._by_label.setdefault(label, i)
            self._by_lower.setdefault(text.strip().lower(), i)
        self.completer_model.setStringList(sorted(set(self._by_label), key=lambda s: (len(s), s)))
        self.points.setData(pos=data.coords)

        ex, ey = data.explained
        self.plot.setLabel("bottom", f"principal direction 1 ({ex:.1%} of the variance)")
        self.plot.setLabel("left", f"principal direction 2 ({ey:.1%} of the variance)")
        V, C = data.matrix.shape
        self.title.setText(
            f"Token embeddings{' of ' + data.name if data.name else ''}: {V:,} tokens, "
            f"each a vector of {C} numbers, seen from the two directions in which they differ most"
        )
        self.plot.getViewBox().autoRange(padding=0.05)
        if choose is None and previous is not None:
            choose = self._by_text.get(previous)
        if choose is None:
            choose = self.find_token(" the")
        if choose is None:
            choose = data.featured[0] if data.featured else 0
        self.choose(choose)

    def clear(self, message: str = "") -> None:
        self.data, self.chosen, self.neighbours = None, None, []
        for item in (self.points, self.featured_points, self.neighbour_points, self.chosen_point, self.hover_point):
            item.setData(pos=np.zeros((0, 2)))
        self.links.setData([], [])
        self._set_labels([])
        self.neighbour_table.setRowCount(0)
        self.chosen_label.setText("No token chosen.")
        self.title.setText(message)

    def find_token(self, query: str) -> Optional[int]:
        """The id of the token `query` names: its exact text, the word with a space before it, its shown
        label ('␣the'), or the same letters in any case; None when none matches."""
        if self.data is None or not query:
            return None
        for candidate in (
            self._by_text.get(query),
            self._by_text.get(" " + query),
            self._by_label.get(query),
            self._by_lower.get(query.strip().lower()),
        ):
            if candidate is not None:
                return candidate
        return None

    def search(self, query: str) -> bool:
        token = self.find_token(query)
        if token is None:
            themed_text(
                self.chosen_label,
                "<span style='color:{error}'>No token is written ‘{query}’.</span> "
                "Try another spelling, or pick one from the suggestions.",
                query=query,
            )
            return False
        self.choose(token)
        return True

    def choose(self, token_id: int) -> None:
        from playground.core.embeddings import nearest_neighbours

        if self.data is None or not 0 <= token_id < len(self.data.texts):
            return
        self.chosen = token_id
        self.neighbours = nearest_neighbours(self.data.matrix, token_id, N_NEIGHBOURS)
        coords = self.data.coords
        ids = [i for i, _ in self.neighbours]
        self.chosen_point.setData(pos=coords[[token_id]])
        self.neighbour_points.setData(pos=coords[ids] if ids else np.zeros((0, 2)))
        pairs = np.empty((2 * len(ids), 2), dtype=np.float32)
        pairs[0::2] = coords[token_id]
        pairs[1::2] = coords[ids] if ids else pairs[1::2]
        self.links.setData(pairs[:, 0], pairs[:, 1])
        label = self.data.labels[token_id]
        themed_text(
            self.chosen_label,
            "<span style='color:{heat_5}; font-size: 12pt'>★</span> <b>‘{label}’</b> (id {token_id})",
            label=label,
            token_id=str(token_id),
        )
        self.neighbour_table.setSortingEnabled(False)
        self.neighbour_table.setRowCount(len(self.neighbours))
        for row, (i, similarity) in enumerate(self.neighbours):
            self.neighbour_table.setItem(row, 0, QTableWidgetItem(self.data.labels[i]))
            self.neighbour_table.setItem(row, 1, NumberItem(i, str(i)))
            self.neighbour_table.setItem(row, 2, NumberItem(similarity, f"{similarity:+.3f}"))
        highlighted = [token_id] + ids
        self._set_labels(
            [(token_id, "chosen")]
            + [(i, "neighbour") for i in ids]
            + [(i, "featured") for i in self._spread(self.data.featured, highlighted)]
        )

    def _spread(self, candidates: list[int], taken: list[int]) -> list[int]:
        """Up to N_FEATURED of `candidates`, in order, each far enough from the others and from `taken`."""
        assert self.data is not None  # choose() has a map
        coords = self.data.coords
        scale = float(np.ptp(coords, axis=0).max()) or 1.0
        placed = [coords[i] / scale for i in taken]
        chosen: list[int] = []
        for i in candidates:
            if len(chosen) >= N_FEATURED:
                break
            if i in taken:
                continue
            p = coords[i] / scale
            if all(abs(p[0] - q[0]) > 2 * LABEL_SPACING or abs(p[1] - q[1]) > LABEL_SPACING / 2 for q in placed):
                chosen.append(i)
                placed.append(p)
        return chosen

    def _set_labels(self, wanted: list[tuple[int, str]]) -> None:
        """Name these points on the map (reusing text items)."""
        self._labels_wanted = wanted
        while len(self._label_items) < len(wanted):
            item = pg.TextItem(anchor=(0, 1))
            setattr(item, OWNER_SCALES, True)  # sized below, with the font scale
            self.plot.addItem(item, ignoreBounds=True)
            self._label_items.append(item)
        style = {
            "chosen": ("heat_5", True, 11),
            "neighbour": ("paper_neighbour", False, 9.5),
            "featured": ("paper_featured", False, 8.5),
        }
        featured = [i for i, kind in wanted if kind == "featured"]
        data = self.data
        self.featured_points.setData(pos=data.coords[featured] if data is not None and featured else np.zeros((0, 2)))
        for item, (i, kind) in zip(self._label_items, wanted):
            assert data is not None  # only a map has points to name (clear() names none)
            role, bold, size = style[kind]
            font = QFont("DejaVu Sans")
            font.setPointSizeF(size * font_scale())
            font.setBold(bold)
            item.setFont(font)
            item.setColor(qcolour(role))
            item.setText(data.labels[i])
            item.setPos(*data.coords[i])
            item.setZValue({"chosen": 22, "neighbour": 21, "featured": 20}[kind])
            item.show()
        for item in self._label_items[len(wanted) :]:
            item.hide()

    # ------------------------------------------------------------------ mouse

    def point_at(self, scene_pos) -> Optional[int]:
        vb = self.plot.getViewBox()
        if self.data is None or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        px, py = vb.viewPixelSize()
        if px <= 0 or py <= 0:
            return None
        coords = self.data.coords
        d2 = ((coords[:, 0] - point.x()) / px) ** 2 + ((coords[:, 1] - point.y()) / py) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= HOVER_PIXELS**2 else None

    def _mouse_moved(self, scene_pos) -> None:
        i = self.point_at(scene_pos)
        if i == self.hovered:
            return
        self.hovered = i
        if i is None:
            self.hover_point.setData(pos=np.zeros((0, 2)))
            self.readout.setText("Hover over a point to see its token; click one to choose it.")
            return
        assert self.data is not None  # point_at() found a point of the map
        self.hover_point.setData(pos=self.data.coords[[i]])
        text = f"‘{self.data.labels[i]}’ (id {i})"
        if self.chosen is not None and i != self.chosen:
            a, b = self.data.matrix[i], self.data.matrix[self.chosen]
            cos = float(a @ b / max(1e-12, float(np.linalg.norm(a) * np.linalg.norm(b))))
            text += f": similarity to ‘{self.data.labels[self.chosen]}’ {cos:+.3f}"
        self.readout.setText(text)
        self.plot_widget.setToolTip(text)

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        i = self.point_at(event.scenePos())
        if i is not None:
            self.choose(i)

    def _neighbour_chosen(self, row: int, column: int) -> None:
        item = self.neighbour_table.item(row, 1)
        if isinstance(item, NumberItem):
            self.choose(int(item.value))
