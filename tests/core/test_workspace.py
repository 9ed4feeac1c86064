"""Workspaces: workspace.json round trips and versions, the .zip export (no absolute paths), and an
import that refuses damaged or hostile zips without writing anything outside the chosen folder."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

import playground.core.workspace as wsmod
import playground.core.workspace_format as formatmod
import playground.core.workspace_zip as zipmod
import playground.core.zip_safety as zip_safety
from playground.core.corpus import Corpus, default_corpus
from playground.core.progress import UserError, run_quietly
from playground.core.prompts import Example, PromptTemplate
from playground.core.tokenization import TokenizerSpec, open_tokenizer
from playground.core.workspace import (
    WorkspaceContent,
    open_workspace,
    plan_workspace,
    read_workspace,
    save_workspace,
    template_from_dict,
)
from playground.core.workspace_format import WORKSPACE_FILE, WORKSPACE_VERSION, Workspace


def export_workspace(*args, **kwargs):
    return run_quietly(zipmod.export_workspace(*args, **kwargs))


def import_workspace(*args, **kwargs):
    return run_quietly(zipmod.import_workspace(*args, **kwargs))


DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


def tree(root: Path) -> list[str]:
    """Every path under `root`, for before/after comparisons."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def tokenizers():
    first = open_tokenizer(DEMO / "tokenizer.json")
    first.name, first.spec = "BPE 2,000 · demo", TokenizerSpec(kind="bpe", vocab_size=2000)
    second = open_tokenizer(DEMO / "tokenizer.json")
    second.name = "another/one: with odd characters"
    return [first, second]


@pytest.fixture
def template():
    return PromptTemplate(
        name="Capitals",
        instruction="Name the capital.",
        mode="few-shot",
        k=2,
        examples=[Example("France", "Paris"), Example("Peru", "Lima", enabled=False)],
        input="Japan",
    )


@pytest.fixture
def run_elsewhere(tmp_path):
    """A training run outside the workspace, with an optimizer state that exports leave out."""
    run = tmp_path / "elsewhere" / "runs" / "2024-01-01_00-00-00_2x48"
    shutil.copytree(DEMO, run)
    (run / "best" / "state.pt").write_bytes(b"optimizer state")
    return run


@pytest.fixture
def content(tmp_path, tokenizers, template, run_elsewhere):
    workspace = tmp_path / "ws"
    (workspace / "texts").mkdir(parents=True)
    inside = workspace / "texts" / "inside.txt"
    inside.write_text("Text kept in the workspace.\n", encoding="utf-8")
    outside = tmp_path / "elsewhere" / "outside.txt"
    outside.write_text("Text kept somewhere else.\n", encoding="utf-8")
    return WorkspaceContent(
        corpus=Corpus(name="two files", files=(inside, outside)),
        tokenizers=tokenizers,
        tokenizer=tokenizers[1],
        checkpoint=run_elsewhere / "best",
        template=template.to_dict(),
        sent_prompt=template.with_mode("zero-shot").to_dict(),
        probe_text="A probe sentence.",
        panels={
            "build": {"preset": "small", "n_layer": 4},
            "generate": {"prompt": "Once", "settings": {"temperature": 1.3}},
        },
    )


# ---------------------------------------------------------------------------- workspace.json


def test_save_and_open_round_trip(tmp_path, content, template, run_elsewhere):
    folder = tmp_path / "ws"
    saved = save_workspace(folder, content)
    data = json.loads((folder / WORKSPACE_FILE).read_text(encoding="utf-8"))
    assert data["version"] == WORKSPACE_VERSION and data["format"] == "llm-playground-workspace"
    # Inside the workspace: relative; outside: absolute; the run is copied in, optimizer state and all.
    assert data["corpus"]["files"] == ["texts/inside.txt", str(tmp_path / "elsewhere" / "outside.txt")]
    assert data["runs"] == [{"name": run_elsewhere.name, "path": f"runs/{run_elsewhere.name}"}]
    assert data["checkpoint"] == {"run": run_elsewhere.name, "which": "best"}
    assert (folder / "runs" / run_elsewhere.name / "best" / "state.pt").read_bytes() == b"optimizer state"
    assert sorted(p.name for p in (folder / "tokenizers").iterdir()) == [
        "01-BPE-2-000-demo.json",
        "02-another-one-with-odd-characters.json",
    ]
    assert data == saved.to_dict()

    opened = open_workspace(folder)
    assert opened.problems == []
    assert opened.corpus == content.corpus
    assert [t.name for t in opened.tokenizers] == [t.name for t in content.tokenizers]
    assert opened.tokenizer is opened.tokenizers[1]
    assert opened.tokenizers[0].spec == TokenizerSpec(kind="bpe", vocab_size=2000)
    assert opened.tokenizers[0].encode_ids(["hello world"]) == content.tokenizers[0].encode_ids(["hello world"])
    assert opened.checkpoint == folder / "runs" / run_elsewhere.name and opened.which == "best"
    assert opened.template == template
    assert opened.sent_prompt == template.with_mode("zero-shot")
    assert opened.workspace.probe_text == "A probe sentence."
    assert opened.workspace.panels == content.panels


def test_saving_again_rewrites_nothing_and_forgets_removed_tokenizers(tmp_path, content):
    folder = tmp_path / "ws"
    save_workspace(folder, content)
    weights = next((folder / "runs").rglob("model.safetensors"))
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != WORKSPACE_FILE}
    save_workspace(folder, content)
    assert {p: p.stat().st_mtime_ns for p in before} == before and weights.is_file()

    content.tokenizers = content.tokenizers[:1]
    content.tokenizer = content.tokenizers[0]
    save_workspace(folder, content)
    assert [p.name for p in (folder / "tokenizers").iterdir()] == ["01-BPE-2-000-demo.json"]
    assert open_workspace(folder).tokenizer.name == "BPE 2,000 · demo"


def test_built_in_corpus_and_demo_model_are_named_not_copied(tmp_path):
    folder = tmp_path / "ws"
    save_workspace(folder, WorkspaceContent(corpus=default_corpus(), checkpoint=DEMO / "best"))
    ws = read_workspace(folder)
    assert ws.corpus.kind == "default"
    assert ws.runs[0].path == "app:models/demo" and not (folder / "runs").exists()
    opened = open_workspace(folder)
    assert opened.corpus == default_corpus() and opened.checkpoint == DEMO


def test_pasted_text_is_kept_in_the_workspace(tmp_path):
    folder = tmp_path / "ws"
    save_workspace(folder, WorkspaceContent(corpus=Corpus(name="Pasted text", text="Some pasted text.\n")))
    assert read_workspace(folder).corpus.files == ["corpus/pasted.txt"]
    assert open_workspace(folder).corpus == Corpus(name="Pasted text", text="Some pasted text.\n")


def test_a_big_run_is_referenced_where_it_is(tmp_path, content, run_elsewhere, monkeypatch):
    monkeypatch.setattr(wsmod, "RUN_COPY_LIMIT_BYTES", 1000)
    ws = save_workspace(tmp_path / "ws", content)
    assert ws.runs[0].path == str(run_elsewhere) and not (tmp_path / "ws" / "runs").exists()
    assert open_workspace(tmp_path / "ws").checkpoint == run_elsewhere


def test_missing_files_are_reported_and_the_rest_opens(tmp_path, content, run_elsewhere):
    folder = tmp_path / "ws"
    save_workspace(folder, content)
    (tmp_path / "elsewhere" / "outside.txt").unlink()
    next((folder / "tokenizers").iterdir()).unlink()
    opened = open_workspace(folder)
    assert len(opened.problems) == 2
    assert "outside.txt" in opened.problems[0] and opened.corpus == default_corpus()
    assert "could not be opened" in opened.problems[1] and len(opened.tokenizers) == 1


def write_json(folder: Path, data) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WORKSPACE_FILE).write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "data, words",
    [
        ({"format": "llm-playground-workspace", "version": WORKSPACE_VERSION + 1}, "newer version"),
        ({"format": "llm-playground-workspace"}, "version number is missing"),
        ({"format": "llm-playground-workspace", "version": "1"}, "version number is '1'"),
        ({"format": "something-else", "version": 1}, "not an LLM Playground workspace"),
        ([1, 2, 3], "holds list"),
        ("{not json", "not valid JSON"),
        (
            {"format": "llm-playground-workspace", "version": 1, "tokenizers": [{"name": "x", "file": "../../x.json"}]},
            "outside the workspace",
        ),
        ({"format": "llm-playground-workspace", "version": 1, "runs": "all"}, "should be a list"),
        (
            {"format": "llm-playground-workspace", "version": 1, "checkpoint": {"run": "gone", "which": "best"}},
            "not among the workspace's runs",
        ),
    ],
)
def test_a_bad_workspace_json_is_refused_with_a_sentence(tmp_path, data, words):
    with pytest.raises(UserError, match=words):
        read_workspace(write_json(tmp_path / "ws", data))


def test_a_folder_without_workspace_json_is_not_a_workspace(tmp_path):
    with pytest.raises(UserError, match="has no workspace.json"):
        read_workspace(tmp_path)


def test_an_older_version_is_migrated_step_by_step(tmp_path, monkeypatch):
    # Pretend the format moved on to version 2, which renamed "probe" to "probe_text".
    def one_to_two(data: dict) -> dict:
        data["probe_text"] = data.pop("probe")
        return data

    monkeypatch.setattr(formatmod, "WORKSPACE_VERSION", 2)
    monkeypatch.setattr(formatmod, "MIGRATIONS", {1: one_to_two})
    folder = write_json(tmp_path / "ws", {"format": "llm-playground-workspace", "version": 1, "probe": "Old text."})
    ws = read_workspace(folder)
    assert ws.probe_text == "Old text." and ws.version == 2
    assert ws.to_dict()["version"] == 2

    monkeypatch.setattr(formatmod, "MIGRATIONS", {})  # a version with no way forward is refused, not misread
    with pytest.raises(UserError, match="can no longer read"):
        read_workspace(folder)


def test_an_unfinished_template_is_kept_as_typed():
    data = PromptTemplate(name="Draft", example_format="Q: {input} A: {answer}").to_dict()
    with pytest.raises(UserError):
        PromptTemplate.from_dict(data)
    assert template_from_dict(data).example_format == "Q: {input} A: {answer}"
    with pytest.raises(UserError):
        template_from_dict({"name": 3})


def test_plan_writes_nothing(tmp_path, content):
    plan_workspace(tmp_path / "ws", content)
    assert tree(tmp_path / "ws") == ["texts", "texts/inside.txt"]


# ---------------------------------------------------------------------------- export and import


def exported(tmp_path, content, **kwargs) -> Path:
    save_workspace(tmp_path / "ws", content)
    zip_path = tmp_path / "out" / "ws.zip"
    export_workspace(tmp_path / "ws", zip_path, **kwargs)
    return zip_path


def test_export_names_no_absolute_path_and_leaves_state_out(tmp_path, content, monkeypatch, run_elsewhere):
    monkeypatch.setattr(wsmod, "RUN_COPY_LIMIT_BYTES", 1000)  # the run stays outside: the zip takes it in
    zip_path = exported(tmp_path, content)
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        texts = [zf.read(n).decode("utf-8") for n in names if n.endswith((".json", ".toml", ".txt"))]
        data = json.loads(zf.read(WORKSPACE_FILE))
    assert names[0] == WORKSPACE_FILE
    assert not any(n.startswith("/") or ".." in n.split("/") or ":" in n for n in names)
    assert not any(n.endswith("state.pt") for n in names)
    run = f"runs/{run_elsewhere.name}"
    assert {
        f"{run}/best/model.safetensors",
        f"{run}/best/meta.json",
        f"{run}/config.json",
        f"{run}/tokenizer.json",
        "texts/inside.txt",
        "corpus/outside.txt",
        "prompts/template.toml",
    } <= set(names)
    assert data["corpus"]["files"] == ["texts/inside.txt", "corpus/outside.txt"]
    assert data["runs"] == [{"name": run_elsewhere.name, "path": run}]
    assert not any(str(tmp_path) in text for text in texts)
    assert not list((tmp_path / "out").glob(".*tmp"))  # written under a temporary name, then renamed


def test_export_of_chosen_runs_only(tmp_path, content):
    zip_path = exported(tmp_path, content, runs=[], include_corpus=False)
    with zipfile.ZipFile(zip_path) as zf:
        data = json.loads(zf.read(WORKSPACE_FILE))
        assert not any(n.startswith(("runs/", "texts/", "corpus/")) for n in zf.namelist())
    assert data["runs"] == [] and data["checkpoint"] is None


def test_import_round_trip(tmp_path, content, template, run_elsewhere):
    zip_path = exported(tmp_path, content)
    dest = tmp_path / "imported"
    assert import_workspace(zip_path, dest) == dest
    opened = open_workspace(dest)
    assert opened.problems == []
    assert [t.name for t in opened.tokenizers] == [t.name for t in content.tokenizers]
    assert opened.template == template and opened.workspace.panels == content.panels
    assert opened.corpus.files == (dest / "texts" / "inside.txt", dest / "corpus" / "outside.txt")
    assert opened.corpus.read_text() == "Text kept in the workspace.\nText kept somewhere else.\n"
    assert opened.checkpoint == dest / "runs" / run_elsewhere.name
    assert not (opened.checkpoint / "best" / "state.pt").exists()
    from playground.core.checkpoints import load_checkpoint

    checkpoint, _ = load_checkpoint(opened.checkpoint)
    assert checkpoint.step > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_import_into_an_existing_empty_folder(tmp_path, content):
    zip_path = exported(tmp_path, content, runs=[])
    dest = tmp_path / "empty"
    dest.mkdir()
    import_workspace(zip_path, dest)
    assert read_workspace(dest).tokenizer == content.tokenizer.name


# Hostile and damaged zips: each is refused, and the folders around the destination stay as they were.

VALID = json.dumps({"format": "llm-playground-workspace", "version": WORKSPACE_VERSION})


def make_zip(members: list) -> bytes:
    """A zip of (name or ZipInfo, bytes) pairs."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name: that is the point
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


HOSTILE = {
    "no workspace.json": ([("tokenizers/a.json", "{}")], "has no workspace.json"),
    "bad json": ([("workspace.json", "{oops")], "not valid JSON"),
    "newer version": (
        [("workspace.json", json.dumps({"format": "llm-playground-workspace", "version": 99}))],
        "newer version",
    ),
    "climbs out": ([("workspace.json", VALID), ("../evil.txt", "x")], "climbs out"),
    "climbs out deeper": ([("workspace.json", VALID), ("runs/../../../evil.txt", "x")], "climbs out"),
    "absolute": ([("workspace.json", VALID), ("/tmp/evil.txt", "x")], "absolute path"),
    "drive letter": ([("workspace.json", VALID), ("C:/evil.txt", "x")], "drive letter"),
    "backslashes": ([("workspace.json", VALID), ("..\\..\\evil.txt", "x")], "backslash"),
    "symlink": ([("workspace.json", VALID), (symlink("runs/link"), "/etc/passwd")], "symbolic link"),
    "duplicate": ([("workspace.json", VALID), ("a.txt", "1"), ("a.txt", "2")], "twice"),
    "zip bomb": ([("workspace.json", VALID), ("big.txt", b"\0" * (8 * 2**20))], "zip bomb"),
    # Each member at 1 MiB stays under the per-member check; together they are a bomb all the same.
    "many small bombs": ([("workspace.json", VALID)] + [(f"z/{i}.bin", b"\0" * 2**20) for i in range(4)], "zip bomb"),
    "a file that is also a folder": (
        [("workspace.json", VALID), ("runs", "x"), ("runs/x/config.json", "{}")],
        "'runs' is a file, yet other members lie inside it",
    ),
    "deeply nested workspace.json": ([("workspace.json", "[" * 50_000 + "]" * 50_000)], "levels deep"),
    "absolute path inside workspace.json": (
        [
            (
                "workspace.json",
                json.dumps(
                    {
                        "format": "llm-playground-workspace",
                        "version": 1,
                        "tokenizers": [{"name": "t", "file": "/etc/passwd"}],
                    }
                ),
            )
        ],
        "absolute path",
    ),
}


@pytest.fixture
def around(tmp_path):
    """The destination two levels down, so a member that climbs out anywhere would show."""
    dest = tmp_path / "outer" / "parent" / "dest"
    dest.parent.mkdir(parents=True)
    return dest


def refuse(tmp_path, around, zip_bytes: bytes, words: str):
    zip_path = tmp_path / "hostile.zip"
    zip_path.write_bytes(zip_bytes)
    before = tree(tmp_path)
    with pytest.raises(UserError, match=words):
        import_workspace(zip_path, around)
    assert tree(tmp_path) == before and not around.exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_zip_is_refused_and_nothing_is_written(tmp_path, around, case):
    members, words = HOSTILE[case]
    refuse(tmp_path, around, make_zip(members), words)


@pytest.mark.parametrize(
    "limit, value, members, words",
    [
        ("MAX_ZIP_MEMBERS", 5, [("workspace.json", VALID)] + [(f"f{i}.txt", "x") for i in range(9)], "members"),
        (
            "MAX_ZIP_TOTAL_BYTES",
            4000,
            [("workspace.json", VALID)] + [(f"f{i}", os.urandom(1500)) for i in range(3)],
            "more than",
        ),
        ("MAX_ZIP_MEMBER_BYTES", 1000, [("workspace.json", VALID), ("f", os.urandom(2000))], "would unpack"),
    ],
)
def test_limits_are_checked_before_extracting(tmp_path, around, monkeypatch, limit, value, members, words):
    monkeypatch.setattr(zip_safety, limit, value)
    refuse(tmp_path, around, make_zip(members), words)


def test_the_many_small_members_of_the_field_report_are_refused_at_once(tmp_path, around):
    """1,900 members of 1 MiB of zeros: 2 MB packed, 1.99 GB unpacked; refused before anything is read."""
    zip_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("workspace.json", VALID)
        zeros = b"\0" * 2**20
        for i in range(1900):
            zf.writestr(f"runs/r/{i}.bin", zeros)
    assert zip_path.stat().st_size < 3 * 2**20
    with pytest.raises(UserError, match=r"times bigger than it is packed .* to 1.86 GB\), as only a zip bomb"):
        import_workspace(zip_path, around)
    assert not around.exists()


def test_a_zip_bigger_than_the_free_space_is_refused(tmp_path, around, monkeypatch):
    zip_path = tmp_path / "ok.zip"
    zip_path.write_bytes(make_zip([("workspace.json", VALID), ("tokenizers/a.json", os.urandom(5000))]))
    free = shutil.disk_usage(tmp_path)._replace(free=10 * 2**20)
    monkeypatch.setattr(zipmod.shutil, "disk_usage", lambda path: free)
    with pytest.raises(UserError, match="has only 10.0 MB free: free some space or choose another folder"):
        import_workspace(zip_path, around)
    assert not around.exists()


def test_a_template_saved_with_a_byte_order_mark_opens_with_the_workspace(tmp_path, template):
    save_workspace(tmp_path / "ws", WorkspaceContent(template=template.to_dict()))
    path = tmp_path / "ws" / "prompts" / "template.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    opened = open_workspace(tmp_path / "ws")
    assert opened.problems == [] and opened.template == template


def test_a_damaged_member_stops_the_import_and_leaves_nothing(tmp_path, around):
    data = bytearray(make_zip([("workspace.json", VALID), ("tokenizers/a.json", os.urandom(5000))]))
    start = data.find(b"tokenizers/a.json") + len("tokenizers/a.json") + 20  # inside the member's data
    data[start : start + 64] = bytes(64)
    refuse(tmp_path, around, bytes(data), "damaged")


def test_not_a_zip_and_a_folder_in_use_are_refused(tmp_path, around):
    refuse(tmp_path, around, b"this is not a zip file at all", "not a zip file")
    around.mkdir()
    (around / "mine.txt").write_text("keep me")
    zip_path = tmp_path / "ok.zip"
    zip_path.write_bytes(make_zip([("workspace.json", VALID)]))
    with pytest.raises(UserError, match="not an empty folder"):
        import_workspace(zip_path, around)
    assert tree(around) == ["mine.txt"]


def test_a_minimal_zip_imports(tmp_path, around):
    zip_path = tmp_path / "ok.zip"
    zip_path.write_bytes(make_zip([("workspace.json", VALID)]))
    import_workspace(zip_path, around)
    assert read_workspace(around) == Workspace()


def test_an_outside_file_never_takes_the_name_of_a_file_inside(tmp_path):
    workspace = tmp_path / "ws"
    (workspace / "corpus").mkdir(parents=True)
    inside = workspace / "corpus" / "notes.txt"
    inside.write_text("Inside the workspace.\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "notes.txt"
    outside.write_text("Somewhere else.\n", encoding="utf-8")
    save_workspace(workspace, WorkspaceContent(corpus=Corpus(name="two notes", files=(inside, outside))))
    zip_path = tmp_path / "out" / "ws.zip"
    export_workspace(workspace, zip_path)
    with zipfile.ZipFile(zip_path) as zf:
        texts = sorted(zf.read(n).decode() for n in zf.namelist() if n.startswith("corpus/"))
    assert texts == ["Inside the workspace.\n", "Somewhere else.\n"]


# ---------------------------------------------------------------------------- each panel's state has a version


def test_a_panel_state_saved_before_versions_loads_and_is_saved_with_one(tmp_path):
    folder = write_json(
        tmp_path / "ws",
        {
            "format": "llm-playground-workspace",
            "version": 1,
            "panels": {"build": {"preset": "small"}, "window": {"step": 2}},
        },
    )
    ws = read_workspace(folder)
    assert ws.panels == {"build": {"preset": "small"}, "window": {"step": 2}} and ws.notes == []
    saved = ws.to_dict()["panels"]
    assert saved["build"] == {"preset": "small", "version": formatmod.PANEL_STATE_VERSIONS["build"]}
    assert Workspace.from_dict(ws.to_dict()).panels == ws.panels  # the version is the file's, not the panel's


def test_a_panel_state_is_migrated_step_by_step(tmp_path, monkeypatch):
    # Pretend the Build step moved on to version 2, which renamed "preset" to "size".
    def one_to_two(state: dict) -> dict:
        state["size"] = state.pop("preset")
        return state

    monkeypatch.setitem(formatmod.PANEL_STATE_VERSIONS, "build", 2)
    monkeypatch.setitem(formatmod.PANEL_MIGRATIONS, "build", {0: formatmod._unversioned_to_first, 1: one_to_two})
    for state in ({"preset": "small"}, {"preset": "small", "version": 1}):  # unversioned, and version 1
        folder = write_json(
            tmp_path / "ws", {"format": "llm-playground-workspace", "version": 1, "panels": {"build": state}}
        )
        assert read_workspace(folder).panels == {"build": {"size": "small"}}


def test_a_panel_state_from_a_newer_app_is_left_out_with_a_note(tmp_path):
    newer = formatmod.PANEL_STATE_VERSIONS["train"] + 1
    folder = write_json(
        tmp_path / "ws",
        {
            "format": "llm-playground-workspace",
            "version": 1,
            "panels": {
                "train": {"steps": 5, "version": newer},
                "build": {"preset": "small", "version": 1},
                "build-v9": {"anything": True, "version": 3},
            },
        },
    )  # a panel this app does not have: kept as it came
    ws = read_workspace(folder)
    assert ws.panels == {"build": {"preset": "small"}, "build-v9": {"anything": True, "version": 3}}
    assert len(ws.notes) == 1 and "The Train step's settings were saved by a newer version" in ws.notes[0]
    assert open_workspace(folder).problems == ws.notes
    write_json(folder, {"format": "llm-playground-workspace", "version": 1, "panels": {"train": {"version": "x"}}})
    assert "unknown version 'x'" in read_workspace(folder).notes[0]


# ---------------------------------------------------------------------------- the jobs: progress, results, stopping


def test_export_and_import_report_progress_and_return_their_results(tmp_path, content):
    save_workspace(tmp_path / "ws", content)
    zip_path = tmp_path / "out" / "ws.zip"
    items = []
    export = zipmod.export_workspace(tmp_path / "ws", zip_path)
    notes = run_quietly(_recording(export, items))
    fractions = [p.fraction for p in items if p.fraction is not None]
    assert notes == [] and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(p.message.startswith("Exporting runs/") for p in items)

    items.clear()
    dest = run_quietly(_recording(zipmod.import_workspace(zip_path, tmp_path / "in"), items))
    assert dest == (tmp_path / "in").absolute() and read_workspace(dest).tokenizer == content.tokenizer.name
    assert any(p.message.startswith("Unpacking runs/") for p in items) and items[-1].fraction == 1.0


def _recording(gen, items: list):
    """`gen`, each item it yields noted in `items` as it passes."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        items.append(item)
        yield item


def test_an_import_stopped_midway_leaves_nothing(tmp_path, content, around):
    zip_path = exported(tmp_path, content)
    before = tree(tmp_path)
    job = zipmod.import_workspace(zip_path, around)
    for item in job:
        if item.message.startswith("Unpacking runs/"):
            break
    assert any(p.name.startswith(".dest.") for p in around.parent.iterdir())  # it was unpacking
    job.close()  # what the engine does when the person cancels
    assert tree(tmp_path) == before and not around.exists()


def test_an_export_stopped_midway_leaves_no_zip(tmp_path, content):
    save_workspace(tmp_path / "ws", content)
    (tmp_path / "out").mkdir()
    job = zipmod.export_workspace(tmp_path / "ws", tmp_path / "out" / "ws.zip")
    for item in job:
        if item.message.startswith("Exporting runs/"):
            break
    job.close()
    assert list((tmp_path / "out").iterdir()) == []


def test_the_run_is_copied_by_a_job_before_the_save(tmp_path, content, run_elsewhere):
    folder = tmp_path / "ws"
    copies = wsmod.runs_to_copy(folder, content)
    assert copies == [wsmod.RunCopy(run_elsewhere, folder / "runs" / run_elsewhere.name)]
    assert not (folder / "runs").exists()  # asking wrote nothing
    items = []
    run_quietly(_recording(wsmod.copy_runs(copies), items))
    assert items[-1].fraction == 1.0 and "Copying the run" in items[0].message
    assert wsmod.runs_to_copy(folder, content) == []  # nothing left: the save that follows copies nothing
    copied = {p: p.stat().st_mtime_ns for p in (folder / "runs").rglob("*") if p.is_file()}
    save_workspace(folder, content)
    assert {p: p.stat().st_mtime_ns for p in copied} == copied
    assert read_workspace(folder).runs[0].path == f"runs/{run_elsewhere.name}"

    content.training = True  # a run being written is not copied until it ends
    assert wsmod.runs_to_copy(folder, content) == []


def test_a_copy_stopped_midway_leaves_no_half_file_and_skips_unfinished_checkpoints(tmp_path, content, run_elsewhere):
    (run_elsewhere / "last.tmp").mkdir()
    (run_elsewhere / "last.tmp" / "model.safetensors").write_bytes(b"half a checkpoint")
    folder = tmp_path / "ws"
    job = wsmod.copy_runs(wsmod.runs_to_copy(folder, content))
    next(job), next(job)
    job.close()
    target = folder / "runs" / run_elsewhere.name
    leftovers = [p for p in target.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for copied in (p for p in target.rglob("*") if p.is_file()):
        assert copied.read_bytes() == (run_elsewhere / copied.relative_to(target)).read_bytes()
    run_quietly(wsmod.copy_runs(wsmod.runs_to_copy(folder, content)))
    assert not (target / "last.tmp").exists() and (target / "best" / "model.safetensors").is_file()


def test_the_workspace_s_model_loads_in_a_job():
    checkpoint, model = run_quietly(wsmod.load_run(DEMO, "best"))
    assert checkpoint.run_dir == DEMO and checkpoint.which == "best" and model.config == checkpoint.model_config


def test_a_member_that_is_not_a_regular_file_is_refused(tmp_path, around):
    info = zipfile.ZipInfo("runs/pipe")
    info.create_system = 3
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    refuse(tmp_path, around, make_zip([("workspace.json", VALID), (info, "")]), "not a regular file")
