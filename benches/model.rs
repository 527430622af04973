//! Criterion benches of the three things the app does with the model:
//!
//! - `trace_batch1_*`: a teacher-forced forward pass with the full attention trace, batch 1,
//!   16 source and 16 decoder-input tokens, on the bundled dates model (or a random model of
//!   its config when `assets/dates.safetensors` is missing);
//! - `train_step/threads=N`: one AdamW step of `Trainer` on the PyTorch yardstick's workload
//!   (d_model 128, 4 heads, 2+2 layers, d_ff 512, batch 32, length 16, vocab 64, dropout 0.1),
//!   inside a rayon pool of N threads;
//! - `greedy_20_tokens`: a `DecodeSession` stepped 20 times (greedy, with step traces);
//! - `optimizer/adamw_*`: the AdamW part of a step, composed tensor ops vs the fused update;
//! - `linear_20_rows/*`: the projections of a traced opus-mt-sized sentence pair (20 rows
//!   through 24 different 512 x 512 weights, so they come from memory as in a trace), the
//!   app's linear op (the few-rows kernel) vs candle's matmul (gemm).
//!
//! ```sh
//! cargo bench --bench model                                     # all
//! cargo bench --bench model -- train_step                       # one group
//! RAYON_NUM_THREADS=2 cargo bench --bench model -- train_step   # two threads
//! ```
//!
//! candle reads its thread counts once per process (matmuls: `RAYON_NUM_THREADS`, default
//! every core; element-wise ops: a spinning pool of `CANDLE_NUM_THREADS - 1` extra threads),
//! so the thread count is per process: `main` below defaults both to 1 (the app runs inference
//! on one thread) and the training step runs in a rayon pool of `RAYON_NUM_THREADS` threads.
//! `tools/compare_training_speed.sh` runs 1 and 2 threads against PyTorch.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use candle_core::Tensor;
use criterion::{Criterion, criterion_group};
use maskscope::masks::MaskSettings;
use maskscope::model::decoding::{DecodeSession, Strategy};
use maskscope::model::{Engine, Example};

fn trace_batch1(c: &mut Criterion) {
    let (engine, bundled) = common::dates_engine(0);
    let example = Example {
        src: common::ids(&engine, 16, 1),
        tgt: common::ids(&engine, 15, 2), // decoder input: <bos> + 15 = 16 tokens
    };
    let settings = MaskSettings::default();
    let mut group = c.benchmark_group("inference");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let name = if bundled {
        "trace_batch1_dates"
    } else {
        "trace_batch1_random_dates_config"
    };
    group.bench_function(name, |b| {
        b.iter(|| {
            engine
                .trace(std::slice::from_ref(&example), &settings)
                .expect("trace")
        })
    });
    group.finish();
}

/// A model of the dates config whose greedy output runs 20 tokens without `<eos>`.
fn decoding_engine() -> (Engine, Vec<u32>) {
    let (engine, _) = common::dates_engine(0);
    let src = common::ids(&engine, 12, 3);
    if runs_20_steps(&engine, &src) {
        return (engine, src);
    }
    for seed in 1..200 {
        let engine = common::dates_engine_random(seed);
        let src = common::ids(&engine, 12, 3);
        if runs_20_steps(&engine, &src) {
            return (engine, src);
        }
    }
    panic!("no seed gives 20 greedy steps without <eos>");
}

fn runs_20_steps(engine: &Engine, src: &[u32]) -> bool {
    let Ok(mut session) = DecodeSession::new(engine, src, Strategy::Greedy) else {
        return false;
    };
    (0..20).all(|_| session.step(engine).unwrap_or(false))
        && session
            .output()
            .iter()
            .all(|&t| t != maskscope::tokenizer::EOS)
}

fn greedy_20_tokens(c: &mut Criterion) {
    let (engine, src) = decoding_engine();
    let mut group = c.benchmark_group("inference");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("greedy_20_tokens", |b| {
        b.iter(|| {
            let mut session = DecodeSession::new(&engine, &src, Strategy::Greedy).expect("session");
            for _ in 0..20 {
                assert!(session.step(&engine).expect("step"));
            }
            session
        })
    });
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    {
        let threads = bench_threads();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let mut trainer = pool.install(|| common::trainer(threads));
        group.bench_function(format!("threads={threads}"), |b| {
            b.iter(|| pool.install(|| trainer.train_step().expect("train step")))
        });
    }
    group.finish();
}

/// The optimizer part of a step on the training model's ~0.96 M parameters: the composed
/// AdamW tensor expression (as `Trainer::train_step` writes it) against the fused update.
fn optimizer(c: &mut Criterion) {
    use candle_core::Var;
    use maskscope::model::ops::{self, AdamWStep};

    let engine = Engine::new_random(common::training_config(), common::vocab(), 0).expect("model");
    let slots: Vec<(Var, Tensor, Tensor, Tensor)> = engine
        .weights()
        .into_values()
        .map(|w| {
            let g = (w.ones_like().unwrap() * 1e-3).unwrap();
            let zeros = w.zeros_like().unwrap();
            (Var::from_tensor(&w).unwrap(), g, zeros.clone(), zeros)
        })
        .collect();
    let step = AdamWStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        bc1: 0.1,
        bc2: 0.001,
        grad_scale: 1.0,
    };
    let mut group = c.benchmark_group("optimizer");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("adamw_composed", |b| {
        b.iter(|| {
            let mut norm = 0f64;
            for (p, g, m, v) in &slots {
                norm += g
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap() as f64;
                ops::reference::adamw(p, g, m, v, &step).unwrap();
            }
            norm
        })
    });
    group.bench_function("adamw_fused", |b| {
        b.iter(|| {
            let mut norm = 0f64;
            for (p, g, m, v) in &slots {
                norm += ops::sum_squares(g).unwrap();
                ops::adamw_update(p, g, m, v, &step).unwrap();
            }
            norm
        })
    });
    group.finish();
}

/// 20 rows through 24 distinct 512 x 512 weights (96 MB of weights would be the whole
/// opus-mt-sized stack; 24 MB is already far past the caches).
fn linear_20_rows(c: &mut Criterion) {
    use candle_core::Device;
    use maskscope::model::ops;

    // Spread, deterministic values in [-1, 1]; their distribution does not matter here.
    let values = |shape: &[usize], seed: u64| {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n as u64)
            .map(|i| {
                ((i.wrapping_mul(2_654_435_761).wrapping_add(seed) % 2001) as f32 - 1000.0) * 1e-3
            })
            .collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    };
    let x = values(&[20, 512], 1);
    let layers: Vec<(Tensor, Tensor)> = (0..24)
        .map(|i| (values(&[512, 512], 10 + i), values(&[512], 100 + i)))
        .collect();
    let mut group = c.benchmark_group("linear_20_rows");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("few_rows_kernel", |b| {
        b.iter(|| {
            for (w, bias) in &layers {
                ops::linear(&x, w, bias).unwrap();
            }
        })
    });
    group.bench_function("candle_matmul", |b| {
        b.iter(|| {
            for (w, bias) in &layers {
                ops::reference::linear_2d(&x, w, bias).unwrap();
            }
        })
    });
    group.finish();
}

fn bench_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

criterion_group!(
    benches,
    trace_batch1,
    greedy_20_tokens,
    train_step,
    optimizer,
    linear_20_rows
);

fn main() {
    maskscope::memory::keep_freed_memory_for_reuse();
    for (name, default) in [("RAYON_NUM_THREADS", "1"), ("CANDLE_NUM_THREADS", "1")] {
        if std::env::var_os(name).is_none() {
            // SAFETY: nothing else runs yet (no candle, rayon or criterion thread exists).
            unsafe { std::env::set_var(name, default) };
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
