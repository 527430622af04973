#!/usr/bin/env python3
"""Time one PyTorch CPU training step of the maskscope Seq2Seq, as a yardstick for candle.

Step = forward (causal + padding masks) + cross-entropy (ignore_index=0) + backward +
AdamW step (+ zero_grad). Model: d_model 128, 4 heads, 2+2 layers, d_ff 512, vocab 64,
dropout 0.1, batch 32, source and target length 16 (lengths vary per sequence, padded).

    .venv/bin/python tools/bench_pytorch_step.py --threads 2

Prints  `pytorch_step_ms median=... p10=... p90=...`  and a JSON line.
Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_reference import BOS, EOS, PAD, Seq2Seq  # noqa: E402


def make_batch(gen, B, L, V):
    """Random char-level pairs: target lengths 8..L-1 so <bos>+target / target+<eos> fit in L."""
    src = torch.full((B, L), PAD, dtype=torch.int64)
    tgt_in = torch.full((B, L), PAD, dtype=torch.int64)
    labels = torch.full((B, L), PAD, dtype=torch.int64)
    for b in range(B):
        ls = int(torch.randint(L // 2, L + 1, (1,), generator=gen))
        lt = int(torch.randint(L // 2, L, (1,), generator=gen))
        src[b, :ls] = torch.randint(4, V, (ls,), generator=gen)
        tgt = torch.randint(4, V, (lt,), generator=gen)
        tgt_in[b, 0] = BOS
        tgt_in[b, 1 : lt + 1] = tgt          # decoder input = <bos> + target
        labels[b, :lt] = tgt
        labels[b, lt] = EOS                  # labels = target + <eos>
    return src, tgt_in, labels, src == PAD, tgt_in == PAD


def percentile(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch CPU training-step benchmark")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    V, D, H, NE, ND, FF, B, L, P = 64, 128, 4, 2, 2, 512, 32, 16, 0.1
    model = Seq2Seq(V, D, H, NE, ND, FF, P, norm_first=False, max_len=64)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    n_params = sum(p.numel() for p in model.parameters())
    batches = [make_batch(gen, B, L, V) for _ in range(4)]

    def step(i):
        src, tgt_in, labels, src_pad, tgt_pad = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        logits = model(src, tgt_in, src_pad, tgt_pad)
        loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=PAD)
        loss.backward()
        opt.step()
        return loss.item()  # forces completion

    for i in range(args.warmup):
        step(i)
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = step(i)
        times.append((time.perf_counter() - t0) * 1e3)

    med, p10, p90 = statistics.median(times), percentile(times, 0.1), percentile(times, 0.9)
    print(f"pytorch_step_ms median={med:.2f} p10={p10:.2f} p90={p90:.2f}")
    print(json.dumps({
        "bench": "pytorch_step", "threads": args.threads, "median_ms": round(med, 3),
        "p10_ms": round(p10, 3), "p90_ms": round(p90, 3), "steps": args.steps,
        "warmup": args.warmup, "batch": B, "src_len": L, "tgt_len": L, "d_model": D,
        "n_heads": H, "layers": [NE, ND], "d_ff": FF, "vocab": V, "dropout": P,
        "params": n_params, "final_loss": round(loss, 4), "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
