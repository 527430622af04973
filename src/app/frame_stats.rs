//! Frame-time measurement for the "the UI never blocks" promise. With
//! `MASKSCOPE_FRAME_STATS=1` the app prints, every two seconds, the median and 95th
//! percentile of the time its own code took per frame (eframe's `cpu_usage`) and of the
//! wall time between frames, and whether a training run was active.

use std::time::{Duration, Instant};

const REPORT_EVERY: Duration = Duration::from_secs(2);

pub struct FrameStats {
    enabled: bool,
    cpu_ms: Vec<f32>,
    interval_ms: Vec<f32>,
    last_frame: Option<Instant>,
    last_report: Instant,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self {
            enabled: std::env::var_os("MASKSCOPE_FRAME_STATS").is_some(),
            cpu_ms: vec![],
            interval_ms: vec![],
            last_frame: None,
            last_report: Instant::now(),
        }
    }
}

/// `(median, p95)` of `values` (0 when empty).
pub fn median_p95(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f32| sorted[((sorted.len() - 1) as f32 * q).round() as usize];
    (at(0.5), at(0.95))
}

impl FrameStats {
    pub fn record(&mut self, cpu_seconds: Option<f32>, training: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if let Some(last) = self.last_frame.replace(now) {
            self.interval_ms.push((now - last).as_secs_f32() * 1000.0);
        }
        if let Some(cpu) = cpu_seconds {
            self.cpu_ms.push(cpu * 1000.0);
        }
        if self.last_report.elapsed() >= REPORT_EVERY {
            let (cpu_median, cpu_p95) = median_p95(&self.cpu_ms);
            let (gap_median, gap_p95) = median_p95(&self.interval_ms);
            eprintln!(
                "frame stats ({} frames, training {}): app code per frame median {cpu_median:.2} ms, p95 {cpu_p95:.2} ms; time between frames median {gap_median:.2} ms, p95 {gap_p95:.2} ms",
                self.interval_ms.len(),
                if training { "running" } else { "idle" },
            );
            self.cpu_ms.clear();
            self.interval_ms.clear();
            self.last_report = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::median_p95;

    #[test]
    fn quantiles_of_a_known_list() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        assert_eq!(median_p95(&values), (51.0, 95.0));
        assert_eq!(median_p95(&[]), (0.0, 0.0));
    }
}
