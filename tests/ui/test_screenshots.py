"""`playground --screenshot` shoots every step in each look a room may see, and puts the look back."""

from PySide6.QtGui import QImage


def test_every_step_is_shot_in_each_look_and_the_look_comes_back(qtbot, session, tmp_path):
    from playground.ui import themes
    from playground.ui.main_window import MainWindow
    from playground.ui.screenshots import SCREEN, shoot_every_step

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(*SCREEN)
    window.show()
    before = themes.current_look()
    paths = shoot_every_step(window, tmp_path, "presentation")
    assert [p.name for p in paths] == [
        f"presentation-{n}-{title.lower()}.png" for n, title in enumerate(window.step_titles, start=1)
    ]
    for path in paths:
        image = QImage(str(path))
        assert (image.width(), image.height()) == SCREEN, path.name
    assert not window.presentation_mode and themes.current_look() == before
    assert window.size().toTuple() == SCREEN  # presentation mode never grew the window
