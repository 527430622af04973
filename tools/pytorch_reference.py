#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for maskscope's candle model.

Writes, for a post-LN (norm_first=False) and a pre-LN (norm_first=True) configuration:

    tests/fixtures/reference_{postln,preln}.safetensors           a maskscope checkpoint
    tests/fixtures/reference_{postln,preln}_expected.safetensors  inputs + expected outputs

The expected file holds
    src               (B,S)               int64   source ids, padded with 0
    tgt_in            (B,T)               int64   decoder input ids (<bos>=1 first), padded with 0
    src_len           (B,)                int64   real source lengths
    tgt_len           (B,)                int64   real decoder-input lengths (including <bos>)
    logits            (B,T,V)             float32 model(...) with causal + padding masks
    logits_nomask     (B,T,V)             float32 model(...) with no masks at all
    encoder_out       (B,S,d)             float32 memory, after the final encoder LayerNorm
    encoder_attn      (L_enc,B,H,S,S)     float32 per-head post-softmax weights
    decoder_self_attn (L_dec,B,H,T,T)     float32
    cross_attn        (L_dec,B,H,T,S)     float32

Conventions pinned by these fixtures (they are PyTorch's):
  * Only KEYS are masked. Padding query rows still attend to the real keys, so their
    attention rows, encoder outputs and logits are ordinary numbers (no NaN, no zeros).
    Compare pad rows only if your implementation follows the same convention.
  * Encoder outputs at padding positions are the slow-path values (see the fast-path note
    below); cross-attention never looks at them because memory keys are padding-masked.

Not run by CI. Regenerate with:  .venv/bin/python tools/pytorch_reference.py
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
FORMAT = "maskscope-checkpoint-v1"


def sinusoidal_pe(max_len: int, d: int) -> torch.Tensor:
    """pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(same), float32."""
    pe = torch.zeros(max_len, d)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


class Seq2Seq(nn.Module):
    def __init__(self, V, d_model, n_heads, n_enc, n_dec, d_ff, dropout, norm_first, max_len=64):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(V, d_model)
        self.tgt_embed = nn.Embedding(V, d_model)
        self.transformer = nn.Transformer(
            d_model, n_heads, n_enc, n_dec, d_ff, dropout,
            activation="relu", batch_first=True, norm_first=norm_first,
        )  # layer_norm_eps 1e-5; includes the final encoder and decoder LayerNorms
        self.generator = nn.Linear(d_model, V)
        # Not persistent: the checkpoint holds exactly the learned parameters.
        self.register_buffer("pe", sinusoidal_pe(max_len, d_model), persistent=False)

    def embed(self, src, tgt_in):
        scale = math.sqrt(self.d_model)
        x = self.src_embed(src) * scale + self.pe[: src.shape[1]]
        y = self.tgt_embed(tgt_in) * scale + self.pe[: tgt_in.shape[1]]
        return x, y

    def forward(self, src, tgt_in, src_pad=None, tgt_pad=None, causal=True):
        # src (B,S), tgt_in (B,T) int64; *_pad bool (B,len), True = padding (None = no mask)
        x, y = self.embed(src, tgt_in)
        T = tgt_in.shape[1]
        tgt_mask = causal_mask(T) if causal else None
        out = self.transformer(
            x, y, tgt_mask=tgt_mask,
            src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
            memory_key_padding_mask=src_pad,
        )
        return self.generator(out)


def causal_mask(T: int) -> torch.Tensor:
    """Boolean (T,T), True = blocked (key j > query i)."""
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def checkpoint_metadata(cfg: dict, vocab: list[str], history=None) -> dict:
    meta = {"format": FORMAT, "config": json.dumps(cfg), "vocab": json.dumps(vocab)}
    if history is not None:
        meta["history"] = json.dumps(history)
    return meta


def save_deterministic(tensors: dict, path: str, metadata: dict):
    """Write a standard safetensors file whose bytes depend only on the content.

    safetensors.torch.save_file() writes the __metadata__ entries in hash-map order, so two
    runs give different bytes (identical content). Committed fixtures should not churn on
    regeneration, so we write the (simple, documented) format ourselves: 8-byte LE header
    length, JSON header (__metadata__ first, sorted keys), space padding to 8 bytes, then the
    raw little-endian data. Read back with load_file/safe_open like any other file."""
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    names = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for k in names:
        t = tensors[k].detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[k] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    # round-trip through the official reader
    back = load_file(path)
    assert back.keys() == tensors.keys()
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)
    with safe_open(path, "pt") as f:
        assert f.metadata() == metadata


# ---------------------------------------------------------------------------------------
# Layer-by-layer recomputation that also returns the per-head attention weights.
# Mirrors TransformerEncoderLayer.forward / TransformerDecoderLayer.forward (slow path) in
# torch/nn/modules/transformer.py, calling each layer's own submodules. The only change is
# need_weights=True, average_attn_weights=False (which makes MultiheadAttention take its
# explicit baddbmm/softmax/bmm path instead of SDPA; numerically the same to ~1e-7).
# ---------------------------------------------------------------------------------------
def manual_forward(model: Seq2Seq, src, tgt_in, src_pad, tgt_pad, causal: bool):
    x, y = model.embed(src, tgt_in)
    tgt_mask = causal_mask(tgt_in.shape[1]) if causal else None
    enc, dec = model.transformer.encoder, model.transformer.decoder
    enc_w, self_w, cross_w = [], [], []

    def attn(mha, q, kv, mask, kpm, store):
        out, w = mha(q, kv, kv, attn_mask=mask, key_padding_mask=kpm,
                     need_weights=True, average_attn_weights=False)
        store.append(w)  # (B,H,Lq,Lk)
        return out

    for layer in enc.layers:
        def sa(h):
            return layer.dropout1(attn(layer.self_attn, h, h, None, src_pad, enc_w))
        if layer.norm_first:
            x = x + sa(layer.norm1(x))
            x = x + layer._ff_block(layer.norm2(x))
        else:
            x = layer.norm1(x + sa(x))
            x = layer.norm2(x + layer._ff_block(x))
    memory = enc.norm(x)

    for layer in dec.layers:
        def sa(h):
            return layer.dropout1(attn(layer.self_attn, h, h, tgt_mask, tgt_pad, self_w))

        def ca(h):
            return layer.dropout2(attn(layer.multihead_attn, h, memory, None, src_pad, cross_w))
        if layer.norm_first:
            y = y + sa(layer.norm1(y))
            y = y + ca(layer.norm2(y))
            y = y + layer._ff_block(layer.norm3(y))
        else:
            y = layer.norm1(y + sa(y))
            y = layer.norm2(y + ca(y))
            y = layer.norm3(y + layer._ff_block(y))
    y = dec.norm(y)
    logits = model.generator(y)
    return {
        "logits": logits,
        "encoder_out": memory,
        "encoder_attn": torch.stack(enc_w),
        "decoder_self_attn": torch.stack(self_w),
        "cross_attn": torch.stack(cross_w),
    }


def randomize(model: nn.Module, gen: torch.Generator):
    """Re-initialise every parameter so that attention is far from uniform and a missing
    bias / misplaced LayerNorm changes the numbers."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:  # projection matrices
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def make_batch(gen, V, src_lens, tgt_lens):
    B, S, T = len(src_lens), max(src_lens), max(tgt_lens)
    src = torch.full((B, S), PAD, dtype=torch.int64)
    tgt_in = torch.full((B, T), PAD, dtype=torch.int64)
    for b, (ls, lt) in enumerate(zip(src_lens, tgt_lens)):
        src[b, :ls] = torch.randint(len(SPECIALS), V, (ls,), generator=gen)
        tgt_in[b, 0] = BOS
        tgt_in[b, 1:lt] = torch.randint(len(SPECIALS), V, (lt - 1,), generator=gen)
    src_len = torch.tensor(src_lens, dtype=torch.int64)
    tgt_len = torch.tensor(tgt_lens, dtype=torch.int64)
    src_pad = torch.arange(S)[None, :] >= src_len[:, None]
    tgt_pad = torch.arange(T)[None, :] >= tgt_len[:, None]
    return src, tgt_in, src_len, tgt_len, src_pad, tgt_pad


def build_fixture(name: str, norm_first: bool, out_dir: str, seed: int):
    vocab = SPECIALS + list("abcdefghijklmnop")  # V = 20
    V = len(vocab)
    cfg = {
        "d_model": 16, "n_heads": 2, "n_encoder_layers": 2, "n_decoder_layers": 2,
        "d_ff": 32, "dropout": 0.0, "norm_first": norm_first, "max_len": 64,
        "tokenizer": "char",
    }
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Seq2Seq(V, cfg["d_model"], cfg["n_heads"], cfg["n_encoder_layers"],
                    cfg["n_decoder_layers"], cfg["d_ff"], cfg["dropout"], norm_first,
                    cfg["max_len"])
    randomize(model, gen)
    model.eval()

    src, tgt_in, src_len, tgt_len, src_pad, tgt_pad = make_batch(
        gen, V, src_lens=[5, 3, 7], tgt_lens=[4, 6, 2])

    with torch.no_grad():
        ref = model(src, tgt_in, src_pad, tgt_pad, causal=True)
        ref_nomask = model(src, tgt_in, None, None, causal=False)
        man = manual_forward(model, src, tgt_in, src_pad, tgt_pad, causal=True)
        man_nomask = manual_forward(model, src, tgt_in, None, None, causal=False)

    # --- checks -------------------------------------------------------------------------
    real_t = ~tgt_pad  # (B,T)
    d_real = (man["logits"] - ref)[real_t].abs().max().item()
    d_all = (man["logits"] - ref).abs().max().item()
    d_nomask = (man_nomask["logits"] - ref_nomask).abs().max().item()
    print(f"[{name}] manual vs model logits: max|diff| real={d_real:.2e} all={d_all:.2e} "
          f"nomask={d_nomask:.2e}; |logits| max={ref.abs().max().item():.2f}")
    assert d_real <= 1e-6, f"manual recomputation differs from model(): {d_real}"
    assert d_nomask <= 1e-6, f"manual no-mask recomputation differs: {d_nomask}"
    # Structural check free of float32 noise: the same weights (f32 values, exact in f64) and
    # the same f32 PE table, run in float64. Differences here would be a real bug.
    m64 = copy.deepcopy(model).double()
    with torch.no_grad():
        ref64 = m64(src, tgt_in, src_pad, tgt_pad, causal=True)
        man64 = manual_forward(m64, src, tgt_in, src_pad, tgt_pad, causal=True)
        ref64_nomask = m64(src, tgt_in, None, None, causal=False)
    d64 = (man64["logits"] - ref64).abs().max().item()
    assert d64 <= 1e-10, f"float64 manual recomputation differs from model(): {d64}"
    # How far float32 is from exact math: a guide for tolerances in the Rust tests.
    noise = {
        "logits": (ref.double() - ref64).abs().max().item(),
        "logits_nomask": (ref_nomask.double() - ref64_nomask).abs().max().item(),
        **{k: (man[k].double() - man64[k]).abs().max().item()
           for k in ("encoder_out", "encoder_attn", "decoder_self_attn", "cross_attn")},
    }
    print(f"[{name}] float64 manual vs model: {d64:.1e}; float32 vs float64 max|diff|: "
          + ", ".join(f"{k}={v:.1e}" for k, v in noise.items()))
    tensors = {
        "src": src, "tgt_in": tgt_in, "src_len": src_len, "tgt_len": tgt_len,
        "logits": ref, "logits_nomask": ref_nomask,
        "encoder_out": man["encoder_out"], "encoder_attn": man["encoder_attn"],
        "decoder_self_attn": man["decoder_self_attn"], "cross_attn": man["cross_attn"],
    }
    for k, t in tensors.items():
        if t.is_floating_point():
            assert torch.isfinite(t).all(), f"{k} has NaN/inf"
    # masks really applied: blocked keys get exactly 0 weight, rows sum to 1
    for k in ("encoder_attn", "decoder_self_attn", "cross_attn"):
        w = tensors[k]
        assert torch.allclose(w.sum(-1), torch.ones(()), atol=1e-5), k
    assert (tensors["encoder_attn"][..., src_pad[None, :, None, None, :].expand_as(
        tensors["encoder_attn"])] == 0).all()
    assert (tensors["cross_attn"] * src_pad[None, :, None, None, :]).abs().max() == 0
    blocked_self = causal_mask(tgt_in.shape[1])[None, :, :] | tgt_pad[:, None, :]  # (B,T,T)
    assert (tensors["decoder_self_attn"] * blocked_self[None, :, None]).abs().max() == 0
    # masks matter: the masked and unmasked logits differ
    assert (ref - ref_nomask).abs().max() > 1e-2
    # attention is non-trivial (not uniform, not one-hot everywhere)
    for k in ("encoder_attn", "decoder_self_attn", "cross_attn"):
        w = tensors[k]
        print(f"[{name}]   {k}: mean row max={w.max(-1).values.mean().item():.3f}")

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    os.makedirs(out_dir, exist_ok=True)
    ckpt = os.path.join(out_dir, f"reference_{name}.safetensors")
    expected = os.path.join(out_dir, f"reference_{name}_expected.safetensors")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    assert "pe" not in state
    # Same content as save_file(state, ckpt, metadata=...); see save_deterministic.
    save_deterministic(state, ckpt, metadata=checkpoint_metadata(cfg, vocab))
    save_deterministic(tensors, expected, metadata={
        "format": "maskscope-reference-v1",
        "checkpoint": os.path.basename(ckpt),
        "torch": torch.__version__,
        "seed": str(seed),
        "note": "logits = model(src, tgt_in, src_pad, tgt_pad) with bool causal mask; "
                "logits_nomask = no masks at all; attention = per-head post-softmax weights; "
                "only keys are masked (pad query rows attend to real keys)",
    })
    for p in (ckpt, expected):
        print(f"[{name}] wrote {p} ({os.path.getsize(p)} bytes)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out-dir", default=os.path.join(here, "..", "tests", "fixtures"))
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    # Fast path: in eval mode TransformerEncoder may convert padded input to a nested
    # tensor (enable_nested_tensor defaults to True inside nn.Transformer, used for
    # post-LN) and run torch._transformer_encoder_layer_fwd; the layer stack then outputs
    # ZEROS at padding positions (so encoder_out there becomes the final norm's bias), and
    # MultiheadAttention may use its fused native kernel. We switch every such path off
    # globally with set_fastpath_enabled(False), so model(...) runs the plain Python layer
    # code, the same code manual_forward() re-runs with need_weights=True. (Checked: with the
    # fast path on, real-position outputs agree to ~1e-6; pad-position encoder outputs don't.)
    torch.backends.mha.set_fastpath_enabled(False)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    out_dir = os.path.normpath(args.out_dir)
    build_fixture("postln", norm_first=False, out_dir=out_dir, seed=args.seed)
    build_fixture("preln", norm_first=True, out_dir=out_dir, seed=args.seed + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
