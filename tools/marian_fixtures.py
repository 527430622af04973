#!/usr/bin/env python3
"""Make small Marian (opus-mt style) fixtures from nothing, for maskscope's Rust tests.

For each configuration below this script
  1. trains two tiny SentencePiece unigram models (source.spm, target.spm) on the sentences
     written here (no download of any kind),
  2. builds vocab.json (and target_vocab.json when the vocabularies are separate) the way
     opus-mt folders lay them out: </s> = 0, <unk> = 1, pieces, <pad> last,
  3. draws random weights large enough that attention is far from uniform, and writes the
     folder with MarianMTModel.save_pretrained + MarianTokenizer.save_pretrained,
  4. writes expected.json (token ids for many strings, decodes, greedy and beam outputs) and
     expected.safetensors (logits, loss per position, the three kinds of attention on a
     padded batch) next to it.

    tests/fixtures/marian/en-zh/      like opus-mt-en-zh: swish, static sinusoidal positions,
                                      shared embeddings, final_logits_bias, post-LN, >>lang<<
    tests/fixtures/marian/wide/       gelu, separate vocabularies and decoder_vocab_size,
                                      unshared embeddings, untied lm_head, different head
                                      counts / ffn sizes / layer counts, no embedding scale

transformers' Marian is always post-LN without final or embedding norms; config fields that
older configs carry for those (normalize_before, add_final_layer_norm, normalize_embedding,
static_position_embeddings=false) are not computed by it, so maskscope refuses them by name
and no fixture sets them.

Not run by CI. Regenerate with:  .venv/bin/python tools/marian_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile

import numpy as np
import sentencepiece as spm
import torch
from safetensors.torch import save_file
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "marian")

ENGLISH = """She sees the small elephant.
I like green tea.
The cat sleeps on the warm chair.
We walk to school every morning.
My brother reads a long book.
The weather is cold today.
They drink coffee after lunch.
He opens the window slowly.
The children play in the park.
Where is the train station?
I do not understand the question.
Please close the door.
The teacher writes on the board.
Birds fly over the river.
Our house has a red roof.
The old man walks his dog.
Can you help me, please?
It is raining again.
She sings a beautiful song.
The students ask many questions.
I want to learn Chinese.
This soup is very hot.
He bought three apples and two pears.
The library opens at nine o'clock.
We saw a movie last night.
The small elephant drinks water.
My sister likes green apples.
Tea is better than coffee.
The door is open.
Thank you very much!""".splitlines()

CHINESE = """她看见那头小象。
我喜欢绿茶。
猫在温暖的椅子上睡觉。
我们每天早上走路去学校。
我哥哥在读一本很长的书。
今天天气很冷。
他们午饭后喝咖啡。
他慢慢地打开窗户。
孩子们在公园里玩。
火车站在哪里？
我不明白这个问题。
请关门。
老师在黑板上写字。
鸟儿飞过河流。
我们的房子有红色的屋顶。
老人在遛狗。
你能帮我吗？
又下雨了。
她唱了一首美丽的歌。
学生们问了很多问题。
我想学中文。
这汤很烫。
他买了三个苹果和两个梨。
图书馆九点开门。
我们昨晚看了一部电影。
小象在喝水。
我妹妹喜欢青苹果。
茶比咖啡好。
门开着。
非常感谢！""".splitlines()

GERMAN = """Sie sieht den kleinen Elefanten.
Ich mag grünen Tee.
Die Katze schläft auf dem warmen Stuhl.
Wir gehen jeden Morgen zur Schule.
Mein Bruder liest ein langes Buch.
Das Wetter ist heute kalt.
Sie trinken Kaffee nach dem Mittagessen.
Er öffnet langsam das Fenster.
Die Kinder spielen im Park.
Wo ist der Bahnhof?
Ich verstehe die Frage nicht.
Bitte schließen Sie die Tür.
Der Lehrer schreibt an die Tafel.
Vögel fliegen über den Fluss.
Unser Haus hat ein rotes Dach.
Der alte Mann geht mit seinem Hund spazieren.
Kannst du mir bitte helfen?
Es regnet schon wieder.
Sie singt ein schönes Lied.
Die Studenten stellen viele Fragen.""".splitlines()

# Strings whose ids (source and target side) and decodes the Rust tokenizer must reproduce.
TOKENIZER_CASES = [
    "She sees the small elephant.",
    "I like green tea.",
    "  leading and   repeated   spaces  ",
    "UPPER case and Unknown ZQX words",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and ① circled",
    "tabs\tand\nnewlines",
    "",
    " ",
    "é è ê ß ø",
    "我喜欢绿茶。",
    "混合 mixed 文本 text!",
    ">>zho_Hans<< I like green tea.",
    ">>xx<< unknown language code",
    "emoji 🐘 and symbols ∑ ≈",
    "a",
    "..,,!!??",
    "cafe\u0301 combining",
]


def train_spm(sentences: list[str], prefix: str, vocab_size: int, rule: str = "nmt_nfkc") -> str:
    path = prefix + ".txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    spm.SentencePieceTrainer.train(
        input=path,
        model_prefix=prefix,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name=rule,
        bos_id=-1,
        eos_id=0,
        unk_id=1,
        pad_id=-1,
        minloglevel=2,
    )
    return prefix + ".model"


def marian_vocab(spm_paths: list[str], extra: list[str], pad_last: bool = True) -> dict[str, int]:
    """</s>, <unk>, then every piece of the given models in order, language codes, <pad> last
    (or third, so that two separate vocabularies of different sizes share the pad id)."""
    pieces = ["</s>", "<unk>"] + ([] if pad_last else ["<pad>"])
    seen = set(pieces)
    for path in spm_paths:
        proc = spm.SentencePieceProcessor(model_file=path)
        for i in range(proc.get_piece_size()):
            piece = proc.id_to_piece(i)
            if piece not in seen and not proc.is_control(i) and not proc.is_unknown(i):
                seen.add(piece)
                pieces.append(piece)
    for token in extra:
        if token not in seen:
            seen.add(token)
            pieces.append(token)
    if pad_last:
        pieces.append("<pad>")
    return {p: i for i, p in enumerate(pieces)}


def randomize(model: MarianMTModel, std: float, seed: int) -> None:
    """Draws every weight (except the fixed sinusoidal tables) from N(0, std)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "embed_positions" in name:
                continue
            if "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                param.copy_(base + 0.1 * torch.randn(param.shape, generator=gen))
            else:
                param.copy_(std * torch.randn(param.shape, generator=gen))
        model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape, generator=gen))


def make(name: str, src_text: list[str], tgt_text: list[str], settings: dict, seed: int) -> None:
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with tempfile.TemporaryDirectory() as tmp:
        src_spm = train_spm(src_text, os.path.join(tmp, "source"), settings["src_spm_size"])
        tgt_spm = train_spm(
            tgt_text, os.path.join(tmp, "target"), settings["tgt_spm_size"], settings.get("tgt_rule", "nmt_nfkc")
        )
        separate = settings["separate_vocabs"]
        codes = settings.get("language_codes", [])
        if separate:
            vocab = marian_vocab([src_spm], codes, pad_last=False)
            target_vocab = marian_vocab([tgt_spm], [], pad_last=False)
        else:
            vocab = marian_vocab([src_spm, tgt_spm], codes)
            target_vocab = None
        with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        if target_vocab is not None:
            with open(os.path.join(tmp, "target_vocab.json"), "w", encoding="utf-8") as f:
                json.dump(target_vocab, f, ensure_ascii=False)
        tokenizer = MarianTokenizer(
            source_spm=src_spm,
            target_spm=tgt_spm,
            vocab=os.path.join(tmp, "vocab.json"),
            target_vocab_file=os.path.join(tmp, "target_vocab.json") if separate else None,
            separate_vocabs=separate,
            source_lang=settings["source_lang"],
            target_lang=settings["target_lang"],
        )
        tokenizer.save_pretrained(out)

    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(target_vocab) if separate else len(vocab),
        share_encoder_decoder_embeddings=not separate,
        tie_word_embeddings=settings.get("tie_word_embeddings", True),
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        **settings["config"],
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    model.set_attn_implementation("eager")  # sdpa does not return attention weights
    randomize(model, settings["std"], seed)
    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad]],
        bos_token_id=0,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        max_length=settings["max_length"],
        num_beams=4,
        pad_token_id=pad,
    )
    model.save_pretrained(out)
    expected_outputs(out, model, tokenizer, settings)


def expected_outputs(out: str, model: MarianMTModel, tokenizer: MarianTokenizer, settings: dict) -> None:
    pad = model.config.pad_token_id
    cases = []
    for text in TOKENIZER_CASES:
        src_ids = tokenizer(text)["input_ids"]
        tgt_ids = tokenizer(text_target=text)["input_ids"]
        cases.append(
            {
                "text": text,
                "source_ids": src_ids,
                "target_ids": tgt_ids,
                "decoded_target": tokenizer.decode(tgt_ids, skip_special_tokens=True),
                # With separate vocabularies transformers can only decode target ids.
                "decoded_source": None
                if tokenizer.separate_vocabs
                else tokenizer.decode(src_ids, skip_special_tokens=True),
            }
        )

    # A padded batch of two pairs: the trace the Rust engine must reproduce.
    pairs = settings["pairs"]
    src_ids = [tokenizer(s)["input_ids"] for s, _ in pairs]
    labels = [tokenizer(text_target=t)["input_ids"] for _, t in pairs]
    S = max(map(len, src_ids))
    T = max(map(len, labels))
    src = torch.full((len(pairs), S), pad)
    src_mask = torch.zeros((len(pairs), S), dtype=torch.long)
    lab = torch.full((len(pairs), T), pad)
    tgt_mask = torch.zeros((len(pairs), T), dtype=torch.long)
    for b, (s, l) in enumerate(zip(src_ids, labels)):
        src[b, : len(s)] = torch.tensor(s)
        src_mask[b, : len(s)] = 1
        lab[b, : len(l)] = torch.tensor(l)
        tgt_mask[b, : len(l)] = 1
    dec_in = torch.full_like(lab, pad)
    dec_in[:, 0] = model.config.decoder_start_token_id
    dec_in[:, 1:] = lab[:, :-1]
    with torch.no_grad():
        o = model(
            input_ids=src,
            attention_mask=src_mask,
            decoder_input_ids=dec_in,
            decoder_attention_mask=tgt_mask,
            output_attentions=True,
        )
    logp = torch.log_softmax(o.logits, -1)
    loss = -logp.gather(-1, lab.unsqueeze(-1)).squeeze(-1) * tgt_mask
    tensors = {
        "src": src.to(torch.int64),
        "src_len": src_mask.sum(1),
        "tgt_in": dec_in.to(torch.int64),
        "labels": lab.to(torch.int64),
        "tgt_len": tgt_mask.sum(1),
        "logits": o.logits.float().contiguous(),
        "loss": loss.float().contiguous(),
        "encoder_attn": torch.stack(o.encoder_attentions).contiguous(),
        "decoder_self_attn": torch.stack(o.decoder_attentions).contiguous(),
        "cross_attn": torch.stack(o.cross_attentions).contiguous(),
    }
    save_file(tensors, os.path.join(out, "expected.safetensors"))

    generations = []
    for text in settings["generate"]:
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            greedy = model.generate(**enc, num_beams=1, do_sample=False)[0].tolist()
            beam = model.generate(**enc, num_beams=4, do_sample=False, length_penalty=1.0)[0].tolist()
        generations.append(
            {
                "text": text,
                "source_ids": enc["input_ids"][0].tolist(),
                "greedy": greedy,
                "beam4": beam,
                "greedy_text": tokenizer.decode(greedy, skip_special_tokens=True),
            }
        )

    attn = tensors["encoder_attn"]
    expected = {
        "pairs": pairs,
        "tokenizer": cases,
        "generate": generations,
        "max_encoder_weight": float(attn.max()),
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
    print(f"{out}: max encoder attention weight {float(attn.max()):.3f}, greedy {generations[0]['greedy']}")


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Takes no options: it rewrites tests/fixtures/marian/ in place.",
    ).parse_args()
    os.makedirs(ROOT, exist_ok=True)
    make(
        "en-zh",
        ENGLISH,
        CHINESE,
        {
            "src_spm_size": 150,
            "tgt_spm_size": 150,
            "separate_vocabs": False,
            "language_codes": [">>zho_Hans<<", ">>yue_Hant<<"],
            "source_lang": "en",
            "target_lang": "zh",
            "std": 0.25,
            "max_length": 16,
            "config": dict(
                d_model=32,
                encoder_layers=2,
                decoder_layers=2,
                encoder_attention_heads=4,
                decoder_attention_heads=4,
                encoder_ffn_dim=64,
                decoder_ffn_dim=64,
                activation_function="swish",
                scale_embedding=True,
                max_position_embeddings=64,
            ),
            "pairs": [
                ("She sees the small elephant.", "她看见那头小象。"),
                (">>zho_Hans<< I like green tea.", "我喜欢绿茶。"),
            ],
            "generate": ["She sees the small elephant.", "I like green tea.", ">>zho_Hans<< Thank you!"],
        },
        seed=1,
    )
    make(
        "wide",
        ENGLISH[:20],
        GERMAN,
        {
            "src_spm_size": 120,
            "tgt_spm_size": 100,
            "separate_vocabs": True,
            "tgt_rule": "identity",
            "source_lang": "en",
            "target_lang": "de",
            "std": 0.45,
            "max_length": 12,
            "tie_word_embeddings": False,
            "config": dict(
                d_model=24,
                encoder_layers=3,
                decoder_layers=2,
                encoder_attention_heads=4,
                decoder_attention_heads=2,
                encoder_ffn_dim=48,
                decoder_ffn_dim=80,
                activation_function="gelu",
                scale_embedding=False,
                max_position_embeddings=40,
            ),
            "pairs": [
                ("I like green tea.", "Ich mag grünen Tee."),
                ("The weather is cold today.", "Das Wetter ist heute kalt."),
                ("Where?", "Wo?"),
            ],
            "generate": ["I like green tea.", "Where is the train station?"],
        },
        seed=2,
    )


if __name__ == "__main__":
    main()
