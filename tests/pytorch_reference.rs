//! The model's math is pinned to PyTorch: fixtures made by tools/pytorch_reference.py hold
//! a checkpoint with random weights and the logits and attention weights PyTorch computed
//! for a padded batch. Both post-LN and pre-LN layers must match within 1e-4.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use maskscope::masks::{MaskMethod, MaskSettings};
use maskscope::model::{Engine, Example};
use maskscope::trace::AttentionKind;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected(config: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        fixture(&format!("reference_{config}_expected.safetensors")),
        &Device::Cpu,
    )
    .expect("fixture loads")
}

fn ints(t: &Tensor) -> Vec<Vec<u32>> {
    t.to_dtype(DType::U32).unwrap().to_vec2().unwrap()
}

fn examples(exp: &HashMap<String, Tensor>) -> Vec<Example> {
    let src = ints(&exp["src"]);
    let tgt_in = ints(&exp["tgt_in"]);
    let src_len: Vec<u32> = exp["src_len"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec1()
        .unwrap();
    let tgt_len: Vec<u32> = exp["tgt_len"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec1()
        .unwrap();
    (0..src.len())
        .map(|b| Example {
            src: src[b][..src_len[b] as usize].to_vec(),
            tgt: tgt_in[b][1..tgt_len[b] as usize].to_vec(),
        })
        .collect()
}

fn assert_close(what: &str, ours: f32, theirs: f32) {
    assert!(
        (ours - theirs).abs() <= TOLERANCE,
        "{what}: ours {ours} vs PyTorch {theirs}"
    );
}

fn check(config: &str) {
    let engine = Engine::load(&fixture(&format!("reference_{config}.safetensors")))
        .expect("checkpoint loads");
    let exp = expected(config);
    let examples = examples(&exp);
    let trace = engine.trace(&examples, &MaskSettings::default()).unwrap();
    let logits: Vec<Vec<Vec<f32>>> = exp["logits"].to_vec3().unwrap();
    for (b, seq) in trace.sequences.iter().enumerate() {
        // Logits at real decoder positions (pad positions' labels are ignored by the loss).
        for (t, row) in logits[b].iter().enumerate().take(seq.tgt_len) {
            for (v, theirs) in row.iter().enumerate() {
                assert_close(
                    &format!("{config} logits[{b}][{t}][{v}]"),
                    seq.logits[[t, v]],
                    *theirs,
                );
            }
        }
        for (kind, name) in [
            (AttentionKind::EncoderSelf, "encoder_attn"),
            (AttentionKind::DecoderSelf, "decoder_self_attn"),
            (AttentionKind::Cross, "cross_attn"),
        ] {
            let theirs = &exp[name]; // (layer, batch, head, q, k)
            let ours = &seq.attention(kind).weights; // (layer, head, q, k)
            let (layers, heads, queries, keys) = ours.dim();
            assert_eq!(
                theirs.dims(),
                &[layers, trace.sequences.len(), heads, queries, keys],
                "{name} shape"
            );
            let theirs: Vec<f32> = theirs.flatten_all().unwrap().to_vec1().unwrap();
            let real_queries = if kind == AttentionKind::EncoderSelf {
                seq.src_len
            } else {
                seq.tgt_len
            };
            for l in 0..layers {
                for h in 0..heads {
                    for q in 0..real_queries {
                        for k in 0..keys {
                            let index = (((l * trace.sequences.len() + b) * heads + h) * queries
                                + q)
                                * keys
                                + k;
                            assert_close(
                                &format!("{config} {name}[{l}][{b}][{h}][{q}][{k}]"),
                                ours[[l, h, q, k]],
                                theirs[index],
                            );
                        }
                    }
                }
            }
        }
    }
    // With every mask off, PyTorch's unmasked pass must match ours at every position.
    let off = MaskSettings {
        causal: false,
        src_padding: false,
        tgt_padding: false,
        method: MaskMethod::Additive,
        ..MaskSettings::default()
    };
    let ours = engine.logits(&examples, &off).unwrap();
    let theirs: Vec<Vec<Vec<f32>>> = exp["logits_nomask"].to_vec3().unwrap();
    for (b, rows) in theirs.iter().enumerate() {
        for (t, row) in rows.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                assert_close(
                    &format!("{config} unmasked logits[{b}][{t}][{v}]"),
                    ours[b][t][v],
                    *x,
                );
            }
        }
    }
}

#[test]
fn post_ln_matches_pytorch() {
    check("postln");
}

#[test]
fn pre_ln_matches_pytorch() {
    check("preln");
}
