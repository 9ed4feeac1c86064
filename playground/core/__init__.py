"""The Qt-free library behind the app: corpora, tokenizers, models, training.

Everything here works from a script, a notebook or the command line; nothing
imports Qt (a test holds that line).
"""
