"""The Build step's speed section: the work per token, this device's measured speed, and what
they mean for training time, set against the family's well-known model."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton

from playground.core.config import ModelConfig, flops_per_token, parameter_breakdown
from playground.core.devices import DeviceInfo
from playground.core.estimates import (
    estimate_tokens_per_second,
    human_bytes,
    human_duration,
    human_flops,
    memory_estimate,
)
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.build_results import reference_model


class SpeedBox(QGroupBox):
    """Work per token, this device's measured speed, and what it means for training time."""

    def __init__(self, utilization: float, steps: int, parent=None) -> None:
        super().__init__("Speed", parent)
        self.utilization, self.steps = utilization, steps
        self.flops_label = QLabel()
        self.flops_label.setWordWrap(True)
        self.flops_label.setToolTip(
            "Floating-point operations to learn from one token, forward and backward: about 6 per "
            "parameter used in a matrix multiply, plus attention's comparisons with earlier tokens."
        )
        self.device_speed_label = QLabel("measuring…")
        self.device_speed_label.setWordWrap(True)
        self.device_speed_label.setToolTip(
            "Measured here: how fast this device multiplies two large float32 matrices, the heart of "
            "every training step."
        )
        self.remeasure = QPushButton("Measure again")
        self.remeasure.setToolTip(
            "Run the short matrix-multiply benchmark again (it takes under a second). "
            "Close other heavy programs for a fair figure."
        )
        self.tokens_label = QLabel("measuring…")
        self.tokens_label.setWordWrap(True)
        self.tokens_label.setToolTip(
            f"Assumes a training step runs at {utilization:.0%} of the measured speed, plus a "
            "fixed cost per step for launching work. Small layers, attention, norms and the optimizer "
            "keep real training below the benchmark's best case. A guide, good to within 2–3×."
        )
        self.steps_label = QLabel("measuring…")
        self.steps_label.setWordWrap(True)
        self.steps_label.setToolTip(f"{steps:,} steps, each on one batch of batch size × context length tokens.")
        self.compare_label = QLabel()
        self.compare_label.setWordWrap(True)
        themed_style(self.compare_label, "color: {muted};")
        self.compare_label.setToolTip(
            "A well-known model of the same family (GPT-2 small; BERT-base for an encoder; T5-small for an "
            "encoder-decoder) at the same batch size, with its own context (1,024 or 512 tokens)."
        )
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        captions = ["Work per token", "This device", "Training speed", f"{steps:,} steps"]
        values = [self.flops_label, self.device_speed_label, self.tokens_label, self.steps_label]
        for r, (caption, value) in enumerate(zip(captions, values)):
            label = QLabel(caption)
            label.setToolTip(value.toolTip())
            grid.addWidget(label, r, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, r, 1)
        grid.addWidget(self.remeasure, 1, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.compare_label, len(captions), 0, 1, 3)

    def show_speed(
        self,
        config: ModelConfig,
        flops_per_second: Optional[float],
        measure_error: Optional[str],
        device: Optional[DeviceInfo],
        batch: int,
        precision: str,
        device_kind: str,
    ) -> None:
        fpt = flops_per_token(config)
        self.flops_label.setText(f"<b>{human_flops(fpt)}</b> per token (forward + backward)")
        name = "this device" if device is None else ("the CPU" if device.kind == "cpu" else "the GPU")
        if flops_per_second is None:
            self.device_speed_label.setText(measure_error or "measuring…")
            self.tokens_label.setText("waiting for the measurement…" if measure_error is None else "unknown")
            self.steps_label.setText("")
            self.compare_label.setText("")
            return
        themed_text(
            self.device_speed_label,
            "<b>{speed}/s</b> measured on {name} <span style='color:{muted}'>(float32 matrix multiply)</span>",
            speed=human_flops(flops_per_second),
            name=name,
        )
        if device is not None:
            self.device_speed_label.setToolTip(device.describe() + "\n\n" + self.tokens_label.toolTip())
        per_step = batch * config.context_length
        tps = estimate_tokens_per_second(config, flops_per_second, self.utilization, per_step)
        themed_text(
            self.tokens_label,
            "≈ <b>{tps}</b> tokens/s <span style='color:{muted}'>(if a step reaches {share} of that speed)</span>",
            tps=f"{tps:,.0f}",
            share=f"{self.utilization:.0%}",
        )
        seconds = self.steps * per_step / tps
        self.steps_label.setText(
            f"≈ <b>{human_duration(seconds)}</b> for {self.steps:,} steps of "
            f"{batch:,} × {config.context_length:,} = {per_step:,} tokens"
        )
        name, known = reference_model(config)
        if parameter_breakdown(config).total < 0.67 * parameter_breakdown(known).total:
            context = known.context_length
            g_tps = estimate_tokens_per_second(known, flops_per_second, self.utilization, batch * context)
            g_seconds = self.steps * batch * context / g_tps
            g_mem = memory_estimate(known, batch, precision, "adamw", device_kind)
            self.compare_label.setText(
                f"For comparison, {name} here: ≈ {g_tps:,.0f} tokens/s, {human_duration(g_seconds)} "
                f"for {self.steps:,} steps of {batch:,} × {context:,} tokens, and {human_bytes(g_mem.total)} of memory."
            )
        else:
            self.compare_label.setText("")

    def show_invalid(self) -> None:
        self.flops_label.setText("—")
        self.tokens_label.setText("—")
        self.steps_label.setText("")
        self.compare_label.setText("")
