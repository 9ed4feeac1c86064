"""Perplexity and bits per byte: every token but the first scored once, files read politely,
checkpoints compared, and `playground eval perplexity` on the demo model."""

from __future__ import annotations

import codecs
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from playground.cli import main
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text, default_corpus
from playground.core.data import encode_corpus, split_tokens
from playground.core.evaluation import (
    CheckpointFailed,
    CheckpointScored,
    ValidationSplits,
    _windows,
    compare_checkpoints,
    encode_text,
    perplexity,
    perplexity_of_file,
    perplexity_on_ids,
    tokenizer_id,
    validation_ids,
)
from playground.core.model import GPT
from playground.core.progress import Cancelled, CancelToken, Progress, UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"
TEXT = (
    "Return the number of items in the list.\n"
    "If the argument is omitted, the default value is used.\n"
    "Raise ValueError if the value is not present.\n"
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def demo():
    checkpoint, model = load_checkpoint(DEMO)
    return checkpoint, model


@pytest.fixture(scope="module")
def docs_text() -> str:
    return default_corpus().read_text(3000)


def drive(job):
    """Run a job to its end: (everything it yielded, what it returned)."""
    items = []
    while True:
        try:
            items.append(next(job))
        except StopIteration as stop:
            return items, stop.value


def tiny_model(vocab_size: int, context: int = 8, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=vocab_size, context_length=context, n_layer=1, n_head=2, n_embd=16)).eval()


def test_windows_cover_every_position_but_the_first_once():
    for n in (2, 3, 9, 10, 11, 40):
        for context in (1, 4, 8):
            for stride in range(1, context + 1):
                scored = []
                for start, end, first in _windows(n, context, stride):
                    assert end - start <= context and start < first <= end <= n - 1
                    scored += range(first, end + 1)
                assert scored == list(range(1, n)), (n, context, stride)


def test_a_uniform_model_has_the_vocabulary_size_as_perplexity(demo):
    tokenizer = demo[0].tokenizer
    model = tiny_model(tokenizer.vocab_size)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: every logit is 0, every token equally likely
    result = run_quietly(perplexity(model, tokenizer, TEXT))
    ids = encode_text(tokenizer, TEXT)
    assert result.tokens == len(ids) - 1 and result.windows == math.ceil((len(ids) - 1) / 8)
    assert result.mean_loss == pytest.approx(math.log(tokenizer.vocab_size), rel=1e-5)
    assert result.perplexity == pytest.approx(tokenizer.vocab_size, rel=1e-4)
    assert result.bits_per_token == pytest.approx(math.log2(tokenizer.vocab_size), rel=1e-5)
    # bits per byte: every token costs log2(V) bits, spread over the bytes the scored tokens cover
    assert result.bits_per_byte == pytest.approx(
        result.tokens * math.log2(tokenizer.vocab_size) / result.scored_bytes, rel=1e-5
    )
    assert result.characters == len(TEXT) and result.bytes == len(TEXT.encode())


def test_the_sum_is_the_models_own_loss_token_by_token(demo):
    """Against a direct sum: with stride 1 every token sees the `context` tokens before it
    (fewer at the start); with stride = context the windows simply follow one another."""
    tokenizer = demo[0].tokenizer
    model = tiny_model(tokenizer.vocab_size, context=8, seed=3)
    ids = encode_text(tokenizer, TEXT)[:30]
    with torch.no_grad():
        sliding = 0.0
        for j in range(1, len(ids)):
            x = torch.tensor([ids[max(0, j - 8) : j]])
            sliding += float(F.cross_entropy(model(x).logits[0, -1:], torch.tensor([ids[j]])))
        chunked = 0.0
        for start in range(0, len(ids) - 1, 8):
            x = torch.tensor([ids[start : start + 8]])
            y = torch.tensor([ids[start + 1 : start + 9]])
            x = x[:, : y.size(1)]
            chunked += float(model(x, y).loss) * y.size(1)
    one = run_quietly(perplexity_on_ids(model, ids, tokenizer, stride=1, batch_size=5))
    full = run_quietly(perplexity_on_ids(model, ids, tokenizer, batch_size=3))
    assert one.tokens == full.tokens == len(ids) - 1
    assert one.total_nll == pytest.approx(sliding, rel=1e-5)
    assert full.total_nll == pytest.approx(chunked, rel=1e-5)
    assert one.stride == 1 and full.stride == 8 and full.context_length == 8


def test_bits_per_byte_is_the_same_from_text_and_from_ids(demo, docs_text):
    checkpoint, model = demo
    tokenizer = checkpoint.tokenizer
    from_text = run_quietly(perplexity(model, tokenizer, docs_text))
    ids = encode_text(tokenizer, docs_text)
    from_ids = run_quietly(perplexity_on_ids(model, ids, tokenizer))  # bytes counted by decoding the ids
    assert tokenizer.decode(ids) == docs_text
    assert from_ids == from_text
    first = tokenizer.token_bytes(tokenizer.tokenizer.id_to_token(ids[0]))
    assert from_text.scored_bytes == len(docs_text.encode()) - len(first)
    assert from_text.bits_per_byte == pytest.approx(from_text.total_nll / math.log(2) / from_text.scored_bytes)


def test_the_demo_model_beats_a_random_one_of_the_same_shape(demo, docs_text):
    checkpoint, model = demo
    torch.manual_seed(0)
    untrained = GPT.from_config(checkpoint.model_config).eval()
    trained = run_quietly(perplexity(model, checkpoint.tokenizer, docs_text))
    random = run_quietly(perplexity(untrained, checkpoint.tokenizer, docs_text))
    assert random.perplexity > 1000  # about the vocabulary size: it knows nothing yet
    assert trained.perplexity < 100
    assert trained.bits_per_byte < 0.6 * random.bits_per_byte


def test_a_smaller_stride_gives_more_context_and_a_lower_loss(demo, docs_text):
    checkpoint, model = demo
    plain = run_quietly(perplexity(model, checkpoint.tokenizer, docs_text))
    overlapping = run_quietly(perplexity(model, checkpoint.tokenizer, docs_text, stride=64))
    assert overlapping.tokens == plain.tokens and overlapping.windows > plain.windows
    assert overlapping.mean_loss < plain.mean_loss


def test_cancel_stops_between_batches_and_progress_reaches_one(demo, docs_text):
    checkpoint, model = demo
    reports, result = drive(perplexity(model, checkpoint.tokenizer, docs_text, batch_size=2))
    fractions = [r.fraction for r in reports]
    assert all(isinstance(r, Progress) for r in reports) and result.tokens > 0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 1

    # A job is stopped by closing it between two items (the engine does that on cancel).
    job = perplexity(model, checkpoint.tokenizer, docs_text, batch_size=2)
    seen = [next(job)]
    job.close()
    with pytest.raises(StopIteration):
        next(job)
    assert len(seen) == 1 and seen[0].fraction < 1
    assert not model.training  # eval mode kept (load_checkpoint gave it in eval mode)


def test_a_job_closed_midway_restores_training_mode(demo, docs_text):
    checkpoint, model = demo
    model.train()
    try:
        job = perplexity(model, checkpoint.tokenizer, docs_text, batch_size=2)
        next(job)
        assert not model.training  # scoring runs in eval mode...
        job.close()
        assert model.training  # ... and stopping it gives the model back as it was
    finally:
        model.eval()


def test_training_mode_is_restored(demo):
    checkpoint, model = demo
    model.train()
    try:
        run_quietly(perplexity(model, checkpoint.tokenizer, TEXT))
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize("text", ["", "   \n", "a"])
def test_too_little_text_is_a_sentence(demo, text):
    checkpoint, model = demo
    with pytest.raises(UserError, match="empty|at least two"):
        run_quietly(perplexity(model, checkpoint.tokenizer, text))


def test_bad_settings_and_foreign_ids_are_sentences(demo):
    checkpoint, model = demo
    with pytest.raises(UserError, match="stride"):
        run_quietly(perplexity(model, checkpoint.tokenizer, TEXT, stride=500))
    with pytest.raises(UserError, match="batch size"):
        run_quietly(perplexity(model, checkpoint.tokenizer, TEXT, batch_size=0))
    with pytest.raises(UserError, match="another tokenizer"):
        run_quietly(perplexity_on_ids(model, [1, 2, 5000], checkpoint.tokenizer))
    with pytest.raises(UserError, match="tokenizer"):
        run_quietly(perplexity_on_ids(model, [1, 2, 3]))


def test_files_are_read_like_a_corpus(demo, tmp_path):
    checkpoint, model = demo
    expected = run_quietly(perplexity(model, checkpoint.tokenizer, TEXT))
    plain = tmp_path / "plain.txt"
    plain.write_text(TEXT, encoding="utf-8")
    with_bom = tmp_path / "bom.txt"
    with_bom.write_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text(TEXT, encoding="utf-16")  # with its byte-order mark
    for path in (plain, with_bom, utf16):
        assert run_quietly(perplexity_of_file(model, checkpoint.tokenizer, path)) == expected, path.name

    problems = {
        "binary.bin": (b"\x00\x01\x02PNG" * 50, "binary"),
        "empty.txt": (b"", "empty"),
        "blank.txt": (b" \n\n  \n", "empty"),
        "latin1.txt": ("Caf\xe9 au lait, s'il vous pla\xeet.\n".encode("latin-1"), "not valid UTF-8"),
    }
    for name, (content, message) in problems.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UserError, match=message):
            run_quietly(perplexity_of_file(model, checkpoint.tokenizer, tmp_path / name))
    with pytest.raises(UserError, match="does not exist"):
        run_quietly(perplexity_of_file(model, checkpoint.tokenizer, tmp_path / "missing.txt"))


def test_validation_ids_are_the_tail_training_held_out(demo):
    tokenizer = demo[0].tokenizer
    corpus = corpus_from_text(TEXT * 20)
    expected = split_tokens(run_quietly(encode_corpus(corpus, tokenizer)), 0.1).val
    ids = run_quietly(validation_ids(corpus, tokenizer, 0.1))
    assert ids.tolist() == expected.tolist() and len(ids) > 2
    result = run_quietly(perplexity_on_ids(demo[1], ids, tokenizer))
    assert result.tokens == len(ids) - 1


@pytest.fixture(scope="module")
def char_run(tmp_path_factory, docs_text) -> Path:
    """An untrained model with a character-level tokenizer, saved as a run folder."""
    tokenizer = LoadedTokenizer(
        run_quietly(train_in_process(corpus_from_text(docs_text), spec_for_kind("char", vocab_size=120)))
    )
    config = ModelConfig(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=16)
    run_dir = tmp_path_factory.mktemp("runs") / "char-run"
    write_run_files(run_dir, config, {}, tokenizer)
    torch.manual_seed(0)
    save_checkpoint(run_dir, "best", GPT(config), state={}, meta={"step": 7})
    return run_dir


def test_compare_checkpoints_with_different_tokenizers(demo, char_run, docs_text):
    text = docs_text[:1500]
    items, rows = drive(compare_checkpoints([DEMO, char_run], text))
    reports = [i for i in items if isinstance(i, Progress)]
    assert [r.name for r in rows] == ["demo", "char-run"]
    demo_row, char_row = rows
    assert demo_row.vocab_size == 2000 and "BPE" in demo_row.tokenizer_kind
    assert char_row.vocab_size < 200 and char_row.steps == 7 and char_row.context_length == 32
    assert demo_row.parameters == demo[1].num_parameters() and char_row.parameters < 50_000
    assert demo_row.bits_per_byte == pytest.approx(
        run_quietly(perplexity(demo[1], demo[0].tokenizer, text)).bits_per_byte
    )
    # Per token the two look alike (an untrained model of 58 characters is unsure among about 58,
    # the demo among about 37 much longer tokens); per byte the untrained one is far worse.
    assert char_row.perplexity < 2 * demo_row.perplexity
    assert demo_row.bits_per_byte < char_row.bits_per_byte / 3
    assert reports[-1].fraction == 1.0 and "char-run (2 of 2)" in reports[-1].message
    with pytest.raises(UserError, match="at least one"):
        run_quietly(compare_checkpoints([], text))


def test_compare_checkpoints_yields_each_row_as_it_is_scored(demo, char_run, docs_text):
    items, rows = drive(compare_checkpoints([DEMO, char_run], docs_text[:800]))
    scored = [i for i in items if isinstance(i, CheckpointScored)]
    assert [s.row for s in scored] == rows
    # the row comes right after its checkpoint's progress, before the next checkpoint's
    at = items.index(scored[0])
    assert all("demo (1 of 2)" in i.message for i in items[:at] if isinstance(i, Progress))
    assert all("char-run (2 of 2)" in i.message for i in items[at + 1 :] if isinstance(i, Progress))
    fractions = [i.fraction for i in items if isinstance(i, Progress)]
    assert fractions == sorted(fractions)
    assert scored[0].tokenizer_id == tokenizer_id(demo[0].tokenizer) != scored[1].tokenizer_id
    assert scored[0].row.path == str((DEMO / "best").resolve())


def test_compare_checkpoints_reads_a_file_a_corpus_and_the_current_model(demo, char_run, docs_text, tmp_path):
    checkpoint, model = demo
    text = docs_text[:1200]
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    asked = []

    def model_of(ckpt):  # the window's shared model, loaded once
        asked.append(ckpt)
        return model

    items, rows = drive(compare_checkpoints([checkpoint, char_run], path, model_of=model_of))
    assert asked == [checkpoint] and "Reading text.txt" in items[0].message
    assert rows[0].bits_per_byte == pytest.approx(
        run_quietly(perplexity(model, checkpoint.tokenizer, text)).bits_per_byte
    )

    corpus = corpus_from_text(TEXT * 20, name="docs")
    splits = ValidationSplits()
    _, rows = drive(compare_checkpoints([checkpoint], corpus, model_of=model_of, splits=splits))
    ids = run_quietly(validation_ids(corpus, checkpoint.tokenizer))
    assert rows[0].tokens == len(ids) - 1
    assert splits.get(corpus, tokenizer_id(checkpoint.tokenizer), 0.1).tolist() == ids.tolist()
    items, again = drive(compare_checkpoints([checkpoint], corpus, model_of=model_of, splits=splits))
    assert again == rows and not any("Encoding" in i.message for i in items if isinstance(i, Progress))
    splits.clear()
    assert splits.get(corpus, tokenizer_id(checkpoint.tokenizer), 0.1) is None


def test_validation_splits_keep_the_last_few():
    splits = ValidationSplits(keep=2)
    corpora = [corpus_from_text(TEXT, name=str(n)) for n in range(3)]
    for n, corpus in enumerate(corpora):
        splits.put(corpus, "tok", 0.1, np.arange(n + 2))
    assert splits.get(corpora[0], "tok", 0.1) is None
    assert splits.get(corpora[2], "tok", 0.1).tolist() == [0, 1, 2, 3]
    assert splits.get(corpora[2], "other", 0.1) is None and splits.get(corpora[2], "tok", 0.2) is None


def test_compare_checkpoints_can_go_on_past_a_bad_one(demo, tmp_path, docs_text):
    broken = tmp_path / "broken-run"
    broken.mkdir()
    with pytest.raises(UserError, match="not a checkpoint folder"):
        run_quietly(compare_checkpoints([broken, DEMO], docs_text[:500]))
    items, rows = drive(compare_checkpoints([broken, DEMO], docs_text[:500], keep_going=True))
    failed = [i for i in items if isinstance(i, CheckpointFailed)]
    assert len(failed) == 1 and failed[0].name == "broken-run" and "not a checkpoint folder" in failed[0].message
    assert [r.name for r in rows] == ["demo"]


def test_reading_a_big_file_obeys_cancel(demo, tmp_path):
    checkpoint, model = demo
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_quietly(perplexity_of_file(model, checkpoint.tokenizer, path, cancel=token))


# -- the command line ------------------------------------------------------------------------------


def run_cli(capsys, *args):
    code = main(["eval", "perplexity", "--threads", "1", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_perplexity_json_matches_the_core(capsys, demo, tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    code, out, err = run_cli(capsys, "--model", DEMO, "--text", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    expected = run_quietly(perplexity(demo[1], demo[0].tokenizer, TEXT))
    assert data["perplexity"] == pytest.approx(expected.perplexity)
    assert data["bits_per_byte"] == pytest.approx(expected.bits_per_byte)
    assert data["tokens"] == expected.tokens and data["bytes"] == len(TEXT.encode())
    assert data["model"] == "demo" and data["which"] == "best" and data["vocab_size"] == 2000


def test_cli_perplexity_prints_a_summary_and_compares_models(capsys):
    code, out, err = run_cli(capsys, "--model", DEMO, "--text", "default", "--max-chars", 1500)
    assert code == 0, err
    assert "perplexity" in out and "bits per byte" in out and "1,500 characters" in out
    code, out, err = run_cli(
        capsys, "--model", DEMO, "--model", DEMO / "best", "--text", "default", "--max-chars", 800, "--json"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2 and rows[0]["bits_per_byte"] == rows[1]["bits_per_byte"]


def test_cli_perplexity_errors_are_sentences(capsys, tmp_path):
    code, out, err = run_cli(capsys, "--model", DEMO, "--text", tmp_path / "nothing.txt")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    (tmp_path / "empty.txt").write_text("")
    code, out, err = run_cli(capsys, "--model", DEMO, "--text", tmp_path / "empty.txt")
    assert code == 2 and "empty" in err
    code, out, err = run_cli(capsys, "--model", tmp_path, "--text", "default", "--max-chars", 100)
    assert code == 2 and "not a checkpoint folder" in err
