//! `decode` and `inspect` on a Marian model folder (`--model FOLDER`): the same commands and
//! output shapes as for the built-in models.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::masks::MaskSettings;
use crate::model::marian::MarianModel;
use crate::model::tracing::TokenSide;
use crate::sentencepiece::Side;

/// Whether `--model` names a model folder rather than a checkpoint or a bundled name.
pub fn is_model_folder(model: &str) -> bool {
    Path::new(model).is_dir()
}

pub fn open(folder: &str) -> Result<MarianModel> {
    MarianModel::load(Path::new(folder))
        .with_context(|| format!("opening the model folder {folder}"))
}

/// How `decode` chooses tokens on a Marian model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarianStrategy {
    Greedy,
    Beam(usize),
}

pub fn decode(folder: &str, src: &str, strategy: MarianStrategy, as_json: bool) -> Result<()> {
    let model = open(folder)?;
    let encoding = model.tokenizer.encode(src, Side::Source);
    for piece in &encoding.unknown {
        eprintln!("warning: source piece {piece:?} is not in the vocabulary and became <unk>");
    }
    let output = match strategy {
        MarianStrategy::Greedy => model.greedy(&encoding.ids)?,
        MarianStrategy::Beam(width) => model.beam_search(&encoding.ids, width)?,
    };
    let text = model.tokenizer.decode(&output);
    if as_json {
        let label = match strategy {
            MarianStrategy::Greedy => "greedy".to_string(),
            MarianStrategy::Beam(width) => format!("beam search (width {width})"),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "src": src,
                "src_ids": encoding.ids,
                "src_tokens": encoding.pieces,
                "strategy": label,
                "output": text,
                "output_ids": output,
                "output_tokens": model.token_names(&output, TokenSide::Target),
            }))?
        );
    } else {
        println!("{text}");
    }
    Ok(())
}

pub fn inspect(folder: &str, pairs: &[(&str, &str)], settings: &MaskSettings) -> Result<()> {
    let model = open(folder)?;
    let (trace, warnings) = model.inspect(pairs, settings)?;
    println!(
        "{}",
        serde_json::to_string(&crate::inspect_json::batch_json(&trace, &warnings))?
    );
    Ok(())
}

/// `train --base FOLDER --data pairs.tsv --out FOLDER`: fine-tunes a Marian model on text
/// pairs with the chosen parts frozen and saves a folder transformers opens.
pub fn fine_tune(base: &str, args: &super::args::TrainArgs) -> Result<()> {
    use crate::model::marian::finetune::{FineTuneOptions, MarianFineTune, groups};
    let ignored = [
        ("--lr-mult", args.lr_mult.iter().any(|s| !s.is_empty())),
        ("--l1", args.l1 != 0.0),
        ("--l2", args.l2 != 0.0),
        ("--new-head", args.new_head),
    ];
    if let Some((option, _)) = ignored.iter().find(|(_, given)| *given) {
        anyhow::bail!(
            "{option} is for the built-in models; fine-tuning a model folder takes --lr, --batch-size, --weight-decay, --clip, --freeze, --steps and --seed"
        );
    }
    let model = open(base)?;
    let data = args.data.data.as_ref().context(
        "fine-tuning a model folder needs --data pairs.tsv (source<TAB>target per line)",
    )?;
    let parsed = crate::dataset::load(data)?;
    for e in &parsed.errors {
        eprintln!("warning: {}: {e}", data.display());
    }
    let pairs: Vec<(String, String)> = parsed
        .pairs
        .iter()
        .map(|p| (p.src.clone(), p.tgt.clone()))
        .collect();
    let (examples, warnings) = model.examples(&pairs);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let all = groups(&model);
    let mut frozen = std::collections::BTreeSet::new();
    for key in args.freeze.iter().filter(|k| !k.is_empty()) {
        let picked: Vec<_> = all
            .iter()
            .copied()
            .filter(|g| match key.as_str() {
                "embeddings" => matches!(
                    g,
                    crate::model::groups::Group::SourceEmbedding
                        | crate::model::groups::Group::TargetEmbedding
                ),
                "encoder" => matches!(g, crate::model::groups::Group::EncoderLayer(_)),
                "decoder" => g.key().starts_with("dec"),
                key => g.key() == key || g.key().starts_with(&format!("{key}-")),
            })
            .collect();
        if picked.is_empty() {
            anyhow::bail!(
                "--freeze {key}: this model has the parts {}",
                all.iter().map(|g| g.key()).collect::<Vec<_>>().join(", ")
            );
        }
        frozen.extend(picked);
    }
    let options = FineTuneOptions {
        learning_rate: args.lr,
        batch_size: args.batch_size,
        weight_decay: args.weight_decay,
        clip_norm: (args.clip > 0.0).then_some(args.clip),
        frozen,
        seed: args.seed,
    };
    let mut run = MarianFineTune::new(&model, examples, options)?;
    for _ in 0..args.steps {
        let loss = run.step()?;
        eprintln!("step {}: loss {loss:.4}", run.step);
    }
    model.save_folder(&args.out)?;
    eprintln!("saved {}", args.out.display());
    Ok(())
}
