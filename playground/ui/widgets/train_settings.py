"""The Train step's settings column: data and model, optimisation, hardware.

Its controls are attributes (`batch`, `lr`, `steps`, `device`, ...), which
the Train panel shares under the same names; `config()` reads them into a
`TrainConfig`. The panel connects to them (readiness, the schedule plot, the
fine-tune buttons): this widget only lays them out, and shows what the run
would train on (`show_data`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from playground.core.config import ModelConfig
    from playground.core.corpus import Corpus
    from playground.core.tokenization import LoadedTokenizer


class TrainSettings(QWidget):
    """The training settings, one group box per kind."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        from playground.core.train_config import TrainConfig

        d = TrainConfig()
        cl = QVBoxLayout(self)

        data_box = QGroupBox("1 · Data and model")
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.val_fraction = self._dspin(
            0.01, 0.5, d.val_fraction, 0.05, 2, "Share of the corpus (its end) kept aside to measure validation loss."
        )
        self.start_from = QLabel("A new model with random weights")
        self.start_from.setWordWrap(True)
        self.pick_init = pick = QPushButton("Fine-tune a checkpoint…")
        pick.setToolTip(
            "Start from a trained model instead of random weights, and keep training it on the "
            "current corpus. It must use the same tokenizer."
        )
        self.clear_init = QPushButton("New model")
        self.clear_init.setToolTip("Start from random weights again.")
        self.clear_init.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(pick)
        row.addWidget(self.clear_init)
        self.mask_share = self._spin(
            1,
            90,
            round(100 * d.mask_share),
            "An encoder learns by recovering hidden tokens: the share of tokens chosen in each text. "
            "BERT chooses 15%, then replaces 80% of the chosen by [MASK], 10% by a random token and "
            "leaves 10% as they were, so the model cannot tell which tokens to check; the loss counts "
            "the chosen ones only. Special tokens are never chosen.",
        )
        self.mask_share.setSuffix("%")
        # An encoder-decoder's objective and its data (shown for one: `show_data`).
        from playground.ui.widgets.seq2seq_controls import Seq2SeqControls

        self.seq2seq = Seq2SeqControls(d.noise_share, d.mean_span)
        self.seq2seq.hide()
        dl = QVBoxLayout(data_box)
        dl.addWidget(self.data_label)
        dl.addWidget(self.seq2seq)
        self.data_form = f = QFormLayout()
        f.addRow("Validation share", self.val_fraction)
        f.addRow("Masked share", self.mask_share)
        f.setRowVisible(self.mask_share, False)  # an encoder's setting: shown for one (`show_data`)
        dl.addLayout(f)
        dl.addWidget(QLabel("<b>Start from</b>"))
        dl.addWidget(self.start_from)
        dl.addLayout(row)
        cl.addWidget(data_box)

        opt = QGroupBox("2 · Optimisation")
        self.batch = self._spin(1, 4096, d.batch_size, "Sequences per step. Bigger: smoother steps, more memory.")
        self.lr = self._dspin(
            1e-5,
            1.0,
            d.learning_rate,
            1e-4,
            5,
            "Peak learning rate: how big each step is. Too high and the loss explodes (NaN); too low and it crawls.",
        )
        self.warmup = self._spin(0, 100_000, d.warmup_steps, "Steps over which the learning rate ramps up from 0.")
        self.min_lr = self._dspin(
            0.0, 1.0, d.min_lr_ratio, 0.05, 2, "The cosine decay ends at this fraction of the peak learning rate."
        )
        self.weight_decay = self._dspin(
            0.0,
            1.0,
            d.weight_decay,
            0.01,
            3,
            "Pulls weights gently toward zero each step (AdamW), which fights memorising.",
        )
        self.grad_clip = self._dspin(
            0.0,
            100.0,
            d.grad_clip,
            0.1,
            2,
            "If the gradient's length exceeds this, it is scaled down: guards against "
            "sudden huge steps. 0 turns it off.",
        )
        self.accum = self._spin(
            1,
            1024,
            d.grad_accum,
            "Add up the gradients of this many batches before each step: a bigger effective batch without more memory.",
        )
        self.steps = self._spin(1, 10_000_000, d.max_steps, "How many optimizer steps to train for.")
        self.eval_interval = self._spin(
            1, 1_000_000, d.eval_interval, "Measure validation loss and save a checkpoint every this many steps."
        )
        self.sample_interval = self._spin(
            0, 1_000_000, d.sample_interval, "Show a short sample from the model every this many steps (0: never)."
        )
        self.seed = self._spin(0, 2**31 - 1, d.seed, "The random seed: the same seed gives the same run.")
        fo = QFormLayout(opt)
        fo.addRow("Batch size", self.batch)
        fo.addRow("Learning rate", self.lr)
        fo.addRow("Warm-up steps", self.warmup)
        fo.addRow("Final LR share", self.min_lr)
        fo.addRow("Weight decay", self.weight_decay)
        fo.addRow("Gradient clip", self.grad_clip)
        fo.addRow("Accumulate", self.accum)
        fo.addRow("Steps", self.steps)
        fo.addRow("Evaluate every", self.eval_interval)
        fo.addRow("Sample every", self.sample_interval)
        fo.addRow("Seed", self.seed)
        cl.addWidget(opt)

        self.hardware_box = hw = QGroupBox("3 · Hardware")
        self.device = QComboBox()
        for label, key in (("Automatic", "auto"), ("CUDA GPU", "cuda"), ("Apple GPU (MPS)", "mps"), ("CPU", "cpu")):
            self.device.addItem(label, key)
        self.device.setToolTip("Where to train. Automatic picks a GPU when there is one.")
        self.precision = QComboBox()
        for label, key in (("fp32 (full)", "fp32"), ("bf16 mixed", "bf16"), ("fp16 mixed", "fp16")):
            self.precision.addItem(label, key)
        self.precision.setToolTip("Mixed precision (CUDA only) computes in 16-bit floats: faster, less memory.")
        self.compile = QCheckBox("torch.compile")
        self.compile.setToolTip("Compile the model first: a slow start, then faster steps (mostly on GPUs).")
        fh = QFormLayout(hw)
        fh.addRow("Device", self.device)
        fh.addRow("Precision", self.precision)
        fh.addRow("", self.compile)
        cl.addWidget(hw)
        cl.addStretch(1)

    def show_data(
        self, corpus: Optional[Corpus], tokenizer: Optional[LoadedTokenizer], cfg: Optional[ModelConfig]
    ) -> None:
        """The corpus, tokenizer and model shape the session holds: what a run would train
        (and, for an encoder, its masked share)."""
        if cfg is None:
            shape = "not chosen yet"
        elif cfg.is_encoder_decoder:
            shape = (
                f"an encoder-decoder (T5 style), {cfg.n_layer} encoder + {cfg.decoder_layers} decoder layers × {cfg.n_head} heads "
                f"× {cfg.n_embd} wide, context {cfg.context_length}"
            )
        else:
            shape = (
                f"{'an encoder (BERT style), ' if cfg.is_encoder else ''}"
                f"{cfg.n_layer} layers × {cfg.n_head} heads × {cfg.n_embd} wide, context {cfg.context_length}"
            )
        self.data_form.setRowVisible(self.mask_share, cfg is not None and cfg.is_encoder)
        seq2seq = cfg is not None and cfg.is_encoder_decoder
        self.seq2seq.setVisible(seq2seq)
        # Text to text learns from its task's pairs: no corpus, so no validation share of it either.
        corpus_used = not (seq2seq and self.seq2seq.objective() == "text-to-text")
        self.data_form.setRowVisible(self.val_fraction, corpus_used)
        corpus_name = (corpus.name if corpus else "none") if corpus_used else "not used (the task's pairs are the data)"
        self.data_label.setText(
            f"<b>Corpus</b>: {corpus_name}<br>"
            f"<b>Tokenizer</b>: {tokenizer.name if tokenizer else 'none'}<br><b>Model</b>: {shape}"
        )

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the defaults serve a first look."""
        return [
            self.val_fraction,
            self.warmup,
            self.min_lr,
            self.weight_decay,
            self.grad_clip,
            self.accum,
            self.seed,
            self.hardware_box,
        ]

    def _spin(self, lo, hi, value, tip) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setValue(value)
        w.setGroupSeparatorShown(True)
        w.setToolTip(tip)
        return w

    def _dspin(self, lo, hi, value, step, decimals, tip) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setSingleStep(step)
        w.setValue(value)
        w.setToolTip(tip)
        return w

    def config(self):
        """The settings as a TrainConfig (not yet validated)."""
        from playground.core.train_config import TrainConfig

        return TrainConfig(
            batch_size=self.batch.value(),
            learning_rate=self.lr.value(),
            min_lr_ratio=self.min_lr.value(),
            warmup_steps=self.warmup.value(),
            max_steps=self.steps.value(),
            weight_decay=self.weight_decay.value(),
            grad_clip=self.grad_clip.value(),
            grad_accum=self.accum.value(),
            eval_interval=self.eval_interval.value(),
            sample_interval=self.sample_interval.value(),
            seed=self.seed.value(),
            device=self.device.currentData(),
            precision=self.precision.currentData(),
            compile=self.compile.isChecked(),
            val_fraction=self.val_fraction.value(),
            mask_share=self.mask_share.value() / 100,
            objective=self.seq2seq.objective(),
            noise_share=self.seq2seq.noise_share.value() / 100,
            mean_span=self.seq2seq.mean_span.value(),
            task=self.seq2seq.task(),
            task_prefix=self.seq2seq.task_prefix(),
        )

    def set_config(self, cfg) -> None:
        """Set the controls from a TrainConfig (a workspace's); a value of the wrong type raises midway."""
        for spin, value in (
            (self.batch, cfg.batch_size),
            (self.warmup, cfg.warmup_steps),
            (self.accum, cfg.grad_accum),
            (self.steps, cfg.max_steps),
            (self.eval_interval, cfg.eval_interval),
            (self.sample_interval, cfg.sample_interval),
            (self.seed, cfg.seed),
            (self.mask_share, round(100 * cfg.mask_share)),
        ):
            spin.setValue(int(value))
        for dspin, number in (
            (self.lr, cfg.learning_rate),
            (self.min_lr, cfg.min_lr_ratio),
            (self.weight_decay, cfg.weight_decay),
            (self.grad_clip, cfg.grad_clip),
            (self.val_fraction, cfg.val_fraction),
        ):
            dspin.setValue(float(number))
        self.compile.setChecked(bool(cfg.compile))
        self.seq2seq.noise_share.setValue(round(100 * float(cfg.noise_share)))
        self.seq2seq.mean_span.setValue(float(cfg.mean_span))
        self.seq2seq.set_objective(str(cfg.objective))
        self.seq2seq.set_task(str(cfg.task), cfg.task_prefix)
        for combo, key in ((self.device, cfg.device), (self.precision, cfg.precision)):
            index = combo.findData(key)
            if index >= 0:
                combo.setCurrentIndex(index)
