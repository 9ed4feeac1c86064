"""The session: what the person is working on, shared by every panel.

Panels read it and listen to its signals; none of them calls another panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QObject, Signal

from playground.engine.models import ModelStore

if TYPE_CHECKING:  # types only: the window paints before numpy and tokenizers load
    from playground.core.attention_records import AttentionSoFar
    from playground.core.checkpoints import Checkpoint
    from playground.core.config import ModelConfig
    from playground.core.corpus import Corpus, CorpusStats
    from playground.core.devices import DeviceInfo
    from playground.core.prompts import PromptTemplate
    from playground.core.tokenization import LoadedTokenizer


DEFAULT_PROBE_TEXT = "The cat sat on the mat. The cat sat on the mat."


@dataclass
class GeneratedText:
    """What the Generate panel has so far: the ids the model read or wrote, and their texts.

    attention: where every head looked over the last `attention.length` ids, handed
        over by the generation's own forward passes; None when nobody asked for it
        (`Session.live_attention_wanted`) or it has not come yet.
    attention_follows: the generation hands attention over with each token, so a
        text without it (the prompt, before the first token) needs no model run.
    """

    checkpoint: Any
    ids: list[int]
    tokens: list[str]
    prompt_tokens: int  # how many of them are the prompt
    attention: Optional[AttentionSoFar] = None
    attention_follows: bool = False


class Session(QObject):
    corpus_changed = Signal(object)  # Corpus
    corpus_stats_changed = Signal(object)  # CorpusStats or None while unknown
    tokenizers_changed = Signal()  # the list grew or shrank
    tokenizer_changed = Signal(object)  # the current LoadedTokenizer (or None)
    device_changed = Signal(object)  # DeviceInfo
    model_config_changed = Signal(object)  # ModelConfig from the Build panel (may be invalid)
    checkpoint_changed = Signal(object)  # the current trained model: a Checkpoint (or None)
    training_changed = Signal(bool)  # a training run started (True) or ended (False)
    message = Signal(str, str)  # level ("error", "warning", "info"), text
    prompt_sent = Signal(object)  # a PromptTemplate the Prompt panel hands to Generate
    text_generated = Signal(object)  # GeneratedText: the Generate panel's text so far, after each token
    attention_probe = Signal(object)  # ProbeRecord: the probe sentence's attention during training
    probe_text_changed = Signal(str)  # the sentence training probes (edited in the Attention Lab)
    show_step = Signal(str)  # a panel asks the window to show another step ("generate", "train", ...)
    demo_loading_changed = Signal(bool)  # the demo model started (True) or stopped (False) loading
    batch_size_changed = Signal(int)  # one batch size: Build estimates with it, Train trains with it

    def __init__(self) -> None:
        super().__init__()
        self.corpus: Optional[Corpus] = None
        self.corpus_stats: Optional[CorpusStats] = None
        self.tokenizers: list[LoadedTokenizer] = []
        self.tokenizer: Optional[LoadedTokenizer] = None
        self.device: Optional[DeviceInfo] = None
        self.model_config: Optional[ModelConfig] = None
        self.model_config_ok = False  # True when the Build panel found no problem
        self.checkpoint: Optional[Checkpoint] = None
        self.training = False
        self.models = ModelStore()  # the checkpoint's weights, for Generate and Attention
        self.prompt: Optional[PromptTemplate] = None  # the last one sent to Generate
        self.probe_text = DEFAULT_PROBE_TEXT
        # The Attention Lab follows Generate live: generation then hands its attention over with each token.
        self.live_attention_wanted = False
        self.demo_loading = False  # a job loads the demo model (at start-up, or asked for by a page)
        self.batch_size = 16

    def set_corpus(self, corpus: Corpus, stats: Optional[CorpusStats]) -> None:
        self.corpus, self.corpus_stats = corpus, stats
        self.corpus_changed.emit(corpus)
        self.corpus_stats_changed.emit(stats)

    def add_tokenizer(self, tokenizer: LoadedTokenizer, make_current: bool = True) -> None:
        names = {t.name for t in self.tokenizers}
        base, n = tokenizer.name, 2
        while tokenizer.name in names:
            tokenizer.name = f"{base} ({n})"
            n += 1
        self.tokenizers.append(tokenizer)
        self.tokenizers_changed.emit()
        if make_current:
            self.set_tokenizer(tokenizer)

    def remove_tokenizer(self, tokenizer: LoadedTokenizer) -> None:
        self.tokenizers.remove(tokenizer)
        self.tokenizers_changed.emit()
        if self.tokenizer is tokenizer:
            self.set_tokenizer(self.tokenizers[-1] if self.tokenizers else None)

    def set_tokenizer(self, tokenizer: Optional[LoadedTokenizer]) -> None:
        self.tokenizer = tokenizer
        self.tokenizer_changed.emit(tokenizer)

    def set_model_config(self, config: ModelConfig, ok: bool) -> None:
        self.model_config, self.model_config_ok = config, ok
        self.model_config_changed.emit(config)

    def set_checkpoint(self, checkpoint, model=None) -> None:
        """Make `checkpoint` the current model; pass its `model` when it is loaded already."""
        if model is not None:
            self.models.offer(checkpoint, model)
        self.checkpoint = checkpoint
        self.checkpoint_changed.emit(checkpoint)

    def send_prompt(self, template) -> None:
        """Hand a prompt template to the Generate panel and ask the window to show it."""
        self.prompt = template
        self.prompt_sent.emit(template)
        self.show_step.emit("generate")

    def set_demo_loading(self, loading: bool) -> None:
        """Say that the demo model is (no longer) loading, so every 'Load the demo model' offer waits."""
        if loading != self.demo_loading:
            self.demo_loading = loading
            self.demo_loading_changed.emit(loading)

    def set_batch_size(self, size: int) -> None:
        if size != self.batch_size:
            self.batch_size = size
            self.batch_size_changed.emit(size)

    def set_probe_text(self, text: str) -> None:
        self.probe_text = text
        self.probe_text_changed.emit(text)

    def set_training(self, running: bool) -> None:
        self.training = running
        self.training_changed.emit(running)

    def set_device(self, device: DeviceInfo) -> None:
        self.device = device
        self.device_changed.emit(device)

    def error(self, text: str) -> None:
        self.message.emit("error", text)

    def warn(self, text: str) -> None:
        self.message.emit("warning", text)

    def info(self, text: str) -> None:
        self.message.emit("info", text)
