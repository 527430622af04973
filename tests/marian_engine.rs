//! The teaching invariants on a Marian model, the mask switches, and the fine-tune round trip
//! (frozen parts bit-identical, saved folder reloads with the same logits).

use std::collections::BTreeSet;
use std::path::Path;

use maskscope::masks::{MaskMethod, MaskSettings};
use maskscope::model::Example;
use maskscope::model::groups::Group;
use maskscope::model::marian::MarianModel;
use maskscope::model::marian::finetune::{FineTuneOptions, MarianFineTune, group_of, groups};

fn load(name: &str) -> MarianModel {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/marian")
        .join(name);
    MarianModel::load(&folder).unwrap()
}

fn pair(model: &MarianModel, src: &str, tgt: &str) -> Example {
    model.tokenize(src, tgt).0
}

#[test]
fn masked_cells_are_zero_and_real_rows_sum_to_one() {
    let model = load("en-zh");
    let examples = [
        pair(&model, "She sees the small elephant.", "她看见那头小象。"),
        pair(&model, "Tea.", "茶。"),
    ];
    let trace = model.trace(&examples, &MaskSettings::default()).unwrap();
    for seq in &trace.sequences {
        for (attention, grid, queries) in [
            (&seq.encoder, &seq.masks.encoder_self, seq.src_len),
            (&seq.decoder_self, &seq.masks.decoder_self, seq.tgt_len),
            (&seq.cross, &seq.masks.cross, seq.tgt_len),
        ] {
            let (layers, heads, q, k) = attention.weights.dim();
            for l in 0..layers {
                for h in 0..heads {
                    for i in 0..q.min(queries) {
                        let mut sum = 0.0;
                        for j in 0..k {
                            let w = attention.weights[[l, h, i, j]];
                            if grid.is_blocked(i, j) {
                                assert_eq!(w, 0.0, "blocked cell ({i}, {j}) has weight {w}");
                            }
                            sum += w;
                        }
                        assert!((sum - 1.0).abs() < 1e-5, "row {i} sums to {sum}");
                    }
                }
            }
        }
    }
}

#[test]
fn future_tokens_never_change_earlier_positions_and_padding_never_changes_real_tokens() {
    let model = load("wide");
    let a = pair(&model, "I like green tea.", "Ich mag grünen Tee.");
    let mut b = a.clone();
    let last = b.tgt.len() - 1;
    b.tgt[last] = (b.tgt[last] + 5) % 50 + 3;
    let settings = MaskSettings::default();
    let ta = model.trace(std::slice::from_ref(&a), &settings).unwrap();
    let tb = model.trace(std::slice::from_ref(&b), &settings).unwrap();
    for i in 0..=last {
        assert_eq!(ta.sequences[0].logits.row(i), tb.sequences[0].logits.row(i));
    }
    // Batched with a longer pair, the short pair's real outputs stay the same.
    let long = pair(
        &model,
        "The weather is cold today, my brother reads.",
        "Das Wetter ist heute kalt.",
    );
    let batched = model.trace(&[a.clone(), long], &settings).unwrap();
    let alone = &ta.sequences[0];
    for i in 0..alone.tgt_len {
        for (x, y) in alone
            .logits
            .row(i)
            .iter()
            .zip(batched.sequences[0].logits.row(i))
        {
            assert!(
                (x - y).abs() < 1e-4,
                "padding changed position {i}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn mask_switches_act_on_marian_models() {
    let model = load("en-zh");
    let example = pair(&model, "I like green tea.", "我喜欢绿茶。");
    let on = model
        .trace(std::slice::from_ref(&example), &MaskSettings::default())
        .unwrap();
    let no_causal = MaskSettings {
        causal: false,
        ..MaskSettings::default()
    };
    let off = model
        .trace(std::slice::from_ref(&example), &no_causal)
        .unwrap();
    // Without the causal mask the first position sees the future: its logits change.
    assert_ne!(
        on.sequences[0].logits.row(0),
        off.sequences[0].logits.row(0)
    );
    let multiply = MaskSettings {
        method: MaskMethod::Multiply,
        ..MaskSettings::default()
    };
    let wrong = model
        .trace(std::slice::from_ref(&example), &multiply)
        .unwrap();
    let row: f32 = (0..wrong.sequences[0].decoder_self.weights.dim().3)
        .map(|j| wrong.sequences[0].decoder_self.weights[[0, 0, 0, j]])
        .sum();
    assert!(
        row < 0.999,
        "multiplying after softmax leaves rows that do not sum to one"
    );
}

#[test]
fn every_parameter_belongs_to_a_freeze_group() {
    for name in ["en-zh", "wide"] {
        let model = load(name);
        let all: BTreeSet<Group> = groups(&model).into_iter().collect();
        for (param, _) in model.weights() {
            let group = group_of(&param).unwrap_or_else(|| panic!("{param} has no group"));
            assert!(all.contains(&group), "{param} -> {group:?} is not listed");
        }
    }
}

#[test]
fn fine_tuning_leaves_frozen_parts_untouched_and_the_saved_folder_reloads_identically() {
    let model = load("en-zh");
    let before: std::collections::BTreeMap<String, Vec<f32>> = model
        .weights()
        .into_iter()
        .map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    let pairs: Vec<(String, String)> = [
        ("I like green tea.", "我喜欢绿茶。"),
        ("The door is open.", "门开着。"),
        ("Thank you very much!", "非常感谢！"),
    ]
    .iter()
    .map(|(s, t)| (s.to_string(), t.to_string()))
    .collect();
    let (examples, warnings) = model.examples(&pairs);
    assert!(warnings.is_empty());
    let frozen: BTreeSet<Group> = groups(&model)
        .into_iter()
        .filter(|g| matches!(g, Group::SourceEmbedding | Group::EncoderLayer(_)))
        .collect();
    let options = FineTuneOptions {
        learning_rate: 1e-3,
        batch_size: 2,
        frozen: frozen.clone(),
        ..FineTuneOptions::default()
    };
    let mut run = MarianFineTune::new(&model, examples.clone(), options).unwrap();
    let first = run.step().unwrap();
    let second = run.step().unwrap();
    assert!(first.is_finite() && second.is_finite());
    for (name, value) in model.weights() {
        let value = value.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let group = group_of(&name).unwrap();
        if frozen.contains(&group) {
            assert_eq!(value, before[&name], "frozen {name} changed");
        } else {
            assert_ne!(value, before[&name], "trainable {name} did not change");
        }
    }
    let out = tempfile::tempdir().unwrap();
    model.save_folder(out.path()).unwrap();
    let reloaded = MarianModel::load(out.path()).unwrap();
    let settings = MaskSettings::default();
    let ours = model.trace(&examples, &settings).unwrap();
    let theirs = reloaded.trace(&examples, &settings).unwrap();
    for (a, b) in ours.sequences.iter().zip(&theirs.sequences) {
        assert_eq!(a.logits, b.logits);
    }
}
