"""What training a model of a given shape costs: memory, speed, and readable numbers.

Everything here is arithmetic on a `ModelConfig`, cheap enough to run while
the learner drags a slider, except `measure_matmul_flops` and `measure_device_speed`
(a short benchmark, as job generators: run them off the GUI thread) and
`measure_saved_activation_bytes` (builds the model: for tests and benchmarks).
torch is imported only inside those.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from .config import ModelConfig, flops_per_token, parameter_breakdown
from .progress import JobGenerator, Progress
from .units import human_bytes, human_count, human_duration, human_flops  # noqa: F401 - the estimates' readers use them

if TYPE_CHECKING:
    from .devices import DeviceInfo

# Bytes per number in which activations are kept. "bf16" and "fp16" mean mixed
# precision (torch.autocast): the weights, gradients and optimizer stay float32.
PRECISIONS: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2}
PRECISION_LABELS: dict[str, str] = {
    "fp32": "float32 (full precision)",
    "bf16": "bfloat16 (mixed precision)",
    "fp16": "float16 (mixed precision)",
}
# Float32 numbers the optimizer keeps per parameter: AdamW remembers a running
# mean of the gradient and of its square; plain SGD remembers nothing.
OPTIMIZER_STATES: dict[str, int] = {"adamw": 2, "adam": 2, "sgd-momentum": 1, "sgd": 0}

# The time a training step spends beyond its arithmetic: Python and the
# framework launch a few dozen small operations per layer, each taking some
# microseconds, whatever the batch size. Measured on a CPU with one thread
# (about 0.5 ms a layer); eager PyTorch on a GPU is of the same order.
STEP_OVERHEAD_S = 1e-3
STEP_OVERHEAD_S_PER_LAYER = 0.5e-3


def _bytes_per_number(precision: str) -> int:
    if precision not in PRECISIONS:
        raise ValueError(f"Precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")
    return PRECISIONS[precision]


# -- memory -------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes that one training step needs, by what they hold.

    weights: the float32 parameters (plus, in mixed precision, the 2-byte
        copies autocast makes of the matrices for the forward pass).
    gradients: one float32 number per parameter.
    optimizer_state: what the optimizer remembers (AdamW: two float32 numbers
        per parameter).
    activations: what the forward pass keeps for the backward pass, plus the
        logits and their gradient; `logits` is the part of it that the logits
        take (B * T * vocab numbers: large for a big vocabulary).
    total: the sum of the four. An upper bound of the peak: gradients fill in
        while activations are freed during the backward pass. Not counted: the
        framework itself (a GPU's CUDA context takes 0.3 to 1 GB), the data
        batch, and the allocator's spare room.
    """

    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    total: int
    logits: int = 0

    def rows(self) -> list[tuple[str, int]]:
        """(label, bytes) pairs for a table, the total last."""
        return [
            ("Weights", self.weights),
            ("Gradients", self.gradients),
            ("Optimizer state", self.optimizer_state),
            ("Activations", self.activations),
            ("Total", self.total),
        ]


def matmul_parameters(config: ModelConfig) -> int:
    """Numbers in the weight matrices of matrix multiplies: attention, MLP, the output head
    (and an encoder's masked-LM layer; an encoder-decoder's two stacks and cross-attention).

    These are what autocast copies to 2 bytes in mixed precision (biases,
    norms and embedding lookups stay float32). The output head counts even
    when it shares the token embedding's matrix.
    """
    d, h = config.n_embd, config.mlp_hidden_size
    per_layer = 4 * d * d + (3 if config.mlp == "swiglu" else 2) * d * h
    if config.is_encoder_decoder:
        cross = 4 * d * d
        return config.n_layer * per_layer + config.decoder_layers * (per_layer + cross) + config.vocab_size * d
    mlm_layer = d * d if config.is_encoder else 0
    return config.n_layer * per_layer + mlm_layer + config.vocab_size * d


def uses_fused_attention(config: ModelConfig, device: str = "cuda") -> bool:
    """Whether `F.scaled_dot_product_attention` can use a fused kernel while training.

    Fused kernels (flash attention, memory-efficient attention) never store the
    T x T matrix of attention weights. On a CPU, PyTorch has a fused kernel but
    falls back to the plain "math" path when attention dropout is on.
    """
    return not (device == "cpu" and config.dropout > 0)


def saved_activation_bytes(config: ModelConfig, batch_size: int, precision: str = "fp32", device: str = "cuda") -> int:
    """Bytes of the tensors autograd keeps from the forward pass for the backward pass.

    Counted per token (B * T of them), with d the width, h the MLP's hidden
    width, H the heads, T the context length, a the bytes per number of the
    precision (4, or 2 in mixed precision) and r = 4: the residual stream, the
    sum that runs from block to block, stays float32 even under autocast,
    because the embeddings are float32 and adding promotes.

    Each layer keeps:
      norms (two)     LayerNorm: its input (r*d) and mean and 1/std (8 bytes);
                      RMSNorm (written out in float32): its input (r*d), the
                      normalised vector (4*d) and 1/rms (4 bytes)
      attention in    the normed input of the q/k/v projection (a*d)
      q, k, v         the projection's output (3*a*d); with RoPE also the
                      rotated queries and keys (2*a*d), as the values still
                      hold the projection's output alive
      fused attention its output (a*d), also the input of the output
                      projection (the kernel writes it in that layout, so
                      `.contiguous()` copies nothing), and the log-sum-exp of
                      each head's scores (4*H)
      MLP in          the normed input of the MLP (a*d); SwiGLU in mixed
                      precision keeps two (2*a*d): its gate and up projections
                      each cast the float32 input to 2 bytes
      MLP             GELU: the hidden layer before and after GELU (2*a*h);
                      SwiGLU: the gate before and after SiLU, the up
                      projection and the product (4*a*h)
      dropout         with dropout on, a mask after attention and after the
                      MLP (and one after the embeddings, once): 1 byte a
                      number on a GPU; on a CPU the mask has the size of the
                      numbers it masks
    On a CPU with attention dropout, attention runs the math path instead of
    the fused kernel: it keeps float32 copies of q, k and v (12*d), three
    T x T matrices per head (scores after softmax, the dropout mask, the
    dropped weights: 12*H*T) and a separate input of the output projection
    (a*d), in place of the fused kernel's items.

    Once per token outside the layers: the final norm, the input of the
    output head (a*d), the token ids and targets (8 bytes each), and the
    log-softmax of the logits that the loss keeps (4*V). The small tables of
    RoPE's angles (once per batch, not per token) are left out.

    An encoder (post-norm) keeps the same per layer: each norm keeps the sum
    it normalises, each sub-layer the norm's output it reads. Outside the
    layers it has a norm after the embeddings instead of a final norm, and its
    masked-LM head keeps the inputs of its layer (a*d), of GELU (a*d), of its
    norm (and 8 bytes; on a GPU autocast runs LayerNorm in float32: 4*d; a
    CPU's autocast does not: a*d) and of the output head (a*d).

    Checked against what autograd really saves (see
    `measure_saved_activation_bytes`) for the three flavours, with and without
    dropout, in float32 and bfloat16 on a CPU.

    An encoder-decoder: see `_encoder_decoder_activation_bytes`.
    """
    a = _bytes_per_number(precision)
    r = 4
    d, h, H, T, V = config.n_embd, config.mlp_hidden_size, config.n_head, config.context_length, config.vocab_size
    cpu = device == "cpu"
    dropout = config.dropout > 0

    norm = r * d + (8 if config.norm == "layernorm" else 4 * d + 4)
    attention_in = a * d
    if uses_fused_attention(config, device):
        qkv = 3 * a * d + (2 * a * d if config.positions == "rope" else 0)
        attention = qkv + a * d + 4 * H
    else:
        attention = 12 * d + 12 * H * T + a * d
    if config.mlp == "swiglu":
        # In mixed precision the gate and up projections each cast their own copy of the input.
        mlp = a * d * (2 if a < 4 else 1) + 4 * a * h
    else:
        mlp = a * d + 2 * a * h
    masks = 2 * d * (a if cpu else 1) if dropout else 0
    per_layer = 2 * norm + attention_in + attention + mlp + masks

    embedding_mask = d * (4 if cpu else 1) if dropout else 0
    ids = 8 + 8
    head = norm + a * d + 4 * V  # a decoder's final norm, or an encoder's norm after the embeddings
    if config.is_encoder:
        head_norm = (a if cpu else 4) * d + 8 if config.norm == "layernorm" else norm
        head += 2 * a * d + head_norm
    if config.is_encoder_decoder:
        return _encoder_decoder_activation_bytes(config, batch_size, a, norm, attention, cpu)
    per_token = config.n_layer * per_layer + embedding_mask + ids + head
    return batch_size * T * per_token


def _encoder_decoder_activation_bytes(
    config: ModelConfig, batch_size: int, a: int, norm: int, cross_attention: int, cpu: bool
) -> int:
    """`saved_activation_bytes` for an encoder-decoder (T5 style): input and target both T long.

    Its self-attention adds a position bias that is learned, so the bias needs
    a gradient, which no fused kernel gives: PyTorch runs the math path, which
    keeps float32 q, k and v (12*d), the T x T weights of each head (4*H*T;
    with dropout also its mask and the dropped weights), and the output
    projection's input (a*d). Its q, k and v are three matrices: in mixed
    precision each casts the float32 input to 2 bytes (3*a*d). Cross-attention
    adds no learned bias and is counted as the other families' attention is
    (`cross_attention`); its keys and values read the encoder's output, kept
    once (in mixed precision, each of them casts its own copy: 2*a*d a layer).
    The ReLU MLP keeps its input (a*d) and its hidden layer once (a*h: ReLU's
    output is also the next matrix's input); with dropout, also the dropped
    hidden layer and its mask. Once per token: both stacks' final norms, the
    encoder's output (the input of every cross-attention's keys and values),
    the input of the output head, three rows of ids (input, decoder input,
    labels) and the log-softmax (4*V). Once per batch: each stack's bucket of
    every (query, key) pair (8 bytes each) and the causal mask (1 byte each).
    """
    d, h, H, T, V = config.n_embd, config.mlp_hidden_size, config.n_head, config.context_length, config.vocab_size
    # Bytes of a dropout mask's number: on a CPU those of the numbers it masks (float32 in the
    # attention's math path, after the embeddings and the final norms).
    mask, mask32 = (a, 4) if cpu else (1, 1)
    dropout = config.dropout > 0
    casts = 3 if a < 4 else 1  # copies of the attention's input
    weights = 4 * H * T + ((mask32 + 4) * H * T if dropout else 0)
    self_attention = casts * a * d + 12 * d + weights + a * d  # input, q k v, weights, the output projection's input
    mlp = a * d + a * h + ((a + mask) * h if dropout else 0)
    masks = 2 * d * mask if dropout else 0  # after attention and after the MLP
    encoder_layer = 2 * norm + self_attention + mlp + masks
    decoder_layer = encoder_layer + norm + a * d + cross_attention + (d * mask if dropout else 0)
    stacks = 2 * norm + 2 * (2 * d * mask32 if dropout else 0)  # final norms; dropout after the embedding and norm
    per_token = config.n_layer * encoder_layer + config.decoder_layers * decoder_layer + stacks
    encoder_output = 2 * a * d * config.decoder_layers if a < 4 else a * d
    per_token += encoder_output + a * d + 3 * 8 + 4 * V  # head input, ids, log-softmax
    per_batch = 2 * 8 * T * T + T * T
    return batch_size * T * per_token + per_batch


def memory_estimate(
    config: ModelConfig,
    batch_size: int,
    precision: str = "fp32",
    optimizer: str = "adamw",
    device: str = "cuda",
) -> MemoryEstimate:
    """The memory one training step of `config` needs, in bytes.

        weights          4 * N, plus 2 * M in mixed precision
        gradients        4 * N
        optimizer_state  4 * N * (2 for AdamW, 0 for SGD)
        activations      saved_activation_bytes(...)
                         + B * T * V * (a + 4)

    N counts the parameters (a tied matrix once), M those used as matrices in a
    matrix multiply (`matmul_parameters`). Mixed precision ("bf16", "fp16")
    keeps float32 master weights, gradients and optimizer state, as
    `torch.autocast` does; it halves most activations, not the rest.

    The last line is the logits: the output head's B * T * V numbers stay alive
    until the step ends (a bytes each), and the backward pass makes their
    float32 gradient (4 bytes each) while the log-softmax the loss kept (in
    `saved_activation_bytes`) still exists. With a 50,000-token vocabulary the
    logits alone often outweigh the rest of the activations.

    `device` ("cuda", "mps" or "cpu") matters only for the activations: see
    `saved_activation_bytes`.
    """
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"Optimizer must be one of {', '.join(OPTIMIZER_STATES)}, not {optimizer!r}.")
    a = _bytes_per_number(precision)
    n = parameter_breakdown(config).total
    weights = 4 * n + (2 * matmul_parameters(config) if a < 4 else 0)
    gradients = 4 * n
    optimizer_state = 4 * n * OPTIMIZER_STATES[optimizer]
    tokens = batch_size * config.context_length
    logits_held = tokens * config.vocab_size * (a + 4)
    activations = saved_activation_bytes(config, batch_size, precision, device) + logits_held
    logits = logits_held + tokens * config.vocab_size * 4
    return MemoryEstimate(
        weights=weights,
        gradients=gradients,
        optimizer_state=optimizer_state,
        activations=activations,
        total=weights + gradients + optimizer_state + activations,
        logits=logits,
    )


@dataclass(frozen=True)
class AvailableMemory:
    """Memory a training run could use, and where the number came from."""

    bytes: Optional[int]
    source: str  # a phrase: "free GPU memory", "MemAvailable in /proc/meminfo", ...


def available_system_memory() -> AvailableMemory:
    """RAM that programs can still use, as the operating system reports it.

    Linux: MemAvailable in /proc/meminfo (free memory plus caches the kernel
    can drop). Elsewhere: free pages from `os.sysconf`, which leaves out the
    caches and so understates it; None where neither works.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return AvailableMemory(int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo")
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page_size > 0:
            return AvailableMemory(pages * page_size, "free pages (os.sysconf)")
    except (AttributeError, OSError, ValueError):
        pass
    return AvailableMemory(None, "unknown")


# -- speed --------------------------------------------------------------------


def measure_matmul_flops(device: str = "cpu", seconds: float = 0.3, size: Optional[int] = None) -> JobGenerator[float]:
    """Achieved FLOP/s of float32 matrix multiplies on `device`: a short benchmark, as a job generator.

    Multiplies two `size` x `size` matrices (1024 on a CPU, 4096 on a GPU)
    again and again for about `seconds` after one warm-up, counting 2 * size^3
    operations each, and returns the best rate of the short rounds it timed:
    other programs that wake up for a moment lower one round, not the result.
    It takes at least `seconds`: run it in a background job (it yields progress
    after each round, where it can be stopped).
    """
    import torch

    if size is None:
        size = 1024 if device == "cpu" else 4096
    dev = torch.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        elif dev.type == "mps":
            torch.mps.synchronize()

    round_s = max(seconds / 6, 1e-3)
    best = 0.0
    with torch.no_grad():
        a = torch.randn(size, size, device=dev)
        b = torch.randn(size, size, device=dev)
        out = torch.empty(size, size, device=dev)
        torch.mm(a, b, out=out)  # warm-up: thread pools, kernels
        sync()
        start = time.perf_counter()
        while True:
            count, round_start = 0, time.perf_counter()
            while True:
                torch.mm(a, b, out=out)
                count += 1
                if dev.type == "cpu" or count % 4 == 0:
                    sync()
                    elapsed = time.perf_counter() - round_start
                    if elapsed >= round_s:
                        break
            best = max(best, 2.0 * size**3 * count / elapsed)
            spent = time.perf_counter() - start
            if spent >= seconds:
                return best
            yield Progress(spent / seconds, "Multiplying matrices…")


@dataclass(frozen=True)
class DeviceSpeed:
    """The device training would use, and how fast it multiplies float32 matrices."""

    device: "DeviceInfo"
    flops_per_second: float


def measure_device_speed(device: Optional["DeviceInfo"] = None, seconds: float = 0.3) -> JobGenerator[DeviceSpeed]:
    """The job behind the Build step's speed line: find the device (when `device` is None:
    detecting it imports torch, a second or two) and time its matrix multiplies."""
    from .devices import detect_device

    info = device or detect_device()
    flops = yield from measure_matmul_flops(info.kind, seconds)
    return DeviceSpeed(info, flops)


def estimate_tokens_per_second(
    config: ModelConfig,
    flops_per_second: float,
    utilization: float = 0.3,
    tokens_per_step: Optional[int] = None,
) -> float:
    """Training tokens a second that `config` may reach on a device doing `flops_per_second`.

    The assumption, stated plainly: a training step runs at `utilization`
    (by default 30%) of the speed measured by `measure_matmul_flops`. Big
    square matrix multiplies are the best case; a step also has narrow
    matrices, attention, norms, the optimizer and Python in between. On a
    laptop-class CPU the models of the presets reach 35 to 65% of it, so 30%
    is on the cautious side there; on a GPU, small models reach far less
    because launching each operation costs more than doing it, while
    mixed precision can beat a float32 benchmark. Treat it as a guide to
    within a factor of two or three, not a promise.

    With `tokens_per_step` (batch size times context length), each step also
    pays a fixed overhead (`STEP_OVERHEAD_S` plus `STEP_OVERHEAD_S_PER_LAYER`
    per layer) that dominates for tiny models. Work per token comes from
    `flops_per_token` (6 FLOPs per parameter plus attention).
    """
    if flops_per_second <= 0 or utilization <= 0:
        raise ValueError("Speed and utilization must be positive.")
    seconds_per_token = flops_per_token(config) / (flops_per_second * utilization)
    if tokens_per_step is None:
        return 1.0 / seconds_per_token
    step = tokens_per_step * seconds_per_token + STEP_OVERHEAD_S + STEP_OVERHEAD_S_PER_LAYER * config.n_layer
    return tokens_per_step / step


# -- checking the estimate ----------------------------------------------------


def measure_saved_activation_bytes(
    config: ModelConfig, batch_size: int, precision: str = "fp32", device: str = "cpu"
) -> tuple[int, int]:
    """Build the model and run one training forward pass; return what autograd saved.

    Returns (activations, weight_copies) in bytes: distinct storages saved for
    the backward pass, without the parameters themselves; weight_copies are the
    2-byte copies autocast makes of the weights in mixed precision. To compare
    with `saved_activation_bytes` (tests, benchmarks); far too slow for a GUI.
    """
    import torch

    from .checkpoints import build_model

    a = _bytes_per_number(precision)
    dev = torch.device(device)
    model = build_model(config, dev).train()
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, tuple[int, bool]] = {}

    parameter_ids = {id(p) for p in model.parameters()}

    def is_weight_copy(t) -> bool:
        # A cast weight reaches a parameter through views (a transpose) and a cast.
        fn = t.grad_fn
        for _ in range(4):
            if fn is None:
                return False
            if type(fn).__name__ == "ToCopyBackward0":
                return any(id(getattr(nxt, "variable", None)) in parameter_ids for nxt, _ in fn.next_functions)
            if type(fn).__name__ not in (
                "TBackward0",
                "TransposeBackward0",
                "ViewBackward0",
                "UnsafeViewBackward0",
                "ExpandBackward0",
                "PermuteBackward0",
            ):
                return False
            fn = fn.next_functions[0][0] if fn.next_functions else None
        return False

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in parameter_storages and ptr not in seen:
            seen[ptr] = (storage.nbytes(), is_weight_copy(t))
        return t

    generator = torch.Generator().manual_seed(0)
    idx = torch.randint(0, config.vocab_size, (batch_size, config.context_length), generator=generator)
    targets = torch.randint(0, config.vocab_size, (batch_size, config.context_length), generator=generator)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast(dev.type, dtype=dtype, enabled=a < 4),
    ):
        if config.is_encoder_decoder:  # an input and a target of the context's length each
            model(idx.to(dev), decoder_input_ids=idx.roll(1, dims=1).to(dev), labels=targets.to(dev))
        else:
            model(idx.to(dev), targets=targets.to(dev))
    activations = sum(n for n, copy in seen.values() if not copy)
    copies = sum(n for n, copy in seen.values() if copy)
    return activations, copies
