//! The Marian family against transformers: fixtures made by `tools/marian_fixtures.py`
//! (random weights, SentencePiece models trained on a few dozen sentences) hold the ids
//! `MarianTokenizer` gives, the logits, loss and all three kinds of attention of
//! `MarianMTModel` on a padded batch, and `generate()`'s greedy and beam outputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use maskscope::masks::MaskSettings;
use maskscope::model::Example;
use maskscope::model::marian::MarianModel;
use maskscope::sentencepiece::Side;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/marian")
        .join(name)
}

fn load(name: &str) -> MarianModel {
    MarianModel::load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name).join("expected.json")).unwrap()).unwrap()
}

fn expected_tensors(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name).join("expected.safetensors"), &Device::Cpu)
        .unwrap()
}

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

fn as_u32(t: &Tensor) -> Vec<Vec<u32>> {
    t.to_dtype(DType::I64)
        .unwrap()
        .to_vec2::<i64>()
        .unwrap()
        .into_iter()
        .map(|r| r.into_iter().map(|v| v as u32).collect())
        .collect()
}

fn lens(t: &Tensor) -> Vec<usize> {
    t.to_dtype(DType::I64)
        .unwrap()
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

fn check_tokenizer(name: &str) {
    let model = load(name);
    let expected = expected_json(name);
    for case in expected["tokenizer"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let source = model.tokenizer.encode(text, Side::Source);
        assert_eq!(
            source.ids,
            ids(&case["source_ids"]),
            "{name} source ids of {text:?}"
        );
        let target = model.tokenizer.encode(text, Side::Target);
        assert_eq!(
            target.ids,
            ids(&case["target_ids"]),
            "{name} target ids of {text:?}"
        );
        assert_eq!(
            model.tokenizer.decode(&target.ids),
            case["decoded_target"].as_str().unwrap(),
            "{name} decode of the target ids of {text:?}"
        );
        if let Some(decoded) = case["decoded_source"].as_str() {
            assert_eq!(
                model.tokenizer.decode(&source.ids),
                decoded,
                "{name}: {text:?}"
            );
        }
    }
}

#[test]
fn tokenizer_ids_and_decoding_equal_marian_tokenizer_en_zh() {
    check_tokenizer("en-zh");
}

#[test]
fn tokenizer_ids_and_decoding_equal_marian_tokenizer_wide() {
    check_tokenizer("wide");
}

/// Asserts `|a - b| <= TOLERANCE` everywhere, naming the first offender.
fn assert_close(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= TOLERANCE,
            "{what}[{i}]: maskscope {a}, transformers {b}"
        );
    }
}

fn check_trace(name: &str) {
    let model = load(name);
    let t = expected_tensors(name);
    let (src, src_len) = (as_u32(&t["src"]), lens(&t["src_len"]));
    let (labels, tgt_len) = (as_u32(&t["labels"]), lens(&t["tgt_len"]));
    let tgt_in = as_u32(&t["tgt_in"]);
    // The fixture's pairs, tokenized by us, must give the same ids.
    let pairs = expected_json(name)["pairs"].clone();
    let examples: Vec<Example> = (0..src.len())
        .map(|b| Example {
            src: src[b][..src_len[b]].to_vec(),
            tgt: labels[b][..tgt_len[b] - 1].to_vec(),
        })
        .collect();
    for (b, pair) in pairs.as_array().unwrap().iter().enumerate() {
        let (ours, _) = model.tokenize(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(ours, examples[b], "{name}: tokenized pair {b}");
    }
    let trace = model.trace(&examples, &MaskSettings::default()).unwrap();
    let logits = t["logits"].to_vec3::<f32>().unwrap();
    let loss = t["loss"].to_vec2::<f32>().unwrap();
    let attention = |key: &str| {
        let a = &t[key];
        let (layers, batch, heads, q, k) = a.dims5().unwrap();
        let flat = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        move |l: usize, b: usize, h: usize, i: usize| -> Vec<f32> {
            assert!(l < layers && b < batch && h < heads && i < q);
            let start = (((l * batch + b) * heads + h) * q + i) * k;
            flat[start..start + k].to_vec()
        }
    };
    let (enc, dec, cross) = (
        attention("encoder_attn"),
        attention("decoder_self_attn"),
        attention("cross_attn"),
    );
    for (b, seq) in trace.sequences.iter().enumerate() {
        assert_eq!(
            seq.tgt_input_ids[..tgt_len[b]],
            tgt_in[b][..tgt_len[b]],
            "{name}: decoder input"
        );
        for i in 0..tgt_len[b] {
            assert_close(
                &format!("{name} logits[{b}][{i}]"),
                seq.logits.row(i).as_slice().unwrap(),
                &logits[b][i],
            );
            let our_loss = seq.loss[i].expect("a real position has a loss");
            assert!(
                (our_loss - loss[b][i]).abs() <= TOLERANCE,
                "{name} loss[{b}][{i}]"
            );
        }
        assert!(seq.loss[tgt_len[b]..].iter().all(Option::is_none));
        let (layers, heads, _, _) = seq.encoder.weights.dim();
        for l in 0..layers {
            for h in 0..heads {
                for i in 0..src_len[b] {
                    let row = seq.encoder.weights.slice(ndarray::s![l, h, i, ..]).to_vec();
                    assert_close(
                        &format!("{name} encoder[{l}][{b}][{h}][{i}]"),
                        &row,
                        &enc(l, b, h, i),
                    );
                }
            }
        }
        let (layers, heads, _, _) = seq.decoder_self.weights.dim();
        for l in 0..layers {
            for h in 0..heads {
                for i in 0..tgt_len[b] {
                    let row = seq
                        .decoder_self
                        .weights
                        .slice(ndarray::s![l, h, i, ..])
                        .to_vec();
                    assert_close(
                        &format!("{name} decoder self[{l}][{b}][{h}][{i}]"),
                        &row,
                        &dec(l, b, h, i),
                    );
                    let row = seq.cross.weights.slice(ndarray::s![l, h, i, ..]).to_vec();
                    assert_close(
                        &format!("{name} cross[{l}][{b}][{h}][{i}]"),
                        &row,
                        &cross(l, b, h, i),
                    );
                }
            }
        }
    }
}

#[test]
fn logits_loss_and_all_attention_equal_transformers_en_zh() {
    check_trace("en-zh");
}

#[test]
fn logits_loss_and_all_attention_equal_transformers_wide() {
    check_trace("wide");
}

fn check_generation(name: &str) {
    let model = load(name);
    for case in expected_json(name)["generate"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let src = model.tokenizer.encode(text, Side::Source).ids;
        assert_eq!(src, ids(&case["source_ids"]));
        let greedy = model.greedy(&src).unwrap();
        assert_eq!(greedy, ids(&case["greedy"]), "{name} greedy of {text:?}");
        assert_eq!(
            model.tokenizer.decode(&greedy),
            case["greedy_text"].as_str().unwrap()
        );
        let beam = model.beam_search(&src, 4).unwrap();
        assert_eq!(beam, ids(&case["beam4"]), "{name} beam search of {text:?}");
    }
}

#[test]
fn greedy_and_beam_search_equal_generate_en_zh() {
    check_generation("en-zh");
}

#[test]
fn greedy_and_beam_search_equal_generate_wide() {
    check_generation("wide");
}

#[test]
fn key_value_cache_equals_the_teacher_forced_pass() {
    for name in ["en-zh", "wide"] {
        let model = load(name);
        let src = model
            .tokenizer
            .encode("I like green tea.", Side::Source)
            .ids;
        let tokens = model.greedy(&src).unwrap();
        let incremental = model
            .incremental_logits(&src, &tokens[..tokens.len() - 1])
            .unwrap();
        let example = Example {
            src: src.clone(),
            tgt: tokens[1..tokens.len() - 1].to_vec(),
        };
        let trace = model.trace(&[example], &MaskSettings::default()).unwrap();
        let forced = &trace.sequences[0].logits;
        assert_eq!(incremental.len(), forced.nrows());
        for (i, row) in incremental.iter().enumerate() {
            assert_close(
                &format!("{name} step {i}"),
                row,
                forced.row(i).as_slice().unwrap(),
            );
        }
    }
}

#[test]
fn pad_is_never_generated_even_when_it_is_the_likeliest_token() {
    let model = load("en-zh");
    let pad = model.config.pad_token_id;
    let vocab = model.config.decoder_vocab_size;
    let mut bias = vec![0f32; vocab];
    bias[pad as usize] = 1000.0;
    model
        .set_weight(
            "final_logits_bias",
            &Tensor::from_vec(bias, (1, vocab), &Device::Cpu).unwrap(),
        )
        .unwrap();
    let src = model
        .tokenizer
        .encode("I like green tea.", Side::Source)
        .ids;
    let example = Example {
        src: src.clone(),
        tgt: vec![],
    };
    let trace = model.trace(&[example], &MaskSettings::default()).unwrap();
    assert_eq!(
        trace.sequences[0].predicted[0], pad,
        "pad really is the argmax"
    );
    for output in [
        model.greedy(&src).unwrap(),
        model.beam_search(&src, 4).unwrap(),
    ] {
        assert!(!output[1..].contains(&pad), "{output:?}");
        assert_eq!(output.last(), Some(&model.config.eos_token_id));
    }
}
