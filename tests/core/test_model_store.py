"""The session's model store: every model on one device, however it arrived, and in eval mode."""

import pytest
import torch

from playground.core.config import ModelConfig
from playground.core.model import GPT
from playground.engine.models import ModelStore


class FakeCheckpoint:
    def __init__(self, path, step=1):
        self.path, self.step = path, step


@pytest.fixture
def model():
    config = ModelConfig.gpt2_style(vocab_size=64, context_length=8, n_layer=1, n_head=2, n_embd=16)
    return GPT.from_config(config, device="cpu")


def test_an_offered_model_moves_to_the_stores_device_and_into_eval_mode(model, monkeypatch):
    """A model handed over from training (in train mode, on the device it trained on) or imported
    goes where the store keeps its models before anyone uses it; offering it costs nothing."""
    store = ModelStore()
    moved_to = torch.device("meta")  # stands for a device other than the one the model came on
    monkeypatch.setattr(store, "device", lambda: moved_to)
    model.train()
    checkpoint = FakeCheckpoint("/runs/a/best")
    store.offer(checkpoint, model)
    assert next(model.parameters()).device.type == "cpu"  # offer moves nothing (the GUI thread calls it)
    got = store.model_for(checkpoint)
    assert got is model and {p.device for p in got.parameters()} == {moved_to} and not got.training
    assert store.model_for(checkpoint) is model  # kept, not moved or loaded again


def test_a_loaded_model_is_loaded_on_the_stores_device(model, monkeypatch):
    import playground.core.checkpoints as checkpoints

    store = ModelStore("cpu")
    asked = []

    def load(path, device="cpu", which="best"):
        asked.append(device)
        return None, model.eval()

    monkeypatch.setattr(checkpoints, "load_checkpoint", load)
    assert store.model_for(FakeCheckpoint("/runs/b/best")) is model
    assert asked == [torch.device("cpu")] == [store.device()]


def test_the_device_is_the_one_resolve_device_names():
    from playground.core.training import resolve_device

    assert ModelStore().device() == resolve_device("auto")
    assert ModelStore("cpu").device() == torch.device("cpu")
