"""File ▸ Import and Export: a Hugging Face folder becomes the current model, and the current model a folder."""

from pathlib import Path

import pytest

from playground.ui.exchange import export_model_to, free_folder, import_model_from

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


@pytest.fixture
def demo(session):
    from playground.core.checkpoints import load_checkpoint

    checkpoint, model = load_checkpoint(DEMO)
    session.set_checkpoint(checkpoint, model)
    return checkpoint


def test_export_then_import_makes_the_same_model_current(qtbot, session, demo, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))

    out = free_folder(tmp_path / "demo-hf")
    assert export_model_to(session, out) is not None
    jobs.wait(qtbot)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert messages[-1][0] == "info" and str(out) in messages[-1][1]
    assert free_folder(out) == tmp_path / "demo-hf-2"  # a second export never mixes with the first

    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000) as changed:
        import_model_from(session, out)
    jobs.wait(qtbot)
    imported = changed.args[0]
    assert imported.run_dir.parent == tmp_path / "runs"
    assert imported.model_config.replace(dropout=demo.model_config.dropout) == demo.model_config  # eval: no dropout
    assert "Imported demo-hf" in messages[-1][1]


def test_a_folder_that_is_not_a_model_gives_a_message_and_leaves_no_run(qtbot, session, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "pytorch_model.bin").write_bytes(b"not unpickled")
    with qtbot.waitSignal(session.message, timeout=30_000) as message:
        import_model_from(session, tmp_path / "weights")
    jobs.wait(qtbot)
    assert message.args[0] == "error" and "safetensors" in message.args[1]
    assert list((tmp_path / "runs").iterdir()) == []
    assert session.checkpoint is None


def test_the_dialogs_start_in_the_runs_folder_then_in_the_last_one_used(qtbot, session, demo, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QWidget

    from playground.ui import exchange

    runs, models = tmp_path / "runs", tmp_path / "downloads"
    (models / "gpt2").mkdir(parents=True)
    runs.mkdir()
    monkeypatch.setattr(exchange, "runs_dir", lambda: runs)
    monkeypatch.setattr(exchange, "import_model_from", lambda session, folder: None)
    monkeypatch.setattr(exchange, "export_model_to", lambda session, out: None)
    exchange.QSettings().remove(exchange.FOLDER_KEY)
    starts, answers = [], [str(models / "gpt2"), "", str(tmp_path)]
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", lambda parent, title, start: (starts.append(start), answers.pop(0))[1]
    )
    parent = QWidget()
    qtbot.addWidget(parent)

    exchange.import_model(parent, session)  # chooses downloads/gpt2
    exchange.import_model(parent, session)  # cancelled: nothing remembered
    exchange.export_model(parent, session)  # chooses tmp_path
    assert starts == [str(runs), str(models), str(models)]
    assert exchange.start_folder() == str(tmp_path)
