"""Build's estimates and Train's run use one batch size: changing either changes both."""


def test_build_and_train_share_one_batch_size(qtbot, session):
    from playground.ui.build_panel import BuildPanel
    from playground.ui.training_panel import TrainingPanel

    build, train = BuildPanel(session), TrainingPanel(session)
    qtbot.addWidget(build)
    qtbot.addWidget(train)
    assert build.batch_size.value() == train.batch.value() == session.batch_size
    build.batch_size.setValue(48)
    assert train.batch.value() == 48 and session.batch_size == 48
    train.batch.setValue(8)
    assert build.batch_size.value() == 8
    # A panel built later starts from the session's value, not its own default.
    late, late_train = BuildPanel(session), TrainingPanel(session)
    qtbot.addWidget(late)
    qtbot.addWidget(late_train)
    assert late.batch_size.value() == late_train.batch.value() == 8
