"""File ▸ workspaces: a saved workspace reopens in a new window with every panel as it was; autosave,
recent workspaces, New, and the .zip exchange through the window."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from playground.core.corpus import default_corpus
from playground.engine.session import Session

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


@pytest.fixture
def make_window(qtbot):
    from playground.ui.main_window import MainWindow
    from playground.ui.workspace_menu import install_workspace_menu

    def make(session: Session):
        window = MainWindow(session)
        qtbot.addWidget(window)
        window.show()
        return window, install_workspace_menu(window)

    return make


def settle(qtbot, *windows) -> None:
    """Wait until no panel has a job running or about to start (a hidden Attention step only notes
    what to look at, and looks once it is shown)."""

    def quiet() -> bool:
        return all(
            not w.attention_panel.is_busy()
            and not w.attention_panel._capture_timer.isActive()
            and not w.generate_panel.is_busy()
            for w in windows
        )

    qtbot.waitUntil(quiet, timeout=60_000)


@pytest.fixture
def demo_session():
    """A session with the built-in corpus (not scanned: no job), a tokenizer and the demo model."""
    from playground.core.checkpoints import load_checkpoint
    from playground.core.tokenization import open_tokenizer

    session = Session()
    session.set_corpus(default_corpus(), None)
    tok = open_tokenizer(DEMO / "tokenizer.json")
    tok.name = "demo tokenizer"
    session.add_tokenizer(tok)
    session.set_checkpoint(*load_checkpoint(DEMO))
    return session


def test_a_saved_workspace_reopens_every_panel_in_a_new_window(qtbot, tmp_path, make_window, demo_session):
    w1, c1 = make_window(demo_session)
    build, train, prompt = w1.build_panel, w1.training_panel, w1.prompt_panel
    build.preset.setCurrentIndex(build.preset.findData("small"))
    build.set_flavour("llama")
    build.batch_size.setValue(24)
    train.steps.setValue(321)
    train.lr.setValue(0.002)
    w1.tokenizer_panel.vocab_size.setValue(3000)
    prompt.mode_combo.setCurrentIndex(prompt.mode_combo.findData("zero-shot"))
    prompt.query_edit.setPlainText("A question of my own")
    prompt.send()  # the Generate step keeps the sent template, and shows itself
    demo_session.set_probe_text("The probe sentence here.")
    attention = w1.attention_panel
    attention.text_edit.setPlainText("Look at this text.")
    attention.select_head(2, 3)
    generate = w1.generate_panel
    assert w1.current_panel() is generate  # shown by the sent prompt: its controls are filled
    generate.temperature.setValue(1.3)
    generate.prompt_edit.setPlainText("Once upon a time")
    settle(qtbot, w1)

    folder = tmp_path / "my workspace"
    assert c1.save_to(folder)
    assert not c1.is_dirty() and folder.name in w1.windowTitle()
    data = json.loads((folder / "workspace.json").read_text(encoding="utf-8"))
    assert data["version"] == 1 and data["runs"] == [{"name": "demo", "path": "app:models/demo"}]
    assert data["panels"]["build"]["preset"] == "small"
    assert (folder / "prompts" / "template.toml").is_file()

    session = Session()
    w2, c2 = make_window(session)
    assert w2.build_panel.preset.currentData() == "tiny" and session.checkpoint is None
    with qtbot.waitSignal(c2.opened, timeout=60_000):
        assert c2.open(folder)
    settle(qtbot, w1, w2)

    assert session.corpus == default_corpus()
    assert [t.name for t in session.tokenizers] == ["demo tokenizer"] and session.tokenizer is session.tokenizers[0]
    assert session.checkpoint is not None and session.checkpoint.run_dir == DEMO
    assert session.probe_text == "The probe sentence here."
    b2 = w2.build_panel
    assert (b2.preset.currentData(), b2.flavour.currentData(), b2.batch_size.value()) == ("small", "llama", 24)
    assert session.model_config.n_layer == 4 and session.model_config.flavour == "llama"
    assert (w2.training_panel.steps.value(), w2.training_panel.lr.value()) == (321, pytest.approx(0.002))
    assert w2.tokenizer_panel.vocab_size.value() == 3000
    assert w2.prompt_panel.mode_combo.currentData() == "zero-shot"
    assert w2.prompt_panel.template() == prompt.template()
    assert session.prompt == demo_session.prompt and session.prompt.input == "A question of my own"
    assert f"Template:</b> {session.prompt.name}" in w2.generate_panel.template_label.text()
    assert w2.generate_panel.temperature.value() == pytest.approx(1.3)
    assert w2.generate_panel.prompt_edit.toPlainText() == "Once upon a time"
    assert w2.current_panel() is w2.generate_panel
    a2 = w2.attention_panel
    assert (a2.text_edit.toPlainText(), a2.layer.value(), a2.head.value()) == ("Look at this text.", 2, 3)
    assert not c2.is_dirty() and c2.folder == folder.absolute()


def test_autosave_saves_changes_and_the_window_closing_does_too(qtbot, tmp_path, make_window):
    session = Session()
    window, controller = make_window(session)
    assert not controller.autosave()  # no workspace open: nothing to save
    folder = tmp_path / "ws"
    assert controller.save_to(folder, quiet=True)
    assert not controller.autosave()  # nothing changed

    window.training_panel.steps.setValue(777)
    assert controller.is_dirty() and controller.autosave()
    saved = json.loads((folder / "workspace.json").read_text(encoding="utf-8"))
    assert saved["panels"]["train"]["train_config"]["max_steps"] == 777
    assert controller.timer.isActive() and controller.timer.interval() == 60_000

    window.training_panel.steps.setValue(888)
    window.close()
    saved = json.loads((folder / "workspace.json").read_text(encoding="utf-8"))
    assert saved["panels"]["train"]["train_config"]["max_steps"] == 888


def test_a_panel_built_after_a_workspace_opened_gets_its_state(qtbot, tmp_path, make_window, monkeypatch):
    """Panels are built when first shown: the state of one not built yet waits for it, and is saved as is."""
    import playground.ui.main_window as main_window

    monkeypatch.setattr(main_window, "IDLE_BUILD_START_MS", 3_600_000)  # no building in the background here
    w1, c1 = make_window(Session())
    w1.training_panel.steps.setValue(444)
    folder = tmp_path / "ws"
    assert c1.save_to(folder, quiet=True)

    w2, c2 = make_window(Session())
    with qtbot.waitSignal(c2.opened, timeout=60_000):
        assert c2.open(folder)
    assert "Train" not in [panel.title for panel in w2.built_panels()]
    assert c2.panel_states()["train"]["train_config"]["max_steps"] == 444  # kept while the panel waits
    assert not c2.is_dirty()
    assert w2.training_panel.steps.value() == 444  # given to it when built
    assert not c2.is_dirty()
    assert "Evaluate" not in [panel.title for panel in w2.built_panels()]
    assert w2.evaluate_panel is not None and not c2.is_dirty()  # a panel the file has no state for: defaults


def test_file_menu_holds_the_workspace_actions_and_recent_list(qtbot, tmp_path, make_window):
    from PySide6.QtCore import QSettings

    from playground.ui.workspace_menu import install_workspace_menu

    window, controller = make_window(Session())
    assert install_workspace_menu(window) is controller  # once per window
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and a.text() == "&File")
    texts = [a.text() for a in file_menu.actions() if not a.isSeparator()]
    assert texts[:7] == [
        "&New workspace…",
        "&Open workspace…",
        "&Recent workspaces",
        "&Save workspace",
        "Save workspace &as…",
        "&Export workspace as .zip…",
        "I&mport workspace from .zip…",
    ]
    assert texts.index("I&mport workspace from .zip…") < texts.index("&Import a Hugging Face model…")
    assert controller.save_action.shortcut().toString() == "Ctrl+Alt+S"

    folder = tmp_path / "ws"
    controller.save_to(folder, quiet=True)
    assert controller.recent()[0] == folder.absolute()
    assert QSettings().value("workspaces/version", 0, int) == 1
    controller._fill_recent_menu()
    assert controller.recent_menu.actions()[0].toolTip() == str(folder.absolute())

    QSettings().setValue("workspaces/version", 99)  # a newer app's list is not misread
    assert controller.recent() == []
    controller.clear_recent()
    assert QSettings().value("workspaces/version", 0, int) == 1 and controller.recent() == []


def test_new_workspace_starts_afresh(qtbot, tmp_path, make_window, demo_session):
    window, controller = make_window(demo_session)
    window.build_panel.set_preset("small")
    window.generate_panel.prompt_edit.setPlainText("Something")
    (tmp_path / "notes.txt").write_text("mine")
    assert not controller.new_workspace(tmp_path)  # not empty: refused
    folder = tmp_path / "fresh"
    with qtbot.waitSignal(controller.opened, timeout=60_000):
        assert controller.new_workspace(folder)
    settle(qtbot, window)
    assert demo_session.tokenizers == [] and demo_session.checkpoint.run_dir == DEMO
    assert window.build_panel.preset.currentData() == "tiny"
    assert window.generate_panel.prompt_edit.toPlainText() == ""
    assert (folder / "workspace.json").is_file() and not controller.is_dirty()


def test_export_and_import_through_the_window(qtbot, tmp_path, make_window, jobs):
    session = Session()
    window, controller = make_window(session)
    assert controller.export_zip(tmp_path / "none.zip") is None  # nothing open yet
    window.build_panel.set_preset("small")
    controller.save_to(tmp_path / "ws", quiet=True)
    zip_path = tmp_path / "ws.zip"
    assert controller.export_zip(zip_path) is not None
    jobs.wait(qtbot, 30_000)
    with zipfile.ZipFile(zip_path) as zf:
        assert "workspace.json" in zf.namelist()

    other = Session()
    w2, c2 = make_window(other)
    with qtbot.waitSignal(c2.opened, timeout=30_000):
        c2.import_zip(zip_path, tmp_path / "imported")
    assert c2.folder == (tmp_path / "imported").absolute()
    assert w2.build_panel.preset.currentData() == "small"

    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zf:
        zf.writestr("workspace.json", json.dumps({"format": "llm-playground-workspace", "version": 1}))
        zf.writestr("../escaped.txt", "x")
    before = sorted(p.name for p in tmp_path.iterdir())
    with qtbot.waitSignal(other.message, timeout=30_000) as message:
        c2.import_zip(hostile, tmp_path / "evil")
    jobs.wait(qtbot, 30_000)
    assert message.args[0] == "error" and "refused" in message.args[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_broken_workspace_gives_a_message_and_changes_nothing(qtbot, tmp_path, make_window):
    session = Session()
    window, controller = make_window(session)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "workspace.json").write_text('{"format": "llm-playground-workspace", "version": 7}')
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    assert not controller.open(tmp_path / "ws")
    assert messages[-1][0] == "error" and "newer version" in messages[-1][1]
    assert controller.folder is None


def test_splitter_layout_is_kept_between_windows(qtbot, make_window):
    from PySide6.QtWidgets import QSplitter

    window, controller = make_window(Session())
    splitter = window.prompt_panel.findChildren(QSplitter)[0]
    splitter.setSizes([100, 500])
    wanted = splitter.sizes()
    controller.save_layout()
    w2, _ = make_window(Session())
    assert w2.prompt_panel.findChildren(QSplitter)[0].sizes() == wanted


def test_a_template_opened_from_a_file_comes_back_as_the_workspace_s_own(qtbot, tmp_path, make_window):
    from playground.core.prompts import PromptTemplate, save_template

    window, controller = make_window(Session())
    save_template(PromptTemplate(name="My task", instruction="Do it.", mode="one-shot"), tmp_path / "task.toml")
    assert window.prompt_panel.open_template(tmp_path / "task.toml")
    window.prompt_panel.instruction_edit.setPlainText("Do it well.")
    controller.save_to(tmp_path / "ws", quiet=True)

    w2, c2 = make_window(Session())
    with qtbot.waitSignal(c2.opened, timeout=30_000):
        c2.open(tmp_path / "ws")
    panel = w2.prompt_panel
    assert panel.template() == window.prompt_panel.template()
    assert panel.template_combo.currentData() == f"file:{(tmp_path / 'ws' / 'prompts' / 'template.toml').resolve()}"


def test_a_damaged_model_gives_a_message_and_no_model(qtbot, tmp_path, make_window, demo_session):
    import shutil

    from playground.core.checkpoints import load_checkpoint

    run = tmp_path / "runs" / "my-run"
    shutil.copytree(DEMO, run)
    demo_session.set_checkpoint(*load_checkpoint(run))
    window, controller = make_window(demo_session)
    with qtbot.waitSignal(controller.saved, timeout=30_000):  # the run is copied in a job first
        controller.save_to(tmp_path / "ws", quiet=True)
    weights = tmp_path / "ws" / "runs" / "my-run" / "best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # cut short, as by a failed copy

    session = Session()
    session.set_checkpoint(demo_session.checkpoint)  # the model of the workspace being left
    w2, c2 = make_window(session)
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    with qtbot.waitSignal(c2.opened, timeout=30_000):
        c2.open(tmp_path / "ws")
    settle(qtbot, window, w2)
    assert session.checkpoint is None
    assert any(level == "error" and "damaged" in text for level, text in messages)


@pytest.fixture
def finished_run(tmp_path) -> Path:
    """A training run just finished, made with the core training API (a tiny model, a few steps)."""
    import torch

    from playground.core.config import ModelConfig
    from playground.core.corpus import corpus_from_text
    from playground.core.data import encode_corpus, split_tokens
    from playground.core.progress import run_quietly
    from playground.core.tokenization import open_tokenizer
    from playground.core.training import TrainConfig, TrainingRun

    text = "\n".join(
        f"The {w} sat on the mat number {i}, and then the {w} slept."
        for i, w in enumerate(["cat", "dog", "bird", "fish", "horse", "mouse"] * 40)
    )
    tokenizer = open_tokenizer(DEMO / "tokenizer.json")
    data = split_tokens(run_quietly(encode_corpus(corpus_from_text(text), tokenizer)))
    config = ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    train = TrainConfig(
        batch_size=4, max_steps=6, eval_interval=3, eval_batches=1, sample_interval=0, warmup_steps=1, device="cpu"
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = TrainingRun(config, train, tokenizer, data, tmp_path / "runs" / "tiny")
        assert list(run.steps())[-1].reason == "finished"
    finally:
        torch.set_num_threads(threads)
    return run.run_dir


def test_autosave_after_a_training_run_copies_the_run_without_freezing_the_window(
    qtbot, tmp_path, make_window, finished_run, watchdog, monkeypatch
):
    """The first autosave after a run copies it into the workspace: in a job, so the window keeps drawing."""
    import shutil
    import time
    from types import SimpleNamespace

    import playground.core.workspace as workspace
    from playground.core.checkpoints import load_checkpoint

    session = Session()
    window, controller = make_window(session)
    folder = tmp_path / "ws"
    assert controller.save_to(folder, quiet=True)
    session.set_training(True)
    session.set_checkpoint(*load_checkpoint(finished_run))
    assert controller.autosave()  # while it trains, the run is named where it is, not copied
    assert not (folder / "runs").exists()
    session.set_training(False)

    def slow_copy(src, dst):  # a slow disk: on the GUI thread each file would freeze the window this long
        time.sleep(0.3)
        return shutil.copy2(src, dst)

    monkeypatch.setattr(workspace, "shutil", SimpleNamespace(copy2=slow_copy))
    watchdog.reset()
    with qtbot.waitSignal(controller.saved, timeout=60_000):
        assert controller.autosave()
    watchdog.assert_smooth("autosaving the first time after a training run")

    data = json.loads((folder / "workspace.json").read_text(encoding="utf-8"))
    assert data["runs"] == [{"name": "tiny", "path": "runs/tiny"}] and data["checkpoint"]["run"] == "tiny"
    assert (folder / "runs" / "tiny" / "best" / "model.safetensors").is_file()
    assert not controller.is_dirty() and not controller.copying.busy


def test_a_workspace_saved_before_panel_states_had_versions_opens(qtbot, tmp_path, make_window):
    w1, c1 = make_window(Session())
    w1.build_panel.set_preset("small")
    w1.training_panel.steps.setValue(432)
    folder = tmp_path / "ws"
    assert c1.save_to(folder, quiet=True)
    path = folder / "workspace.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["panels"]["build"]["version"] == 1
    for state in data["panels"].values():  # as an app from before panel versions wrote it
        state.pop("version")
    path.write_text(json.dumps(data), encoding="utf-8")

    w2, c2 = make_window(Session())
    with qtbot.waitSignal(c2.opened, timeout=60_000):
        assert c2.open(folder)
    assert w2.build_panel.preset.currentData() == "small" and w2.training_panel.steps.value() == 432
    assert c2.save_to(folder, quiet=True)
    assert json.loads(path.read_text(encoding="utf-8"))["panels"]["train"]["version"] == 1
