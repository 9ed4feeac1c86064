"""Where the app finds what it ships, in a checkout and in an installed wheel."""

from pathlib import Path

import playground
from playground import paths
from playground.cli_args import model_dir


def test_a_checkout_finds_its_resources_beside_the_package():
    root = Path(playground.__file__).resolve().parent.parent
    assert paths.app_root() == root
    assert (paths.resources_dir() / "corpora").is_dir()
    assert (paths.icons_dir() / "llm-playground.png").is_file()


def test_a_wheel_layout_inside_the_package_is_preferred(tmp_path, monkeypatch):
    package = tmp_path / "playground"
    (package / "_app" / "resources").mkdir(parents=True)
    monkeypatch.setattr(paths, "files", lambda name: package)
    paths.app_root.cache_clear()
    try:
        assert paths.app_root() == package / "_app"
        assert paths.models_dir() == package / "_app" / "models"
    finally:
        paths.app_root.cache_clear()


def test_demo_names_the_shipped_model_unless_a_folder_of_that_name_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_dir("demo") == paths.demo_model_dir()
    assert model_dir("runs/mine") == Path("runs/mine")
    (tmp_path / "demo").mkdir()
    assert model_dir("demo") == Path("demo")


def test_the_demo_encoder_is_found_in_the_models_folder_and_none_while_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "models_dir", lambda: tmp_path)
    assert paths.demo_encoder_dir() is None
    (tmp_path / "demo-encoder").mkdir()
    assert paths.demo_encoder_dir() is None, "a folder without config.json is not a model"
    (tmp_path / "demo-encoder" / "config.json").write_text("{}")
    assert paths.demo_encoder_dir() == tmp_path / "demo-encoder"
