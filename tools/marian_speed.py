#!/usr/bin/env python3
"""maskscope vs transformers on an opus-mt-sized Marian model, side by side (not run by CI).

Makes a random MarianMTModel folder the size of opus-mt-en-zh (d_model 512, 6 + 6 layers,
8 heads, ffn 2048, vocab 65,001, swish, shared embeddings), then times on the same thread
count, each side as a median of RUNS after one warm-up:
  * forward plus full trace of one 20 + 20 token pair (transformers: eager attention,
    output_attentions=True);
  * greedy decoding of exactly 20 tokens (</s> banned until the forced last one);
  * one fine-tuning step, batch 8, length 20, encoder and embeddings frozen (AdamW).
maskscope's side is examples/marian_speed.rs, run on the same folder.

    .venv/bin/python tools/marian_speed.py [--threads 1] [--runs 5] [--binary target/release/examples/marian_speed]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import torch
from transformers import GenerationConfig, MarianConfig, MarianMTModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "marian", "en-zh")
VOCAB = 65001


def make_folder(out: str) -> MarianMTModel:
    with open(os.path.join(FIXTURE, "vocab.json"), encoding="utf-8") as f:
        pieces = [p for p, _ in sorted(json.load(f).items(), key=lambda kv: kv[1]) if p != "<pad>"]
    pieces += [f"▁filler{i}" for i in range(VOCAB - 1 - len(pieces))]
    vocab = {p: i for i, p in enumerate(pieces + ["<pad>"])}
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    for name in ["source.spm", "target.spm", "tokenizer_config.json"]:
        shutil.copy(os.path.join(FIXTURE, name), out)
    pad = VOCAB - 1
    config = MarianConfig(
        vocab_size=VOCAB, decoder_vocab_size=VOCAB, d_model=512, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
        activation_function="swish", scale_embedding=True, max_position_embeddings=512,
        pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0, forced_eos_token_id=0,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    model.set_attn_implementation("eager")
    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad], [0]], decoder_start_token_id=pad, eos_token_id=0, forced_eos_token_id=0,
        max_length=21, num_beams=1, pad_token_id=pad,
    )
    model.save_pretrained(out)
    return model


def median_ms(runs: int, f) -> float:
    f()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def time_transformers(model: MarianMTModel, runs: int) -> dict:
    src = torch.arange(10, 30).unsqueeze(0)
    pad = model.config.pad_token_id
    dec = torch.cat([torch.tensor([[pad]]), torch.arange(10, 29).unsqueeze(0)], 1)

    def trace():
        with torch.no_grad():
            model(input_ids=src, decoder_input_ids=dec, output_attentions=True)

    def greedy():
        with torch.no_grad():
            out = model.generate(input_ids=src, num_beams=1, do_sample=False)
        assert out.shape[1] == 21, out.shape

    for p in model.model.shared.parameters():
        p.requires_grad_(False)
    for p in model.model.encoder.parameters():
        p.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, weight_decay=0.0)
    src8, dec8 = src.repeat(8, 1), dec.repeat(8, 1)
    labels8 = torch.cat([torch.arange(10, 29), torch.tensor([0])]).unsqueeze(0).repeat(8, 1)

    def step():
        model.train()
        loss = model(input_ids=src8, decoder_input_ids=dec8, labels=labels8).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        model.eval()

    return {"side": "transformers", "trace_ms": median_ms(runs, trace), "greedy20_ms": median_ms(runs, greedy),
            "finetune_step_ms": median_ms(runs, step)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "examples", "marian_speed"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        model = make_folder(folder)
        env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), CANDLE_NUM_THREADS="1")
        ours = json.loads(subprocess.run([args.binary, folder, str(args.runs)], check=True,
                                         capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1])
        theirs = time_transformers(model, args.runs)
    print(f"threads {args.threads}, median of {args.runs} runs (ms)")
    print(f"{'':18} {'maskscope':>10} {'transformers':>13} {'ratio':>6}")
    for key in ["trace_ms", "greedy20_ms", "finetune_step_ms"]:
        print(f"{key:18} {ours[key]:10.1f} {theirs[key]:13.1f} {ours[key] / theirs[key]:6.2f}")


if __name__ == "__main__":
    main()
