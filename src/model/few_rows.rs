//! `bias + x (rows, in) @ w (out, in)^T` when `x` has only a few rows: a traced sentence pair
//! (20 rows) or a decoding step (1 row).
//!
//! With so few rows every weight is read once per product from memory, and gemm's way
//! (repack a block of the weight, then run its outer-product kernel) spends more time packing
//! than multiplying. Here each output is a dot product of an `x` row with a weight row, four
//! weight rows and a few `x` rows at a time in vector accumulators: the weight rows stream
//! through once, in order, and the `x` rows stay in L1. At opus-mt sizes a 20 x 512 @
//! 512 x 512 product took 0.24-0.28 ms here and 0.35-0.44 ms in gemm, the 512 x 65,001 output
//! layer 30 ms instead of 44-50 ms; `cargo bench --bench model -- linear_20_rows` compares
//! the two on distinct weights, `examples/marian_speed.rs` times the whole trace.
//!
//! Two instruction sets: AVX-512 (tiles of 5 `x` rows by 4 weight rows, 20 of its 32
//! registers) and AVX2 with FMA (2 by 4, 8 of 16). Other CPUs, and more rows, keep gemm.

// Off x86-64 no kernel is ever detected, so the instruction sets and the output buffer are
// never built there; `linear` still exists and always declines.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// More rows than this and gemm's blocking wins (the `x` rows no longer fit in L1).
pub const MAX_ROWS: usize = 32;

/// Products smaller than this (multiply-adds) are not split over threads.
const MIN_WORK_PER_THREAD: usize = 1 << 20;

/// The vector instructions a kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2,
}

/// The widest kernel this CPU runs (the same levels the other fused kernels use).
fn detected() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    return match super::simd_level::simd_level() {
        2 => Some(Isa::Avx512),
        1 => Some(Isa::Avx2),
        _ => None,
    };
    #[cfg(not(target_arch = "x86_64"))]
    None
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

/// `dst (x.rows, w.rows) = bias + x @ w^T` over `cols` columns of each. `None` when no kernel
/// runs here (no AVX2, too many rows, shapes that do not fit): use gemm.
pub fn linear(x: Rows, w: Rows, bias: &[f32], cols: usize) -> Option<Vec<f32>> {
    linear_with(detected()?, x, w, bias, cols)
}

fn linear_with(isa: Isa, x: Rows, w: Rows, bias: &[f32], cols: usize) -> Option<Vec<f32>> {
    let (rows, outs) = (x.rows, w.rows);
    if rows == 0 || rows > MAX_ROWS || cols == 0 {
        return None;
    }
    if !x.fits(cols) || !w.fits(cols) || bias.len() != outs {
        return None;
    }
    let mut dst = vec![0f32; rows * outs];
    let out = Dst(dst.as_mut_ptr(), outs);
    // SAFETY (both calls): `isa` was detected on this CPU (or, in tests, checked); x, w and
    // bias were checked to hold what is read and dst holds rows * outs values; the threads'
    // column ranges are disjoint, so no value is written twice.
    let run = move |range| unsafe {
        match isa {
            Isa::Avx512 => x86::product_avx512(x, w, bias, cols, range, out),
            Isa::Avx2 => x86::product_avx2(x, w, bias, cols, range, out),
        }
    };
    let threads = rayon::current_num_threads()
        .min(rows * outs * cols / MIN_WORK_PER_THREAD)
        .max(1);
    if threads == 1 {
        run(0..outs);
    } else {
        // Each thread writes its own range of output columns, a multiple of 4 wide.
        let chunk = outs.div_ceil(threads).next_multiple_of(4);
        rayon::scope(|scope| {
            for start in (0..outs).step_by(chunk) {
                scope.spawn(move |_| run(start..(start + chunk).min(outs)));
            }
        });
    }
    Some(dst)
}

/// Row-major `(rows, outs)` output that threads write in disjoint column ranges.
#[derive(Clone, Copy)]
struct Dst(*mut f32, usize);

// SAFETY: threads write disjoint columns of the buffer, which outlives the scope.
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{Dst, Rows};

    /// One instruction set's tile: `H x W` outputs from `H` rows of `x` (from `r`) and `W`
    /// rows of `w` (from `j`), with `H <= MAX_HEIGHT`.
    trait Tile {
        const MAX_HEIGHT: usize;
        unsafe fn tile<const H: usize, const W: usize>(
            x: Rows,
            w: Rows,
            bias: &[f32],
            cols: usize,
            at: (usize, usize),
            dst: Dst,
        );
    }

    /// Output columns `outs` of `dst = bias + x @ w^T`, tile by tile.
    ///
    /// # Safety
    /// `T`'s instructions are available; `x` and `w` hold `cols` values in each of their
    /// rows, `bias` one per `w` row, and `dst` `x.rows * w.rows` values.
    #[inline(always)]
    unsafe fn product<T: Tile>(
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
                let height = (x.rows - r).min(T::MAX_HEIGHT);
                let at = (r, j);
                // SAFETY: the caller's guarantees, with r + height <= x.rows and
                // j + width <= w.rows.
                unsafe {
                    match (height, width) {
                        (5, 4) => T::tile::<5, 4>(x, w, bias, cols, at, dst),
                        (4, 4) => T::tile::<4, 4>(x, w, bias, cols, at, dst),
                        (3, 4) => T::tile::<3, 4>(x, w, bias, cols, at, dst),
                        (2, 4) => T::tile::<2, 4>(x, w, bias, cols, at, dst),
                        (1, 4) => T::tile::<1, 4>(x, w, bias, cols, at, dst),
                        (h, _) => {
                            for jj in j..j + width {
                                for rr in r..r + h {
                                    T::tile::<1, 1>(x, w, bias, cols, (rr, jj), dst);
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

    /// # Safety
    /// As [`product`], on a CPU with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product_avx512(
        x: Rows,
        w: Rows,
        bias: &[f32],
        cols: usize,
        outs: Range<usize>,
        dst: Dst,
    ) {
        unsafe { product::<Avx512>(x, w, bias, cols, outs, dst) }
    }

    /// # Safety
    /// As [`product`], on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product_avx2(
        x: Rows,
        w: Rows,
        bias: &[f32],
        cols: usize,
        outs: Range<usize>,
        dst: Dst,
    ) {
        unsafe { product::<Avx2>(x, w, bias, cols, outs, dst) }
    }

    /// The first pointer of each of `N` rows from `first`.
    #[inline(always)]
    fn row_starts<const N: usize>(m: Rows, first: usize) -> [*const f32; N] {
        std::array::from_fn(|i| m.data[(first + i) * m.stride..].as_ptr())
    }

    struct Avx512;

    impl Tile for Avx512 {
        /// 5 x 4 accumulators, 4 weight vectors and 1 `x` vector of 32 registers.
        const MAX_HEIGHT: usize = 5;

        #[inline(always)]
        unsafe fn tile<const H: usize, const W: usize>(
            x: Rows,
            w: Rows,
            bias: &[f32],
            cols: usize,
            (r, j): (usize, usize),
            dst: Dst,
        ) {
            const LANES: usize = 16;
            let (xs, ws) = (row_starts::<H>(x, r), row_starts::<W>(w, j));
            // SAFETY (whole body): every load reads columns < cols of rows the caller
            // checked; AVX-512F is enabled by the caller.
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); W]; H];
                let full = cols - cols % LANES;
                for k in (0..full).step_by(LANES) {
                    accumulate(&mut acc, &xs, &ws, k, |p| _mm512_loadu_ps(p));
                }
                if full < cols {
                    let mask: __mmask16 = (1u16 << (cols - full)) - 1;
                    accumulate(&mut acc, &xs, &ws, full, |p| _mm512_maskz_loadu_ps(mask, p));
                }
                for (h, acc) in acc.iter().enumerate() {
                    let out = dst.0.add((r + h) * dst.1 + j);
                    if W == 4 {
                        let sums = sum_each_512(acc[0], acc[1], acc[2], acc[3]);
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

    /// `acc[h][c] += x row h * w row c` for the vectors `load` reads at column `k`.
    #[inline(always)]
    unsafe fn accumulate<const H: usize, const W: usize>(
        acc: &mut [[__m512; W]; H],
        xs: &[*const f32; H],
        ws: &[*const f32; W],
        k: usize,
        load: impl Fn(*const f32) -> __m512,
    ) {
        // SAFETY: the caller's tile reads these columns; AVX-512F is enabled by the caller.
        unsafe {
            let wv: [__m512; W] = std::array::from_fn(|c| load(ws[c].add(k)));
            for (h, acc) in acc.iter_mut().enumerate() {
                let xv = load(xs[h].add(k));
                for c in 0..W {
                    acc[c] = _mm512_fmadd_ps(xv, wv[c], acc[c]);
                }
            }
        }
    }

    /// The sums of the lanes of `a`, `b`, `c` and `d`, in that order: pairs of registers are
    /// interleaved and added, halving the lanes each time, which costs about a quarter of
    /// four separate reductions (the reductions were a third of a tile's time).
    #[inline(always)]
    unsafe fn sum_each_512(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
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
            sum_halves(halves)
        }
    }

    /// The two 128-bit halves of `v` added.
    #[inline(always)]
    unsafe fn sum_halves(v: __m256) -> __m128 {
        // SAFETY: register operations only; the caller runs with AVX.
        unsafe { _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v)) }
    }

    struct Avx2;

    impl Tile for Avx2 {
        /// 2 x 4 accumulators, 4 weight vectors and 1 `x` vector of 16 registers.
        const MAX_HEIGHT: usize = 2;

        #[inline(always)]
        unsafe fn tile<const H: usize, const W: usize>(
            x: Rows,
            w: Rows,
            bias: &[f32],
            cols: usize,
            (r, j): (usize, usize),
            dst: Dst,
        ) {
            const LANES: usize = 8;
            let (xs, ws) = (row_starts::<H>(x, r), row_starts::<W>(w, j));
            // SAFETY (whole body): every load reads columns < cols of rows the caller
            // checked; AVX2 and FMA are enabled by the caller.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); W]; H];
                let full = cols - cols % LANES;
                for k in (0..full).step_by(LANES) {
                    let wv: [__m256; W] = std::array::from_fn(|c| _mm256_loadu_ps(ws[c].add(k)));
                    for (h, acc) in acc.iter_mut().enumerate() {
                        let xv = _mm256_loadu_ps(xs[h].add(k));
                        for c in 0..W {
                            acc[c] = _mm256_fmadd_ps(xv, wv[c], acc[c]);
                        }
                    }
                }
                for (h, acc) in acc.iter().enumerate() {
                    let out = dst.0.add((r + h) * dst.1 + j);
                    // The columns past the last whole vector, one at a time.
                    let tail = |c: usize| {
                        (full..cols).fold(0f32, |s, k| (*xs[h].add(k)).mul_add(*ws[c].add(k), s))
                    };
                    if W == 4 {
                        // hadd twice: (a, b, c, d) sums per 128-bit half, then the halves.
                        let ab = _mm256_hadd_ps(acc[0], acc[1]);
                        let cd = _mm256_hadd_ps(acc[2], acc[3]);
                        let sums = sum_halves(_mm256_hadd_ps(ab, cd));
                        let tails = _mm_setr_ps(tail(0), tail(1), tail(2), tail(3));
                        let bias = _mm_loadu_ps(bias.as_ptr().add(j));
                        _mm_storeu_ps(out, _mm_add_ps(bias, _mm_add_ps(sums, tails)));
                    } else {
                        for (c, acc) in acc.iter().enumerate() {
                            let lanes = sum_halves(*acc);
                            let pairs = _mm_hadd_ps(lanes, lanes);
                            let sum = _mm_cvtss_f32(_mm_hadd_ps(pairs, pairs));
                            *out.add(c) = bias[j + c] + (sum + tail(c));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{Dst, Rows};
    use std::ops::Range;

    pub(super) unsafe fn product_avx512(
        _: Rows,
        _: Rows,
        _: &[f32],
        _: usize,
        _: Range<usize>,
        _: Dst,
    ) {
        unreachable!("no kernel is detected off x86-64")
    }

    pub(super) unsafe fn product_avx2(
        _: Rows,
        _: Rows,
        _: &[f32],
        _: usize,
        _: Range<usize>,
        _: Dst,
    ) {
        unreachable!("no kernel is detected off x86-64")
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

    /// Every kernel this CPU can run, whatever `detected` chose.
    fn supported() -> Vec<Isa> {
        let mut isas = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                isas.push(Isa::Avx2);
            }
        }
        isas
    }

    #[test]
    fn matches_the_product_for_every_tile_shape_and_column_tail() {
        let isas = supported();
        assert!(detected().is_none_or(|isa| isas.contains(&isa)));
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
            let want = reference(x, w, &bias, cols);
            for &isa in &isas {
                let got = linear_with(isa, x, w, &bias, cols).expect("shapes it takes");
                for (g, e) in got.iter().zip(&want) {
                    assert!(
                        (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{isa:?} {rows}x{outs}x{cols}: {g} vs {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn threads_split_the_columns_without_gaps_or_overlaps() {
        let (rows, outs, cols) = (3, 1030, 512); // 1.6 M multiply-adds: two threads
        let (xd, wd, bias) = (
            values(rows * cols, 4),
            values(outs * cols, 5),
            values(outs, 6),
        );
        let x = Rows {
            data: &xd,
            rows,
            stride: cols,
        };
        let w = Rows {
            data: &wd,
            rows: outs,
            stride: cols,
        };
        let want = reference(x, w, &bias, cols);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for isa in supported() {
            let got = pool
                .install(|| linear_with(isa, x, w, &bias, cols))
                .unwrap();
            for (g, e) in got.iter().zip(&want) {
                assert!(
                    (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{isa:?}: {g} vs {e}"
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
        assert!(
            linear_with(Isa::Avx2, x, w, &[0.0; 4], 8).is_none(),
            "too many rows"
        );
        let x = Rows {
            data: &d[..10],
            rows: 2,
            stride: 8,
        };
        assert!(
            linear_with(Isa::Avx2, x, w, &[0.0; 4], 8).is_none(),
            "rows past the data"
        );
        let x = Rows {
            data: &d,
            rows: 2,
            stride: 8,
        };
        assert!(
            linear_with(Isa::Avx2, x, w, &[0.0; 3], 8).is_none(),
            "a bias per output row"
        );
    }
}
