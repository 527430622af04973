//! Shared setup for the benches and `examples/train_step_timing.rs`: the training-step
//! workload of `tools/bench_pytorch_step.py` (d_model 128, 4 heads, 2+2 layers, d_ff 512,
//! vocab 64, dropout 0.1, batch 32, source and target length <= 16) and the bundled dates
//! model for inference.
#![allow(dead_code)]

use std::path::Path;

use maskscope::model::training::{Schedule, TrainOptions, Trainer};
use maskscope::model::{Engine, Example, ModelConfig};
use maskscope::tokenizer::{TokenizerKind, Vocab};
use rand::{Rng, SeedableRng, rngs::StdRng};

pub const VOCAB: usize = 64;
pub const BATCH: usize = 32;
pub const LEN: usize = 16;

/// A char vocabulary of exactly `VOCAB` tokens: the 4 specials and 60 ASCII characters.
pub fn vocab() -> Vocab {
    let text: String = (b'!'..).take(VOCAB - 4).map(char::from).collect();
    let vocab = Vocab::build(TokenizerKind::Char, [text.as_str()]);
    assert_eq!(vocab.len(), VOCAB);
    vocab
}

/// The PyTorch yardstick's model size.
pub fn training_config() -> ModelConfig {
    ModelConfig {
        d_model: 128,
        n_heads: 4,
        n_encoder_layers: 2,
        n_decoder_layers: 2,
        d_ff: 512,
        dropout: 0.1,
        norm_first: false,
        max_len: LEN,
        tokenizer: TokenizerKind::Char,
    }
}

/// Random pairs shaped like the PyTorch script's: source 8..=16 tokens, target 8..=15 (so
/// `<bos>` + target and target + `<eos>` fit in 16).
pub fn random_examples(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let ls = rng.random_range(LEN / 2..=LEN);
            let lt = rng.random_range(LEN / 2..LEN);
            let mut ids = |len| {
                (0..len)
                    .map(|_| rng.random_range(4..VOCAB as u32))
                    .collect()
            };
            Example {
                src: ids(ls),
                tgt: ids(lt),
            }
        })
        .collect()
}

/// A trainer for the yardstick workload (AdamW, default weight decay and clipping).
pub fn trainer(threads: usize) -> Trainer {
    let engine = Engine::new_random(training_config(), vocab(), 0).expect("random model");
    let options = TrainOptions {
        steps: 1_000_000,
        batch_size: BATCH,
        learning_rate: 1e-3,
        schedule: Schedule::Constant,
        dropout: 0.1,
        seed: 0,
        threads,
        ..TrainOptions::default()
    };
    Trainer::new(engine, random_examples(4 * BATCH, 1), vec![], options).expect("trainer")
}

/// The bundled dates model if `assets/dates.safetensors` exists, else a random model of its
/// config (d_model 64, 4 heads, 2+2 layers, d_ff 256, post-LN).
pub fn dates_engine(seed: u64) -> (Engine, bool) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dates.safetensors");
    if let Ok(engine) = Engine::load(&path) {
        return (engine, true);
    }
    (dates_engine_random(seed), false)
}

/// A random model of the bundled dates config (max_len 32 so 20 decoding steps fit).
pub fn dates_engine_random(seed: u64) -> Engine {
    let config = ModelConfig::small(TokenizerKind::Char, 32);
    Engine::new_random(config, vocab(), seed).expect("random model")
}

/// `n` ids from the model's non-special vocabulary, deterministic.
pub fn ids(engine: &Engine, n: usize, seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let v = engine.builtin_vocab().unwrap().len() as u32;
    (0..n).map(|_| rng.random_range(4..v)).collect()
}

pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let k = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (
        k.floor() as usize,
        (k.floor() as usize + 1).min(sorted.len() - 1),
    );
    sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo as f64)
}
