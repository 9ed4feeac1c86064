"""How the token view and the vocabulary show bytes that are only part of a character."""

from types import SimpleNamespace

from playground.core.tokenization import TokenPiece, VocabEntry
from playground.ui.widgets.token_view import TokenView, readable_bytes
from playground.ui.widgets.vocab_browser import VocabBrowser

SPACE_AND_HALF_EURO = b" \xe2\x80"  # a byte-level merge of ' ' with the first two bytes of '€'


def test_readable_bytes_keeps_whole_characters_as_text():
    assert readable_bytes(SPACE_AND_HALF_EURO) == "·<E2 80>"
    assert readable_bytes(b"\xac x") == "<AC>·x"
    assert readable_bytes("€ ok".encode()) == "€·ok"


def test_token_view_shows_a_merged_space_as_a_space(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    text = " €"
    pieces = [
        TokenPiece(0, 5, "Ġâ\x80", " €", SPACE_AND_HALF_EURO, 0, 2, partial=True),
        TokenPiece(1, 6, "¬", "€", b"\xac", 1, 2, partial=True),
    ]
    view.set_tokens(text, pieces)
    assert view.toPlainText() == "·<E2 80><AC>"
    view.set_show_whitespace(True)  # the hex keeps its spaces when whitespace is made visible
    assert view.toPlainText() == "·<E2 80><AC>"


def test_vocabulary_text_column_shows_a_merged_space_as_a_space(qtbot):
    entry = VocabEntry(7, "Ġâ\x80", SPACE_AND_HALF_EURO.decode("utf-8", "replace"), SPACE_AND_HALF_EURO, 3, False)
    tok = SimpleNamespace(name="t", kind_label="BPE", vocabulary=lambda: [entry], merges=lambda: [])
    browser = VocabBrowser()
    qtbot.addWidget(browser)
    browser.set_tokenizer(tok)
    model = browser.vocab_model
    assert model.data(model.index(0, 2)) == "·<E2 80>"
    assert model.data(model.index(0, 3)) == "20 E2 80"
