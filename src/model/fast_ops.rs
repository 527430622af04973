//! Fused CPU kernels with hand-written backward passes for the training hot path.
//!
//! candle differentiates the composed ops in [`super::ops::reference`] correctly but slowly on
//! the CPU: every broadcast (bias, LayerNorm weight) is summed back over the leading
//! dimensions by a scalar loop, and every intermediate (reshape, transpose, the pieces of a
//! LayerNorm or softmax) is a graph node whose backward allocates, zeroes and adds a
//! full-size gradient. Each op here is one candle custom op over contiguous f32 data whose
//! `bwd` returns the finished gradients:
//!
//! - linear layers through gemm with the bias fused in (its gradient a column sum), also with
//!   the attention head split / merge folded into the same node; with only a few input rows
//!   (a trace, a decoding step) the forward product runs in `few_rows` instead;
//! - attention scores `q k^T * scale`, the additive mask (no gradient built for the constant),
//!   softmax, log-softmax, LayerNorm, ReLU;
//! - dropout whose mask is a pure function of a seed (SplitMix64), so backward regenerates it;
//! - AdamW as one pass per parameter ([`adamw`]), for the optimiser.
//!
//! [`super::ops`] dispatches here for f32 tensors on the CPU; its unit tests compare every op,
//! forward and backward, with the composed reference and with finite differences.
//! Reductions use `LANES` independent accumulators so they vectorise without reordering
//! float additions differently on different CPUs: results do not depend on the SIMD width.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor, bail,
};
use gemm::{Parallelism, gemm};

use super::few_rows;
#[cfg(target_arch = "x86_64")]
use super::simd_level::simd_level;

/// Independent accumulators per reduction (one AVX-512 register, two AVX2 ones).
const LANES: usize = 16;

// ---------------------------------------------------------------------------------------------
// Instruction-set dispatch

/// Defines a kernel compiled three times, for AVX-512, AVX2 and the crate's baseline
/// (SSE2), and picked at run time like gemm picks its kernels: the crate is not built with
/// `target-cpu=native`, so without this the loops would only ever use 128-bit vectors.
/// Float operations are never reordered or fused (no fast-math, no FMA contraction), so every
/// version gives bit-identical results.
macro_rules! kernel {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                match simd_level() {
                    // SAFETY: simd_level() detected these features on this CPU.
                    2 => return unsafe { v4($($arg),*) },
                    1 => return unsafe { v3($($arg),*) },
                    _ => {}
                }
            }
            body($($arg),*)
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Access helpers

/// The contiguous f32 data a CPU storage holds under `layout`.
fn contiguous<'a>(name: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{name}: expects a contiguous input"),
    }
}

/// Runs `f` on the f32 data and layout of a CPU tensor.
fn read<R>(t: &Tensor, f: impl FnOnce(&[f32], &Layout) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(cpu.as_slice::<f32>()?, layout),
        _ => bail!("maskscope's fused ops run on the CPU only"),
    }
}

/// Runs `f` on the contiguous f32 data of a CPU tensor (copied first if strided).
fn read_contiguous<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    read(&t, |data, layout| match layout.contiguous_offsets() {
        Some((start, end)) => f(&data[start..end]),
        None => bail!("contiguous() returned a strided tensor"),
    })
}

fn tensor_like(values: Vec<f32>, like: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(values, like.shape(), like.device())
}

/// Whether candle would propagate a gradient into `t` (a variable or computed from one).
fn wants_grad(t: &Tensor) -> bool {
    t.track_op()
}

// ---------------------------------------------------------------------------------------------
// Matrix products through the gemm crate (the kernels candle itself uses), with any strides

/// A strided matrix view: `data[offset + row * rs + col * cs]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    fn new(
        data: &'a [f32],
        offset: usize,
        (rows, cols): (usize, usize),
        (rs, cs): (usize, usize),
    ) -> Result<Self> {
        let view = Self {
            data,
            offset,
            rows,
            cols,
            rs,
            cs,
        };
        if rows > 0 && cols > 0 {
            let last = offset + (rows - 1) * rs + (cols - 1) * cs;
            if last >= data.len() {
                bail!("matrix view out of bounds: {last} >= {}", data.len());
            }
        }
        Ok(view)
    }

    /// A rank-2 tensor layout as a view.
    fn of_layout(data: &'a [f32], layout: &Layout) -> Result<Self> {
        let (rows, cols) = layout.shape().dims2()?;
        let stride = layout.stride();
        Self::new(
            data,
            layout.start_offset(),
            (rows, cols),
            (stride[0], stride[1]),
        )
    }

    /// The view as row-major rows, when its columns are contiguous.
    fn as_rows(&self) -> Option<few_rows::Rows<'a>> {
        if self.cs != 1 {
            return None;
        }
        Some(few_rows::Rows {
            data: self.data.get(self.offset..)?,
            rows: self.rows,
            stride: self.rs,
        })
    }

    fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

fn parallelism() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `dst (m, n) = lhs (m, k) @ rhs (k, n)`, or `dst += ...` when `accumulate`; `dst` is row-major.
fn matmul_into(dst: &mut [f32], accumulate: bool, lhs: View, rhs: View) -> Result<()> {
    gemm_into(dst, accumulate, lhs, rhs, 1.0, parallelism())
}

/// `dst (m, n) = scale * lhs (m, k) @ rhs (k, n)`.
fn matmul_scaled(
    dst: &mut [f32],
    lhs: View,
    rhs: View,
    scale: f32,
    par: Parallelism,
) -> Result<()> {
    gemm_into(dst, false, lhs, rhs, scale, par)
}

fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    lhs: View,
    rhs: View,
    scale: f32,
    par: Parallelism,
) -> Result<()> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if rhs.rows != k || dst.len() != m * n {
        bail!(
            "matmul shapes ({m}, {k}) @ ({}, {n}) into {}",
            rhs.rows,
            dst.len()
        );
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return Ok(());
    }
    // SAFETY: both views were bounds-checked in `View::new`, `dst` holds exactly m * n
    // row-major elements, and no input aliases `dst` (it is an exclusively borrowed buffer).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// exp that vectorises

/// `e^x` for `x <= 0` (softmax's shifted scores) within 2 ulp, written so the compiler
/// vectorises loops over it (a call to libm's `expf` runs one element at a time): Cephes'
/// `expf`, range reduction `x = n ln 2 + r` with `|r| <= ln 2 / 2` and a degree-6
/// polynomial, then `2^n` built from its exponent bits. Plain multiplies and adds only, so
/// every instruction set gives the same bits. Below `MIN_ARG`, where `e^x` is subnormal, the
/// result is 0; above 0 it is 1.
#[inline(always)]
pub(super) fn exp_of_nonpositive(x: f32) -> f32 {
    const MIN_ARG: f32 = -87.336_55; // ln of the smallest normal f32
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let clamped = x.clamp(MIN_ARG, 0.0);
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (clamped - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32
    let poly = p * (r * r) + r + 1.0;
    let exponent = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let two_to_n = f32::from_bits(((exponent + 127) as u32) << 23);
    if x < MIN_ARG { 0.0 } else { poly * two_to_n }
}

// ---------------------------------------------------------------------------------------------
// Row kernels

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(c[l]);
        }
    }
    acc.iter()
        .chain(tail)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `acc += row` element-wise.
#[inline(always)]
fn add_assign(acc: &mut [f32], row: &[f32]) {
    for (a, r) in acc.iter_mut().zip(row) {
        *a += r;
    }
}

kernel! {
    /// Column sums of a row-major `(rows, cols)` matrix.
    fn column_sums(data: &[f32], cols: usize) -> Vec<f32> {
        let mut out = vec![0f32; cols];
        if cols > 0 {
            for row in data.chunks_exact(cols) {
                add_assign(&mut out, row);
            }
        }
        out
    }
}

fn rows_of(name: &str, len: usize, dim: usize) -> Result<usize> {
    if dim == 0 || !len.is_multiple_of(dim) {
        bail!("{name}: {len} elements do not split into rows of {dim}");
    }
    Ok(len / dim)
}

fn last_dim(name: &str, layout: &Layout) -> Result<usize> {
    match layout.dims().last() {
        Some(&d) if d > 0 => Ok(d),
        _ => bail!("{name}: needs a non-empty last dimension"),
    }
}

// ---------------------------------------------------------------------------------------------
// Linear: x @ w^T + b

/// How a linear op's input and output are laid out around the `(rows, in) -> (rows, out)`
/// matrix product.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Arrange {
    /// `(.., in) -> (.., out)`.
    Plain,
    /// `(batch, len, in) -> (batch, heads, len, out / heads)`: a projection that also splits
    /// heads (reshape + transpose + contiguous copy in one node).
    SplitHeads(usize),
    /// `(batch, heads, len, head_dim) -> (batch, len, out)`: merges heads, then projects.
    MergeHeads,
}

/// `(batch, heads, len, hd)` -> `(batch, len, heads * hd)`.
fn heads_to_rows(src: &[f32], (b, h, len, hd): (usize, usize, usize, usize)) -> Vec<f32> {
    let mut out = Vec::with_capacity(src.len());
    for bi in 0..b {
        for li in 0..len {
            for hi in 0..h {
                let from = ((bi * h + hi) * len + li) * hd;
                out.extend_from_slice(&src[from..from + hd]);
            }
        }
    }
    out
}

/// `(batch, len, heads * hd)` -> `(batch, heads, len, hd)`.
fn rows_to_heads(src: &[f32], (b, h, len, hd): (usize, usize, usize, usize)) -> Vec<f32> {
    let mut out = Vec::with_capacity(src.len());
    for bi in 0..b {
        for hi in 0..h {
            for li in 0..len {
                let from = ((bi * len + li) * h + hi) * hd;
                out.extend_from_slice(&src[from..from + hd]);
            }
        }
    }
    out
}

/// `x @ w^T + b` with `w (out, in)` and `b (out,)`, the input and output arranged as
/// [`Arrange`] says. The bias is added by gemm itself (the output starts as bias rows) and its
/// gradient is a column sum, not a broadcast reduction; reshapes and head transposes happen
/// inside the op, so backward has one node to visit instead of five.
struct LinearOp(Arrange);

impl LinearOp {
    /// The `(batch, heads, len, head_dim)` dims of the head-split side of the op.
    fn head_dims(&self, dims: &[usize], out_dim: usize) -> Result<(usize, usize, usize, usize)> {
        match (self.0, dims) {
            (Arrange::SplitHeads(h), &[b, len, _]) if h > 0 && out_dim.is_multiple_of(h) => {
                Ok((b, h, len, out_dim / h))
            }
            (Arrange::MergeHeads, &[b, h, len, hd]) => Ok((b, h, len, hd)),
            _ => bail!("linear {:?}: unexpected input dims {dims:?}", self.0),
        }
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "maskscope-linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let w = View::of_layout(ws.as_slice::<f32>()?, wl)?;
        let (out_dim, in_dim) = (w.rows, w.cols);
        if bl.dims() != [out_dim] {
            bail!("linear: weight {:?} with bias {:?}", wl.dims(), bl.dims());
        }
        let b = bs.as_slice::<f32>()?;
        let bias: Vec<f32> = (0..out_dim)
            .map(|i| b[bl.start_offset() + i * bl.stride()[0]])
            .collect();
        let x_data = xs.as_slice::<f32>()?;
        let dims = xl.dims();
        let merged; // MergeHeads: the input with heads merged, (rows, in)
        let x = match self.0 {
            Arrange::Plain if dims.len() == 2 => View::of_layout(x_data, xl)?,
            Arrange::Plain | Arrange::SplitHeads(_) => {
                let data = contiguous(self.name(), xs, xl)?;
                View::new(data, 0, (data.len() / in_dim.max(1), in_dim), (in_dim, 1))?
            }
            Arrange::MergeHeads => {
                let hdims = self.head_dims(dims, out_dim)?;
                merged = heads_to_rows(contiguous(self.name(), xs, xl)?, hdims);
                View::new(
                    &merged,
                    0,
                    (merged.len() / in_dim.max(1), in_dim),
                    (in_dim, 1),
                )?
            }
        };
        let fits = match self.0 {
            Arrange::Plain | Arrange::SplitHeads(_) => dims.last() == Some(&in_dim),
            Arrange::MergeHeads => dims.len() == 4 && dims[1] * dims[3] == in_dim,
        };
        if !fits || x.cols != in_dim {
            bail!(
                "linear {:?}: input {dims:?} with weight {:?}",
                self.0,
                wl.dims()
            );
        }
        let dst = match few_rows_linear(x, w, &bias) {
            Some(dst) => dst,
            None => {
                let mut dst = Vec::with_capacity(x.rows * out_dim);
                for _ in 0..x.rows {
                    dst.extend_from_slice(&bias);
                }
                matmul_into(&mut dst, true, x, w.t())?;
                dst
            }
        };
        Ok(match self.0 {
            Arrange::Plain => {
                let mut shape = dims[..dims.len() - 1].to_vec();
                shape.push(out_dim);
                (CpuStorage::F32(dst), Shape::from(shape))
            }
            Arrange::SplitHeads(_) => {
                let hdims = self.head_dims(dims, out_dim)?;
                let (b, h, len, hd) = hdims;
                (
                    CpuStorage::F32(rows_to_heads(&dst, hdims)),
                    Shape::from((b, h, len, hd)),
                )
            }
            Arrange::MergeHeads => {
                let (b, _, len, _) = self.head_dims(dims, out_dim)?;
                (CpuStorage::F32(dst), Shape::from((b, len, out_dim)))
            }
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (out_dim, in_dim) = w.dims2()?;
        read_contiguous(grad, |g| {
            // The output gradient as (rows, out).
            let split;
            let g = match self.0 {
                Arrange::SplitHeads(_) => {
                    split = heads_to_rows(g, self.head_dims(x.dims(), out_dim)?);
                    &split[..]
                }
                _ => g,
            };
            let rows = g.len() / out_dim.max(1);
            let gv = View::new(g, 0, (rows, out_dim), (out_dim, 1))?;
            // dL/dx = g @ w: (rows, out) @ (out, in)
            let gx = if wants_grad(x) {
                let gx = read(w, |wd, wl| {
                    let mut gx = vec![0f32; rows * in_dim];
                    matmul_into(&mut gx, false, gv, View::of_layout(wd, wl)?)?;
                    Ok(gx)
                })?;
                let gx = match self.0 {
                    Arrange::MergeHeads => rows_to_heads(&gx, self.head_dims(x.dims(), out_dim)?),
                    _ => gx,
                };
                Some(tensor_like(gx, x)?)
            } else {
                None
            };
            // dL/dw = g^T @ x: (out, rows) @ (rows, in)
            let gw = if wants_grad(w) {
                let mut gw = vec![0f32; out_dim * in_dim];
                match self.0 {
                    Arrange::Plain if x.rank() == 2 => read(x, |xd, xl| {
                        matmul_into(&mut gw, false, gv.t(), View::of_layout(xd, xl)?)
                    })?,
                    Arrange::Plain | Arrange::SplitHeads(_) => read_contiguous(x, |xd| {
                        let xv = View::new(xd, 0, (rows, in_dim), (in_dim, 1))?;
                        matmul_into(&mut gw, false, gv.t(), xv)
                    })?,
                    Arrange::MergeHeads => read_contiguous(x, |xd| {
                        let merged = heads_to_rows(xd, self.head_dims(x.dims(), out_dim)?);
                        let xv = View::new(&merged, 0, (rows, in_dim), (in_dim, 1))?;
                        matmul_into(&mut gw, false, gv.t(), xv)
                    })?,
                }
                Some(tensor_like(gw, w)?)
            } else {
                None
            };
            let gb = if wants_grad(b) {
                Some(tensor_like(column_sums(g, out_dim), b)?)
            } else {
                None
            };
            Ok((gx, gw, gb))
        })
    }
}

/// `bias + x @ w^T` by [`few_rows`] when both are row-major and `x` has few rows.
fn few_rows_linear(x: View, w: View, bias: &[f32]) -> Option<Vec<f32>> {
    few_rows::linear(x.as_rows()?, w.as_rows()?, bias, x.cols)
}

fn apply_linear(x: &Tensor, weight: &Tensor, bias: &Tensor, arrange: Arrange) -> Result<Tensor> {
    let x = if arrange == Arrange::Plain && x.rank() == 2 {
        x.clone()
    } else {
        x.contiguous()?
    };
    x.apply_op3_arc(
        weight,
        bias,
        std::sync::Arc::new(Box::new(LinearOp(arrange))),
    )
}

/// `x (.., in) @ weight (out, in)^T + bias (out,)` -> `(.., out)`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    apply_linear(x, weight, bias, Arrange::Plain)
}

/// `linear(x (batch, len, in))` split into `heads`: `(batch, heads, len, out / heads)`.
pub fn linear_split_heads(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    heads: usize,
) -> Result<Tensor> {
    apply_linear(x, weight, bias, Arrange::SplitHeads(heads))
}

/// Heads of `x (batch, heads, len, head_dim)` merged to `(batch, len, heads * head_dim)`,
/// then `linear`: `(batch, len, out)`.
pub fn merge_heads_linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    apply_linear(x, weight, bias, Arrange::MergeHeads)
}

// ---------------------------------------------------------------------------------------------
// Attention scores and masks

/// `q (.., lq, hd) @ k (.., lk, hd)^T * scale` per leading index (batch and head).
struct ScoresOp {
    scale: f32,
}

/// The `(count, rows, cols)` of a contiguous `(.., rows, cols)` layout.
fn batched(name: &str, layout: &Layout) -> Result<(usize, usize, usize)> {
    let dims = layout.dims();
    if dims.len() < 2 {
        bail!("{name}: needs at least two dims, got {dims:?}");
    }
    let (rows, cols) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    Ok((dims[..dims.len() - 2].iter().product(), rows, cols))
}

impl CustomOp2 for ScoresOp {
    fn name(&self) -> &'static str {
        "maskscope-attention-scores"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (q, k) = (contiguous(name, qs, ql)?, contiguous(name, ks, kl)?);
        let ((n, lq, hd), (n2, lk, hd2)) = (batched(name, ql)?, batched(name, kl)?);
        let lead = &ql.dims()[..ql.dims().len() - 2];
        if n != n2 || hd != hd2 || lead != &kl.dims()[..kl.dims().len() - 2] {
            bail!("{name}: q {:?} with k {:?}", ql.dims(), kl.dims());
        }
        let mut out = vec![0f32; n * lq * lk];
        for i in 0..n {
            let qv = View::new(q, i * lq * hd, (lq, hd), (hd, 1))?;
            let kv = View::new(k, i * lk * hd, (lk, hd), (hd, 1))?;
            let dst = &mut out[i * lq * lk..(i + 1) * lq * lk];
            matmul_scaled(dst, qv, kv.t(), self.scale, Parallelism::None)?;
        }
        let mut shape = lead.to_vec();
        shape.extend([lq, lk]);
        Ok((CpuStorage::F32(out), Shape::from(shape)))
    }

    /// dq = scale * g @ k, dk = scale * g^T @ q per leading index.
    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (lq, hd) = (q.dim(q.rank() - 2)?, q.dim(q.rank() - 1)?);
        let lk = k.dim(k.rank() - 2)?;
        let n = q.elem_count() / (lq * hd).max(1);
        read_contiguous(grad, |g| {
            let gq = if wants_grad(q) {
                read_contiguous(k, |kd| {
                    let mut gq = vec![0f32; n * lq * hd];
                    for i in 0..n {
                        let gv = View::new(g, i * lq * lk, (lq, lk), (lk, 1))?;
                        let kv = View::new(kd, i * lk * hd, (lk, hd), (hd, 1))?;
                        let dst = &mut gq[i * lq * hd..(i + 1) * lq * hd];
                        matmul_scaled(dst, gv, kv, self.scale, Parallelism::None)?;
                    }
                    tensor_like(gq, q).map(Some)
                })?
            } else {
                None
            };
            let gk = if wants_grad(k) {
                read_contiguous(q, |qd| {
                    let mut gk = vec![0f32; n * lk * hd];
                    for i in 0..n {
                        let gv = View::new(g, i * lq * lk, (lq, lk), (lk, 1))?;
                        let qv = View::new(qd, i * lq * hd, (lq, hd), (hd, 1))?;
                        let dst = &mut gk[i * lk * hd..(i + 1) * lk * hd];
                        matmul_scaled(dst, gv.t(), qv, self.scale, Parallelism::None)?;
                    }
                    tensor_like(gk, k).map(Some)
                })?
            } else {
                None
            };
            Ok((gq, gk))
        })
    }
}

/// `q (.., lq, hd) @ k (.., lk, hd)^T * scale` -> `(.., lq, lk)`.
pub fn attention_scores(q: &Tensor, k: &Tensor, scale: f64) -> Result<Tensor> {
    q.contiguous()?.apply_op2(
        &k.contiguous()?,
        ScoresOp {
            scale: scale as f32,
        },
    )
}

/// `scores (b, h, q, k) + mask` with `mask (b or 1, h or 1, q, k)` broadcast: the mask is a
/// constant, so backward passes the gradient straight to the scores (candle's broadcast add
/// would also build, and then drop, a full-size gradient for the mask).
struct AddMaskOp;

impl CustomOp2 for AddMaskOp {
    fn name(&self) -> &'static str {
        "maskscope-add-mask"
    }

    fn cpu_fwd(
        &self,
        ss: &CpuStorage,
        sl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (s, m) = (contiguous(name, ss, sl)?, contiguous(name, ms, ml)?);
        let (&[b, h, q, k], &[mb, mh, mq, mk]) = (sl.dims(), ml.dims()) else {
            bail!("{name}: scores {:?} with mask {:?}", sl.dims(), ml.dims());
        };
        if !(mb == b || mb == 1) || !(mh == h || mh == 1) || (mq, mk) != (q, k) {
            bail!("{name}: scores {:?} with mask {:?}", sl.dims(), ml.dims());
        }
        let block = q * k;
        let mut out = Vec::with_capacity(s.len());
        for bi in 0..b {
            for hi in 0..h {
                let at = (bi * h + hi) * block;
                let mat =
                    ((if mb == 1 { 0 } else { bi }) * mh + if mh == 1 { 0 } else { hi }) * block;
                add_extend(&s[at..at + block], &m[mat..mat + block], &mut out);
            }
        }
        Ok((CpuStorage::F32(out), sl.shape().clone()))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        _mask: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), None))
    }
}

kernel! {
    /// Appends `a + b` element-wise to `out`.
    fn add_extend(a: &[f32], b: &[f32], out: &mut Vec<f32>) {
        out.extend(a.iter().zip(b).map(|(x, y)| x + y));
    }
}

/// `scores (b, h, q, k) + mask (b or 1, h or 1, q, k)`; no gradient flows to the mask.
pub fn add_mask(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    scores
        .contiguous()?
        .apply_op2(&mask.contiguous()?, AddMaskOp)
}

// ---------------------------------------------------------------------------------------------
// LayerNorm over the last dimension

struct LayerNormOp {
    eps: f32,
}

/// Mean and 1 / sqrt(biased variance + eps) of one row, as the composed op computes them.
#[inline(always)]
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut acc = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for l in 0..LANES {
            let d = c[l] - mean;
            acc[l] += d * d;
        }
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

kernel! {
    fn layer_norm_fwd(x: &[f32], w: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
        let d = w.len();
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(d) {
            let (mean, rstd) = row_stats(row, eps);
            out.extend(
                row.iter()
                    .zip(w)
                    .zip(b)
                    .map(|((v, w), b)| (v - mean) * rstd * w + b),
            );
        }
        out
    }
}

kernel! {
    /// With xhat = (x - mean) * rstd and gxhat = g * w: dw = sum_rows g * xhat, db = sum_rows g,
    /// dx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)).
    fn layer_norm_bwd(
        x: &[f32],
        w: &[f32],
        g: &[f32],
        eps: f32,
        gx: &mut Vec<f32>,
        gw: &mut [f32],
        gb: &mut [f32],
    ) {
        let d = w.len();
        let mut xhat = vec![0f32; d];
        let mut gxhat = vec![0f32; d];
        for (row, grow) in x.chunks_exact(d).zip(g.chunks_exact(d)) {
            let (mean, rstd) = row_stats(row, eps);
            for j in 0..d {
                xhat[j] = (row[j] - mean) * rstd;
                gxhat[j] = grow[j] * w[j];
                gw[j] += grow[j] * xhat[j];
                gb[j] += grow[j];
            }
            let a = sum(&gxhat) / d as f32;
            let c = dot(&gxhat, &xhat) / d as f32;
            gx.extend(
                gxhat
                    .iter()
                    .zip(&xhat)
                    .map(|(gh, xh)| rstd * (gh - a - xh * c)),
            );
        }
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "maskscope-layer-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, w, b) = (
            contiguous(name, xs, xl)?,
            contiguous(name, ws, wl)?,
            contiguous(name, bs, bl)?,
        );
        let d = last_dim(name, xl)?;
        if w.len() != d || b.len() != d {
            bail!(
                "{name}: weight {} / bias {} for rows of {d}",
                w.len(),
                b.len()
            );
        }
        rows_of(name, x.len(), d)?;
        let out = layer_norm_fwd(x, w, b, self.eps);
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = w.elem_count();
        read_contiguous(x, |xd| {
            read_contiguous(w, |wd| {
                read_contiguous(grad, |g| {
                    rows_of(self.name(), xd.len(), d)?;
                    let mut gx = Vec::with_capacity(xd.len());
                    let (mut gw, mut gb) = (vec![0f32; d], vec![0f32; d]);
                    layer_norm_bwd(xd, wd, g, self.eps, &mut gx, &mut gw, &mut gb);
                    Ok((
                        wants_grad(x).then(|| tensor_like(gx, x)).transpose()?,
                        wants_grad(w).then(|| tensor_like(gw, w)).transpose()?,
                        wants_grad(b).then(|| tensor_like(gb, b)).transpose()?,
                    ))
                })
            })
        })
    }
}

/// LayerNorm over the last dimension (biased variance), `weight` and `bias` of that size.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3_arc(
        &weight.contiguous()?,
        &bias.contiguous()?,
        std::sync::Arc::new(Box::new(LayerNormOp { eps: eps as f32 })),
    )
}

// ---------------------------------------------------------------------------------------------
// Softmax and log-softmax over the last dimension

kernel! {
    fn softmax_fwd(x: &[f32], d: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len());
        let mut e = vec![0f32; d];
        for row in x.chunks_exact(d) {
            let m = max(row);
            for (e, v) in e.iter_mut().zip(row) {
                *e = (v - m).exp();
            }
            let s = sum(&e);
            out.extend(e.iter().map(|e| e / s));
        }
        out
    }
}

kernel! {
    /// dx = y * (g - sum(g * y)) per row.
    fn softmax_bwd(y: &[f32], g: &[f32], d: usize) -> Vec<f32> {
        let mut gx = Vec::with_capacity(y.len());
        for (y, g) in y.chunks_exact(d).zip(g.chunks_exact(d)) {
            let s = dot(g, y);
            gx.extend(y.iter().zip(g).map(|(y, g)| y * (g - s)));
        }
        gx
    }
}

/// A row-wise op over the last dimension whose backward pass needs only the op's result
/// and the incoming gradient (softmax and log-softmax).
struct RowwiseOp {
    name: &'static str,
    forward: fn(&[f32], usize) -> Vec<f32>,
    backward: fn(&[f32], &[f32], usize) -> Vec<f32>,
}

impl CustomOp1 for RowwiseOp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(self.name, storage, layout)?;
        let d = last_dim(self.name, layout)?;
        rows_of(self.name, x.len(), d)?;
        let out = (self.forward)(x, d);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let d = arg.dims().last().copied().unwrap_or(1).max(1);
        read_contiguous(res, |y| {
            read_contiguous(grad, |g| {
                let gx = (self.backward)(y, g, d);
                tensor_like(gx, arg).map(Some)
            })
        })
    }
}

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(RowwiseOp {
        name: "maskscope-softmax",
        forward: softmax_fwd,
        backward: softmax_bwd,
    })
}

kernel! {
    fn log_softmax_fwd(x: &[f32], d: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len());
        let mut e = vec![0f32; d];
        for row in x.chunks_exact(d) {
            let m = max(row);
            for (e, v) in e.iter_mut().zip(row) {
                *e = (v - m).exp();
            }
            let lse = sum(&e).ln();
            out.extend(row.iter().map(|v| (v - m) - lse));
        }
        out
    }
}

kernel! {
    /// dx = g - softmax * sum(g) per row, softmax = exp(y).
    fn log_softmax_bwd(y: &[f32], g: &[f32], d: usize) -> Vec<f32> {
        let mut gx = Vec::with_capacity(y.len());
        for (y, g) in y.chunks_exact(d).zip(g.chunks_exact(d)) {
            let s = sum(g);
            gx.extend(g.iter().zip(y).map(|(g, y)| g - y.exp() * s));
        }
        gx
    }
}

/// Log-softmax over the last dimension.
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(RowwiseOp {
        name: "maskscope-log-softmax",
        forward: log_softmax_fwd,
        backward: log_softmax_bwd,
    })
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy

kernel! {
    /// Per row: `(max, log-sum-exp of x - max)` and the weighted loss
    /// `-((x[label] - max) - lse) * weight`, the same float steps as log-softmax then pick.
    fn cross_entropy_fwd(
        x: &[f32],
        d: usize,
        labels: &[u32],
        weight: &[f32],
    ) -> (Vec<(f32, f32)>, Vec<f32>) {
        let mut stats = Vec::with_capacity(labels.len());
        let mut loss = Vec::with_capacity(labels.len());
        let mut e = vec![0f32; d];
        for ((row, &label), &w) in x.chunks_exact(d).zip(labels).zip(weight) {
            let m = max(row);
            for (e, v) in e.iter_mut().zip(row) {
                *e = exp_of_nonpositive(v - m);
            }
            let lse = sum(&e).ln();
            stats.push((m, lse));
            loss.push(-((row[label as usize] - m) - lse) * w);
        }
        (stats, loss)
    }
}

kernel! {
    /// dx = g * weight * (softmax(x) - onehot(label)) per row; rows with no weight stay zero.
    fn cross_entropy_bwd(
        x: &[f32],
        d: usize,
        stats: &[(f32, f32)],
        labels: &[u32],
        scale: &[f32],
    ) -> Vec<f32> {
        let mut gx = vec![0f32; x.len()];
        for (((row, out), &(m, lse)), (&label, &s)) in x
            .chunks_exact(d)
            .zip(gx.chunks_exact_mut(d))
            .zip(stats)
            .zip(labels.iter().zip(scale))
        {
            if s == 0.0 {
                continue;
            }
            for (o, v) in out.iter_mut().zip(row) {
                *o = s * exp_of_nonpositive((v - m) - lse);
            }
            out[label as usize] -= s;
        }
        gx
    }
}

/// Weighted cross-entropy per row of `logits (n, vocab)` in one op: the gradient goes straight
/// to the logits instead of through a `(n, vocab)` log-softmax, a gather and its scatter.
struct CrossEntropyOp {
    labels: Vec<u32>,
    weight: Vec<f32>,
    /// Each row's `(max, log-sum-exp)` from the forward pass, for the backward pass.
    stats: std::sync::Mutex<Vec<(f32, f32)>>,
}

impl CustomOp1 for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "maskscope-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(self.name(), storage, layout)?;
        let d = last_dim(self.name(), layout)?;
        let rows = rows_of(self.name(), x.len(), d)?;
        if layout.dims().len() != 2 || self.labels.len() != rows || self.weight.len() != rows {
            bail!(
                "cross-entropy: logits {:?} with {} labels and {} weights",
                layout.dims(),
                self.labels.len(),
                self.weight.len()
            );
        }
        if let Some(bad) = self.labels.iter().find(|&&l| l as usize >= d) {
            bail!("cross-entropy: label {bad} outside a vocabulary of {d}");
        }
        let (stats, loss) = cross_entropy_fwd(x, d, &self.labels, &self.weight);
        *self.stats.lock().expect("cross-entropy stats") = stats;
        Ok((CpuStorage::F32(loss), Shape::from(rows)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let d = arg.dims().last().copied().unwrap_or(1).max(1);
        let stats = self.stats.lock().expect("cross-entropy stats");
        let scale: Vec<f32> = grad
            .to_vec1::<f32>()?
            .iter()
            .zip(&self.weight)
            .map(|(g, w)| g * w)
            .collect();
        read_contiguous(arg, |x| {
            let gx = cross_entropy_bwd(x, d, &stats, &self.labels, &scale);
            tensor_like(gx, arg).map(Some)
        })
    }
}

/// `-log softmax(logits)[label] * weight` per row of `logits (n, vocab)`: `(n,)`.
pub fn cross_entropy_rows(logits: &Tensor, labels: Vec<u32>, weight: Vec<f32>) -> Result<Tensor> {
    logits.contiguous()?.apply_op1(CrossEntropyOp {
        labels,
        weight,
        stats: std::sync::Mutex::new(vec![]),
    })
}

// ---------------------------------------------------------------------------------------------
// ReLU and dropout

struct ReluOp;

kernel! {
    fn relu_fwd(x: &[f32]) -> Vec<f32> {
        x.iter().map(|v| v.max(0.0)).collect()
    }
}

kernel! {
    /// The gradient passes where the output is positive (PyTorch's convention at 0).
    fn relu_bwd(y: &[f32], g: &[f32]) -> Vec<f32> {
        y.iter()
            .zip(g)
            .map(|(&y, &g)| if y > 0.0 { g } else { 0.0 })
            .collect()
    }
}

impl CustomOp1 for ReluOp {
    fn name(&self) -> &'static str {
        "maskscope-relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(self.name(), storage, layout)?;
        let out = relu_fwd(x);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// The gradient passes where the output is positive (PyTorch's convention at 0).
    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        read_contiguous(res, |y| {
            read_contiguous(grad, |g| {
                let gx = relu_bwd(y, g);
                tensor_like(gx, arg).map(Some)
            })
        })
    }
}

/// `max(x, 0)`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(ReluOp)
}

/// Inverted dropout whose keep mask is a pure function of `(seed, element index)`, so the
/// backward pass regenerates it instead of storing it.
struct DropoutOp {
    seed: u64,
    /// Keep an element iff its 24-bit uniform draw is at least this (= ceil(p * 2^24)).
    threshold: u32,
    scale: f32,
}

impl DropoutOp {
    fn new(p: f32, seed: u64) -> Self {
        Self {
            seed,
            threshold: (p as f64 * (1u64 << 24) as f64).ceil() as u32,
            scale: 1.0 / (1.0 - p),
        }
    }

    /// `out[i] = src[i] * scale` where element `i` is kept, else 0. Blocks of `2 * LANES`
    /// elements take the low and high 24 bits of `LANES` SplitMix64 outputs (so the loop
    /// vectorises); a tail shorter than a block takes one output per element.
    fn apply(&self, src: &[f32]) -> Vec<f32> {
        dropout_apply(self.seed, self.threshold, self.scale, src)
    }
}

kernel! {
    fn dropout_apply(seed: u64, t: u32, scale: f32, src: &[f32]) -> Vec<f32> {
        const BLOCK: usize = 2 * LANES;
        #[inline(always)]
        fn pick(keep: bool, v: f32, scale: f32) -> f32 {
            if keep { v * scale } else { 0.0 }
        }
        let mut out = Vec::with_capacity(src.len());
        let blocks = src.chunks_exact(BLOCK);
        let tail = blocks.remainder();
        let mut o = [0f32; BLOCK];
        for (b, s) in blocks.enumerate() {
            let base = (b * LANES) as u64;
            for l in 0..LANES {
                let z = splitmix64(seed, base + l as u64);
                o[l] = pick(((z as u32) >> 8) >= t, s[l], scale);
                o[l + LANES] = pick(((z >> 40) as u32) >= t, s[l + LANES], scale);
            }
            out.extend_from_slice(&o);
        }
        let done = src.len() - tail.len();
        out.extend(tail.iter().enumerate().map(|(i, &s)| {
            let z = splitmix64(!seed, (done + i) as u64);
            pick(((z as u32) >> 8) >= t, s, scale)
        }));
        out
    }
}

/// Output `index` of the SplitMix64 generator started at `seed`: two 24-bit draws per call.
#[inline(always)]
fn splitmix64(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        "maskscope-dropout"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(self.name(), storage, layout)?;
        Ok((CpuStorage::F32(self.apply(x)), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        read_contiguous(grad, |g| tensor_like(self.apply(g), arg).map(Some))
    }
}

/// Inverted dropout with drop probability `p` in `[0, 1)`; the mask is determined by `seed`.
pub fn dropout(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(DropoutOp::new(p, seed))
}

/// The fraction of elements [`dropout`] keeps for `seed`, over `n` elements (for tests).
#[cfg(test)]
pub(crate) fn kept_fraction(p: f32, seed: u64, n: usize) -> f64 {
    let out = DropoutOp::new(p, seed).apply(&vec![1f32; n]);
    out.iter().filter(|v| **v != 0.0).count() as f64 / n as f64
}

// ---------------------------------------------------------------------------------------------
// Optimiser: one fused AdamW pass per parameter

/// AdamW constants for one parameter, already combined: `bc1` / `bc2` are the bias
/// corrections `1 - beta^t` and `grad_scale` the clipping factor.
#[derive(Clone, Copy, Debug)]
pub struct AdamWStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub bc1: f64,
    pub bc2: f64,
    pub grad_scale: f64,
}

impl AdamWStep {
    /// The constants as the f32 values candle's `affine` would use.
    fn constants(&self) -> [f32; 10] {
        [
            self.grad_scale as f32,
            self.beta1 as f32,
            (1.0 - self.beta1) as f32,
            self.beta2 as f32,
            (1.0 - self.beta2) as f32,
            (1.0 / self.bc1) as f32,
            (1.0 / self.bc2) as f32,
            self.eps as f32,
            self.lr as f32,
            (1.0 - self.lr * self.weight_decay) as f32,
        ]
    }
}

kernel! {
    /// The update element by element, in the order candle evaluates the composed tensor
    /// expression: g *= scale; m = m b1 + g (1 - b1); v = v b2 + g^2 (1 - b2);
    /// p = p (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps).
    fn adamw_kernel(c: &[f32; 10], p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let [scale, b1, one_b1, b2, one_b2, inv_bc1, inv_bc2, eps, lr, decay] = *c;
        for i in 0..p.len() {
            let gi = g[i] * scale;
            let mi = m[i] * b1 + gi * one_b1;
            let vi = v[i] * b2 + (gi * gi) * one_b2;
            m[i] = mi;
            v[i] = vi;
            let update = (mi * inv_bc1) / ((vi * inv_bc2).sqrt() + eps);
            p[i] = p[i] * decay - update * lr;
        }
    }
}

kernel! {
    fn sum_squares_kernel(x: &[f32]) -> f64 {
        let mut acc = [0f64; LANES];
        let chunks = x.chunks_exact(LANES);
        let tail: f64 = chunks.remainder().iter().map(|&v| (v as f64) * (v as f64)).sum();
        for c in chunks {
            for l in 0..LANES {
                acc[l] += (c[l] as f64) * (c[l] as f64);
            }
        }
        acc.iter().sum::<f64>() + tail
    }
}

/// Sum of squares of every element, accumulated in f64.
pub fn sum_squares(t: &Tensor) -> Result<f64> {
    read_contiguous(t, |x| Ok(sum_squares_kernel(x)))
}

/// Writes the updated parameter into `param`'s storage in place.
struct AdamWOp<'a> {
    constants: [f32; 10],
    grad: &'a [f32],
    m: std::cell::RefCell<Vec<f32>>,
    v: std::cell::RefCell<Vec<f32>>,
}

impl candle_core::InplaceOp1 for AdamWOp<'_> {
    fn name(&self) -> &'static str {
        "maskscope-adamw"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("adamw: the parameter must be contiguous");
        };
        let CpuStorage::F32(data) = storage else {
            bail!("adamw: the parameter must be f32");
        };
        let p = &mut data[start..end];
        let (mut m, mut v) = (self.m.borrow_mut(), self.v.borrow_mut());
        if p.len() != self.grad.len() || p.len() != m.len() || p.len() != v.len() {
            bail!("adamw: parameter, gradient and moments differ in size");
        }
        adamw_kernel(&self.constants, p, self.grad, &mut m, &mut v);
        Ok(())
    }
}

/// One AdamW step for `param` with gradient `grad` and moments `m`, `v`: the parameter is
/// updated in place, the new moments are returned.
pub fn adamw(
    param: &candle_core::Var,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    step: &AdamWStep,
) -> Result<(Tensor, Tensor)> {
    let m_new = read_contiguous(m, |m| Ok(m.to_vec()))?;
    let v_new = read_contiguous(v, |v| Ok(v.to_vec()))?;
    let op = read_contiguous(grad, |g| {
        let op = AdamWOp {
            constants: step.constants(),
            grad: g,
            m: std::cell::RefCell::new(m_new),
            v: std::cell::RefCell::new(v_new),
        };
        param.as_tensor().inplace_op1(&op)?;
        Ok((op.m.into_inner(), op.v.into_inner()))
    })?;
    Ok((tensor_like(op.0, m)?, tensor_like(op.1, v)?))
}
