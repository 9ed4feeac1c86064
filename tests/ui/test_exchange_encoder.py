"""File ▸ Export and Import for an encoder: a BERT folder both ways, with messages that fit an encoder."""

from pathlib import Path

import pytest

from playground.ui.exchange import export_model_to, free_folder, import_model_from

WORDS = "the cat sat on the mat and the dog slept on the red rug near the door of the house".split()


@pytest.fixture
def encoder(session, tmp_path):
    """A tiny untrained BERT-style run (WordPiece with the encoder's special tokens), made current."""
    import random

    import torch

    from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
    from playground.core.config import ModelConfig
    from playground.core.corpus import corpus_from_text
    from playground.core.model import GPT
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
    from playground.core.training import TrainConfig

    rng = random.Random(0)
    text = "\n".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(200))
    spec = spec_for_kind("wordpiece", vocab_size=80)
    tokenizer = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(text), spec)), spec=spec)
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=16)
    torch.manual_seed(0)
    folder = tmp_path / "tiny-bert"
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", GPT.from_config(config).eval(), {}, {"step": 1, "val_loss": 4.0})
    checkpoint, model = load_checkpoint(folder)
    session.set_checkpoint(checkpoint, model)
    return checkpoint


def test_an_encoder_exports_as_bert_and_imports_back_as_an_encoder(
    qtbot, session, encoder, tmp_path, monkeypatch, jobs
):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))

    out = free_folder(tmp_path / "tiny-bert-hf")
    export_model_to(session, out)
    jobs.wait(qtbot)
    assert '"BertForMaskedLM"' in (out / "config.json").read_text()
    level, text = messages[-1]
    assert level == "info" and f'AutoModelForMaskedLM.from_pretrained("{out}")' in text
    assert "CausalLM" not in text

    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000) as changed:
        import_model_from(session, out)
    jobs.wait(qtbot)
    imported = changed.args[0]
    assert imported.model_config.is_encoder
    assert imported.model_config.replace(dropout=encoder.model_config.dropout) == encoder.model_config
    level, text = messages[-1]
    assert level == "info" and "Imported tiny-bert-hf" in text
    assert "Fill the mask" in text and "Generate" not in text  # an encoder does not generate


def test_a_decoder_export_still_names_the_causal_loader(tmp_path):
    from playground.core.config import ModelConfig
    from playground.ui.exchange import loading_hint, steps_using

    gpt = ModelConfig.from_preset("tiny", 100)
    assert loading_hint(gpt, Path("x")) == 'AutoModelForCausalLM.from_pretrained("x")'
    assert steps_using(gpt).startswith("Generate")


def test_the_import_dialog_and_the_menu_name_bert(qtbot, session, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QWidget

    from playground.ui import exchange

    titles = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda parent, title, start: (titles.append(title), "")[1])
    parent = QWidget()
    qtbot.addWidget(parent)
    assert exchange.import_model(parent, session) is None  # cancelled
    assert "BERT" in titles[0] and "GPT-2" in titles[0]

    from playground.ui.main_window import MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    file_menu = window.menuBar().actions()[0].menu()
    tips = {a.text().replace("&", ""): a.toolTip() for a in file_menu.actions()}
    assert "BERT" in tips["Import a Hugging Face model…"] and "Fill the mask" in tips["Import a Hugging Face model…"]
    assert "BertForMaskedLM" in tips["Export the model for Hugging Face…"]
