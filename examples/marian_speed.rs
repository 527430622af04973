//! Times a Marian model folder the way `tools/marian_speed.py` times transformers on the
//! same folder: forward plus full trace of one 20 + 20 token pair, greedy decoding of 20
//! tokens, and one fine-tuning step (batch 8, length 20, encoder and embeddings frozen).
//! Prints one JSON line of medians in milliseconds.
//!
//! ```sh
//! RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 \
//!     cargo run --release --example marian_speed -- FOLDER [RUNS]
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use maskscope::masks::MaskSettings;
use maskscope::model::Example;
use maskscope::model::groups::Group;
use maskscope::model::marian::MarianModel;
use maskscope::model::marian::finetune::{FineTuneOptions, MarianFineTune, groups};

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    // As the app does (src/main.rs): freed buffers are reused, not handed back to the kernel.
    maskscope::memory::keep_freed_memory_for_reuse();
    let args: Vec<String> = std::env::args().collect();
    let folder = args.get(1).expect("usage: marian_speed FOLDER [RUNS]");
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let model = MarianModel::load(Path::new(folder)).unwrap_or_else(|e| panic!("{e}"));
    // Ids 10..30: the same 20 + 20 tokens the Python side feeds.
    let example = Example {
        src: (10..30).collect(),
        tgt: (10..29).collect(),
    };
    let settings = MaskSettings::default();
    let trace = median_ms(runs, || {
        model
            .trace(std::slice::from_ref(&example), &settings)
            .unwrap();
    });
    let src: Vec<u32> = (10..30).collect();
    let greedy = median_ms(runs, || {
        let tokens = model.greedy(&src).unwrap();
        assert_eq!(
            tokens.len(),
            21,
            "run with generation max_length 21 and no early </s>"
        );
    });
    let frozen: BTreeSet<Group> = groups(&model)
        .into_iter()
        .filter(|g| {
            matches!(
                g,
                Group::SourceEmbedding | Group::TargetEmbedding | Group::EncoderLayer(_)
            )
        })
        .collect();
    let batch = vec![example.clone(); 8];
    let options = FineTuneOptions {
        learning_rate: 1e-5,
        batch_size: 8,
        frozen,
        ..FineTuneOptions::default()
    };
    let mut run = MarianFineTune::new(&model, batch, options).unwrap();
    let step = median_ms(runs, || {
        run.step().unwrap();
    });
    println!(
        "{{\"side\": \"maskscope\", \"trace_ms\": {trace:.2}, \"greedy20_ms\": {greedy:.2}, \"finetune_step_ms\": {step:.2}}}"
    );
}
