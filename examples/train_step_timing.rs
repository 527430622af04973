//! Times one candle training step on the workload of `tools/bench_pytorch_step.py` and
//! prints `ours_step_ms median=... p10=... p90=...` plus a JSON line.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=1 \
//!     cargo run --release --example train_step_timing -- --threads 2
//! ```
//!
//! `--threads N` runs the step in a rayon pool of N threads (the pool maskscope's own matmuls
//! split across). candle reads two environment variables once per process: its matmuls use
//! `RAYON_NUM_THREADS` (default: every core), and its element-wise ops a spinning "barrier
//! pool" of `CANDLE_NUM_THREADS - 1` extra threads (default: `RAYON_NUM_THREADS`). Set the
//! first to N and the second to 1, as `tools/compare_training_speed.sh` does: on a busy
//! machine the spinning pool makes a two-thread step 10-20x slower.

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // As the app does (src/main.rs): freed buffers are reused, not handed back to the kernel.
    maskscope::memory::keep_freed_memory_for_reuse();
    let threads = arg("--threads", 1).max(1);
    let (warmup, steps) = (arg("--warmup", 5), arg("--steps", 30).max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let times = pool.install(|| {
        let mut trainer = common::trainer(threads);
        for _ in 0..warmup {
            trainer.train_step().expect("train step");
        }
        let mut times = Vec::with_capacity(steps);
        let mut loss = 0.0;
        for _ in 0..steps {
            let t0 = Instant::now();
            loss = trainer.train_step().expect("train step").train_loss;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        eprintln!("final loss {loss:.4}");
        times
    });
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let (med, p10, p90) = (
        common::percentile(&sorted, 0.5),
        common::percentile(&sorted, 0.1),
        common::percentile(&sorted, 0.9),
    );
    println!("ours_step_ms median={med:.2} p10={p10:.2} p90={p90:.2}");
    println!(
        "{{\"bench\": \"candle_step\", \"threads\": {threads}, \"rayon_num_threads\": {:?}, \"candle_num_threads\": {:?}, \"median_ms\": {med:.3}, \"p10_ms\": {p10:.3}, \"p90_ms\": {p90:.3}, \"steps\": {steps}, \"warmup\": {warmup}}}",
        std::env::var("RAYON_NUM_THREADS").ok(),
        std::env::var("CANDLE_NUM_THREADS").ok(),
    );
}
