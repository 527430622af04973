#!/usr/bin/env python3
"""Fine-tune round trip against transformers (not run by CI).

1. `maskscope train --base tests/fixtures/marian/en-zh --data assets/data/en-zh.tsv --steps 2
   --freeze embeddings,encoder --out OUT` fine-tunes the en-zh fixture for two steps and saves
   a model folder;
2. `maskscope inspect --model OUT ... --json` prints its logits on two pairs;
3. transformers' `MarianMTModel.from_pretrained(OUT)` and `MarianTokenizer.from_pretrained(OUT)`
   compute the same pairs; the script prints the largest difference and fails above 1e-4.

Run from the repository root:  .venv/bin/python tools/marian_roundtrip.py [path/to/maskscope]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import MarianMTModel, MarianTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PAIRS = [("She sees the small elephant.", "她看见那头小象。"), ("I like green tea.", "我喜欢绿茶。")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "binary",
        nargs="?",
        default=os.path.join(ROOT, "target", "debug", "maskscope"),
        help="the maskscope binary to test (default: target/debug/maskscope)",
    )
    binary = parser.parse_args().binary
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [binary, "train", "--base", os.path.join(ROOT, "tests/fixtures/marian/en-zh"),
             "--data", os.path.join(ROOT, "assets/data/en-zh.tsv"), "--steps", "2", "--batch-size", "4",
             "--lr", "1e-3", "--freeze", "embeddings,encoder", "--out", out],
            check=True,
        )
        args = [binary, "inspect", "--model", out, "--json"]
        for s, t in PAIRS:
            args += ["--src", s, "--tgt", t]
        ours = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)

        model = MarianMTModel.from_pretrained(out).eval()
        tok = MarianTokenizer.from_pretrained(out)
        worst = 0.0
        for b, (s, t) in enumerate(PAIRS):
            src = tok(s, return_tensors="pt")
            labels = tok(text_target=t, return_tensors="pt")["input_ids"]
            dec_in = torch.cat([torch.tensor([[model.config.decoder_start_token_id]]), labels[:, :-1]], 1)
            with torch.no_grad():
                logits = model(**src, decoder_input_ids=dec_in).logits[0].numpy()
            mine = np.array(ours["batch"][b]["logits"], dtype=np.float32)[: logits.shape[0]]
            worst = max(worst, float(np.abs(mine - logits).max()))
        print(f"fine-tuned folder: largest logit difference maskscope vs transformers = {worst:.2e}")
        if worst > 1e-4:
            sys.exit("round trip FAILED")


if __name__ == "__main__":
    main()
