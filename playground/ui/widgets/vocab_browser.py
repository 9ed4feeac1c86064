"""A searchable table of a tokenizer's vocabulary, and its BPE merge list."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QLineEdit, QSplitter, QTableView, QVBoxLayout, QWidget

from playground.core.tokenization import LoadedTokenizer, VocabEntry
from playground.core.tokenizer_kinds import vocabulary_markers_note
from playground.ui.themes import qcolour
from playground.ui.widgets.token_view import byte_label, readable_bytes

ROOT = QModelIndex()  # the invalid index: "the table itself", the parent of its rows


class RowsModel(QAbstractTableModel):
    """A read-only table of rows (tuples), with numbers that sort as numbers."""

    def __init__(self, headers: list[str], tooltips: list[str]) -> None:
        super().__init__()
        self.headers, self.tooltips = headers, tooltips
        self.rows: list[tuple] = []
        self.special_rows: set[int] = set()

    def set_rows(self, rows: list[tuple], special_rows: Iterable[int] = frozenset()) -> None:
        self.beginResetModel()
        self.rows, self.special_rows = rows, set(special_rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:  # Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:  # Qt's name
        return len(self.headers)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        value = self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if value is None else (f"{value}" if isinstance(value, int) else value)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return -1 if value is None else value
        if role == Qt.ItemDataRole.ForegroundRole and index.row() in self.special_rows:
            return qcolour("special_token")  # read when drawn: it follows the look
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.headers[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.tooltips[section]
        return None


def make_table(model: RowsModel) -> tuple[QTableView, QSortFilterProxyModel]:
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.ItemDataRole.UserRole)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setFilterKeyColumn(-1)
    table = QTableView()
    table.setModel(proxy)
    # Rows arrive in id order; sorting 50,000 rows on every reset would freeze the
    # window, so a sort happens only when a header is clicked.
    header = table.horizontalHeader()
    header.setSortIndicatorShown(True)
    header.setSectionsClickable(True)
    header.sortIndicatorChanged.connect(lambda column, order: proxy.sort(column, order))
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setDefaultSectionSize(22)
    return table, proxy


class VocabBrowser(QWidget):
    """Vocabulary table (left) and merge list (right, BPE only), with one search box."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tokens, ids or bytes…  (e.g. ing, Ġthe, 20)")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filters both tables as you type; matches any column.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        self.vocab_model = RowsModel(
            ["id", "token", "text", "bytes", "merge rank"],
            [
                "The number the model sees for this token.",
                f"The entry as stored in tokenizer.json ({vocabulary_markers_note()}).",
                "The text the token stands for (spaces shown as ·; bytes that are only part of a character in hex, <E2 80>).",
                "The token's bytes in hexadecimal.",
                "For BPE: which merge made this token (0 = the first, most frequent pair).",
            ],
        )
        self.vocab_table, self.vocab_proxy = make_table(self.vocab_model)
        self.merge_model = RowsModel(
            ["rank", "left", "right", "result"],
            [
                "Order in which BPE learned the merge: lower ranks apply first.",
                "Left piece",
                "Right piece",
                "The new token the merge makes",
            ],
        )
        self.merge_table, self.merge_proxy = make_table(self.merge_model)
        self.merge_label = QLabel("<b>Merges</b> — how BPE built its tokens, in order")
        self.merge_label.setWordWrap(True)  # the two tables share a narrow tab on a small screen

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        vocab_label = QLabel("<b>Vocabulary</b> — every token the tokenizer knows")
        vocab_label.setWordWrap(True)
        lv.addWidget(vocab_label)
        lv.addWidget(self.vocab_table)
        self.merge_box = QWidget()
        rv = QVBoxLayout(self.merge_box)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.merge_label)
        rv.addWidget(self.merge_table)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.merge_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(lambda: self._filter(self.search.text()))
        self.search.textChanged.connect(self._search_timer.start)
        self.set_tokenizer(None)

    def set_tokenizer(self, tok: LoadedTokenizer | None) -> None:
        if tok is None:
            self.vocab_model.set_rows([])
            self.merge_model.set_rows([])
            self.summary.setText("No tokenizer yet: train one or open a tokenizer.json.")
            self.merge_box.hide()
            return
        entries: list[VocabEntry] = tok.vocabulary()
        rows = [(e.id, e.token, readable_bytes(e.raw), byte_label(e.raw), e.merge_rank) for e in entries]
        self.vocab_model.set_rows(rows, {i for i, e in enumerate(entries) if e.special})
        merges = tok.merges()
        self.merge_model.set_rows([(r, a, b, a + b) for r, (a, b) in enumerate(merges)])
        self.merge_box.setVisible(bool(merges))
        specials = sum(e.special for e in entries)
        self.summary.setText(
            f"<b>{tok.name}</b>: {tok.kind_label}, {len(entries):,} tokens "
            f"({specials} special, shown in purple)" + (f", {len(merges):,} merges." if merges else ".")
        )
        # Fixed widths: measuring 50,000 rows would freeze the window.
        for table, widths in ((self.vocab_table, (60, 105, 105, 125)), (self.merge_table, (55, 75, 75))):
            for column, width in enumerate(widths):
                table.setColumnWidth(column, width)

    def _filter(self, text: str) -> None:
        self.vocab_proxy.setFilterFixedString(text)
        self.merge_proxy.setFilterFixedString(text)
