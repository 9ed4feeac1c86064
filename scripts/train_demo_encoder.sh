#!/usr/bin/env bash
# Train the demo encoder that ships in models/demo-encoder (its provenance: models/README.md).
#
#     bash scripts/train_demo_encoder.sh [WORK_DIR]        from the repository root
#
# A WordPiece tokenizer of 3,000 tokens ([UNK] [CLS] [SEP] [PAD] [MASK] among them) and a
# BERT-style model of the Build panel's "small" preset with a context of 32 tokens, both trained
# on the built-in corpus with BERT's masked-LM objective (15% of the tokens chosen, 80/10/10), on
# one CPU thread, so the same commands give the same weights on any machine that runs them on the
# CPU. In phases, as the GPT demo: 1,500 steps from scratch, then 1,500 and 2,000 more at half
# the learning rate (each phase starts from the best checkpoint of the one before). Only what the app needs is then copied into models/demo-encoder, and
# scripts/measure_demo_encoder.py prints what the model reached.
#
# Why a context of 32 (the small preset has 128): at 128 tokens this model sat for 1,000 steps
# (a CPU half hour) on the plateau where every mask gets the same guess, the corpus's most
# frequent tokens. A hidden token can only be guessed from the others through attention, which
# starts out spread evenly over the window: over 32 tokens the neighbours weigh four times
# more than over 128, and the model leaves the plateau within a few hundred steps.
set -euo pipefail
work=${1:-demo-encoder-work}
python=${PYTHON:-python}
mkdir -p "$work"

"$python" -m playground tokenizer train --corpus default --kind wordpiece --vocab-size 3000 \
    --out "$work/tokenizer.json" --overwrite
"$python" -m playground train --corpus default --tokenizer "$work/tokenizer.json" --flavour bert \
    --preset small --context 32 --batch-size 32 --steps 1500 --eval-interval 250 --lr 1e-3 --seed 1337 \
    --threads 1 --out "$work/run" --overwrite
"$python" -m playground train --init-from "$work/run" --corpus default --batch-size 32 --steps 1500 \
    --eval-interval 250 --lr 5e-4 --seed 1337 --threads 1 --out "$work/run2" --overwrite
"$python" -m playground train --init-from "$work/run2" --corpus default --batch-size 32 --steps 2000 \
    --eval-interval 250 --lr 5e-4 --seed 1337 --threads 1 --out "$work/run3" --overwrite

rm -rf models/demo-encoder
mkdir -p models/demo-encoder/best
cp "$work/run3/config.json" "$work/run3/tokenizer.json" "$work/run3/train_config.json" "$work/run3/history.json" \
    models/demo-encoder/
cp "$work/run3/best/model.safetensors" "$work/run3/best/meta.json" models/demo-encoder/best/
"$python" scripts/measure_demo_encoder.py models/demo-encoder
