//! `bias + x (rows, in) @ w (out, in)^T` when `x` has only a few rows: a traced sentence pair
//! (20 rows) or a decoding step (1 row).
//!
//! With so few rows every weight is read once per product from memory, and gemm's way
//! (repack a block of the weight, then run its outer-product kernel) spends more time packing
//! than multiplying. Here each output is a dot product of an `x` row with a weight row, four
//! weight rows and up to five `x` rows at a time in 20 AVX-512 accumulators: the weight rows
//! stream through once, in order, and the `x` rows stay in L1. On the opus-mt-sized model
//! (`examples/marian_speed.rs`) a 20 x 512 @ 512 x 512 product takes 0.28 ms here and
//! 0.44 ms in gemm, the 512 x 65,001 output layer 30 ms instead of 44 ms.
//!
//! Only AVX-512 has the registers for this tile; other CPUs (and more rows) keep gemm.

/// More rows than this and gemm's blocking wins (the `x` rows no longer fit in L1).
pub const MAX_ROWS: usize = 32;

/// Products smaller than this (multiply-adds) are not split over threads.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

/// Whether this CPU runs the kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX512: OnceLock<bool> = OnceLock::new();
        *AVX512.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A row-major matrix in a slice: row `r` starts at `r * stride`.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub stride: usize,
}

impl Rows<'_> {
    fn fits(&self, cols: usize) -> bool {
        self.rows == 0
            || (self.stride >= cols && (self.rows - 1) * self.stride + cols <= self.data.len())
    }
}

/// `dst (x.rows, w.rows) = bias + x @ w^T` over `cols` columns of each. `None` when the
/// kernel cannot run here (no AVX-512, too many rows, shapes that do not fit): use gemm.
pub fn linear(x: Rows, w: Rows, bias: &[f32], cols: usize) -> Option<Vec<f32>> {
    let (rows, outs) = (x.rows, w.rows);
    if !available() || rows == 0 || rows > MAX_ROWS || cols == 0 {
        return None;
    }
    if !x.fits(cols) || !w.fits(cols) || bias.len() != outs {
        return None;
    }
    let mut dst = vec![0f32; rows * outs];
    let threads = rayon::current_num_threads()
        .min(rows * outs * cols / MIN_WORK_PER_THREAD)
        .max(1);
    if threads == 1 {
        // SAFETY: AVX-512 was detected; x, w and bias were checked to hold what is read,
        // and dst holds rows * outs values.
        unsafe { avx512::product(x, w, bias, cols, 0..outs, Dst(dst.as_mut_ptr(), outs)) };
        return Some(dst);
    }
    // Each thread writes its own range of output columns, multiples of 4 wide.
    let chunk = outs.div_ceil(threads).next_multiple_of(4);
    let out = Dst(dst.as_mut_ptr(), outs);
    rayon::scope(|scope| {
        for start in (0..outs).step_by(chunk) {
            let range = start..(start + chunk).min(outs);
            // SAFETY: as above; the column ranges are disjoint, so no value is written twice.
            scope.spawn(move |_| unsafe { avx512::product(x, w, bias, cols, range, out) });
        }
    });
    Some(dst)
}

/// Row-major `(rows, outs)` output that threads write in disjoint column ranges.
#[derive(Clone, Copy)]
struct Dst(*mut f32, usize);

// SAFETY: threads write disjoint columns of the buffer, which outlives the scope.
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{Dst, Rows};

    /// `x` rows per tile: 5 x 4 accumulators, 4 weight vectors and 1 `x` vector of 32 registers.
    const R: usize = 5;
    const LANES: usize = 16;

    /// Output columns `outs` of `dst = bias + x @ w^T`.
    ///
    /// # Safety
    /// AVX-512F is available; `x` and `w` hold `cols` values in each of their rows, `bias`
    /// one per `w` row, and `dst` `x.rows * w.rows` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        x: Rows,
        w: Rows,
        bias: &[f32],
        cols: usize,
        outs: Range<usize>,
        dst: Dst,
    ) {
        let mut j = outs.start;
        while j < outs.end {
            let width = (outs.end - j).min(4);
            let mut r = 0;
            while r < x.rows {
                let height = (x.rows - r).min(R);
                // SAFETY: the caller's guarantees, with r + height <= x.rows and
                // j + width <= w.rows.
                unsafe {
                    match (height, width) {
                        (5, 4) => tile::<5, 4>(x, w, bias, cols, r, j, dst),
                        (4, 4) => tile::<4, 4>(x, w, bias, cols, r, j, dst),
                        (3, 4) => tile::<3, 4>(x, w, bias, cols, r, j, dst),
                        (2, 4) => tile::<2, 4>(x, w, bias, cols, r, j, dst),
                        (1, 4) => tile::<1, 4>(x, w, bias, cols, r, j, dst),
                        (h, _) => {
                            for jj in j..j + width {
                                for rr in r..r + h {
                                    tile::<1, 1>(x, w, bias, cols, rr, jj, dst);
                                }
                            }
                        }
                    }
                }
                r += height;
            }
            j += width;
        }
    }

    /// The sums of the lanes of `a`, `b`, `c` and `d`, in that order: pairs of registers are
    /// interleaved and added, halving the lanes each time, which costs about a quarter of
    /// four separate reductions (the reductions were a third of a 512-wide tile's time).
    #[inline(always)]
    unsafe fn sum_each(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
        // SAFETY: register operations only; the caller runs with AVX-512F.
        unsafe {
            let pd = _mm512_castps_pd;
            // Per 128-bit lane: (a0+a2, b0+b2, a1+a3, b1+b3), and the same for c and d.
            let ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
            let cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
            // Per 128-bit lane: one partial sum each of a, b, c, d.
            let lo = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(ab), pd(cd)));
            let hi = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(ab), pd(cd)));
            let lanes = _mm512_add_ps(lo, hi);
            // The four 128-bit lanes added together.
            let halves = _mm256_add_ps(
                _mm512_castps512_ps256(lanes),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(pd(lanes))),
            );
            _mm_add_ps(
                _mm256_castps256_ps128(halves),
                _mm256_extractf128_ps::<1>(halves),
            )
        }
    }

    /// `H x W` outputs from `H` rows of `x` (from `r`) and `W` rows of `w` (from `j`).
    #[inline(always)]
    unsafe fn tile<const H: usize, const W: usize>(
        x: Rows,
        w: Rows,
        bias: &[f32],
        cols: usize,
        r: usize,
        j: usize,
        dst: Dst,
    ) {
        // SAFETY (whole body): every load reads columns < cols of rows the caller checked.
        unsafe {
            let xs: [*const f32; H] =
                std::array::from_fn(|i| x.data.as_ptr().add((r + i) * x.stride));
            let ws: [*const f32; W] =
                std::array::from_fn(|i| w.data.as_ptr().add((j + i) * w.stride));
            let mut acc = [[_mm512_setzero_ps(); W]; H];
            let full = cols - cols % LANES;
            let mut k = 0;
            while k < full {
                let wv: [__m512; W] = std::array::from_fn(|c| _mm512_loadu_ps(ws[c].add(k)));
                for (h, acc) in acc.iter_mut().enumerate() {
                    let xv = _mm512_loadu_ps(xs[h].add(k));
                    for c in 0..W {
                        acc[c] = _mm512_fmadd_ps(xv, wv[c], acc[c]);
                    }
                }
                k += LANES;
            }
            if k < cols {
                let mask: __mmask16 = (1u16 << (cols - k)) - 1;
                let wv: [__m512; W] =
                    std::array::from_fn(|c| _mm512_maskz_loadu_ps(mask, ws[c].add(k)));
                for (h, acc) in acc.iter_mut().enumerate() {
                    let xv = _mm512_maskz_loadu_ps(mask, xs[h].add(k));
                    for c in 0..W {
                        acc[c] = _mm512_fmadd_ps(xv, wv[c], acc[c]);
                    }
                }
            }
            for (h, acc) in acc.iter().enumerate() {
                let out = dst.0.add((r + h) * dst.1 + j);
                if W == 4 {
                    let sums = sum_each(acc[0], acc[1], acc[2], acc[3]);
                    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(bias.as_ptr().add(j)), sums));
                } else {
                    for (c, acc) in acc.iter().enumerate() {
                        *out.add(c) = bias[j + c] + _mm512_reduce_add_ps(*acc);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    pub(super) unsafe fn product(
        _: super::Rows,
        _: super::Rows,
        _: &[f32],
        _: usize,
        _: std::ops::Range<usize>,
        _: super::Dst,
    ) {
        unreachable!("available() is false off x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5) - 1.0)
            .collect()
    }

    /// The same product in f64, one multiply-add at a time.
    fn reference(x: Rows, w: Rows, bias: &[f32], cols: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for r in 0..x.rows {
            for (j, &b) in bias.iter().enumerate() {
                let dot: f64 = (0..cols)
                    .map(|k| x.data[r * x.stride + k] as f64 * w.data[j * w.stride + k] as f64)
                    .sum();
                out.push((b as f64 + dot) as f32);
            }
        }
        out
    }

    #[test]
    fn matches_the_product_for_every_tile_shape_and_column_tail() {
        if !available() {
            return; // nothing to compare: callers use gemm on this CPU
        }
        // rows: whole tiles, each remainder height; outs: with and without a column tail;
        // cols: whole vectors and a masked tail; strides wider than cols (a narrowed weight).
        for (rows, outs, cols, stride) in [
            (20, 12, 32, 32),
            (1, 7, 16, 16),
            (4, 5, 37, 40),
            (7, 9, 3, 3),
            (32, 66, 64, 80),
        ] {
            let (xd, wd, bias) = (
                values(rows * stride, 1),
                values(outs * stride, 2),
                values(outs, 3),
            );
            let x = Rows {
                data: &xd,
                rows,
                stride,
            };
            let w = Rows {
                data: &wd,
                rows: outs,
                stride,
            };
            let got = linear(x, w, &bias, cols).expect("runs on AVX-512");
            let want = reference(x, w, &bias, cols);
            for (g, e) in got.iter().zip(&want) {
                assert!(
                    (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "{rows}x{outs}x{cols}: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn declines_what_it_cannot_do() {
        let d = vec![0f32; 64 * 8];
        let x = Rows {
            data: &d,
            rows: MAX_ROWS + 1,
            stride: 8,
        };
        let w = Rows {
            data: &d,
            rows: 4,
            stride: 8,
        };
        assert!(linear(x, w, &[0.0; 4], 8).is_none(), "too many rows");
        let x = Rows {
            data: &d[..10],
            rows: 2,
            stride: 8,
        };
        assert!(linear(x, w, &[0.0; 4], 8).is_none(), "rows past the data");
        let x = Rows {
            data: &d,
            rows: 2,
            stride: 8,
        };
        assert!(
            linear(x, w, &[0.0; 3], 8).is_none(),
            "a bias per output row"
        );
    }
}
