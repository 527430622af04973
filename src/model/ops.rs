//! Differentiable building blocks. candle-nn's fused `LayerNorm` fast path and
//! `softmax_last_dim` drop gradients (candle issues 2168, 3011, 3752), so every op the
//! training path uses is defined here: [`reference`](mod@reference) composes it from ops
//! candle can differentiate, and f32 CPU tensors (the app's) take the fused kernels with
//! hand-written backward passes in [`super::fast_ops`], which the tests below pin to the
//! reference (forward, gradients, finite differences, and the whole model's gradients).

use std::cell::RefCell;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::{Rng, rngs::StdRng};

use super::fast_ops;

pub const LAYER_NORM_EPS: f64 = 1e-5;

/// Whether every tensor can take the fused path in [`super::fast_ops`] (f32 on the CPU).
fn fused(ts: &[&Tensor]) -> bool {
    #[cfg(test)]
    if tests::REFERENCE_ONLY.get() {
        return false;
    }
    ts.iter()
        .all(|t| t.dtype() == DType::F32 && matches!(t.device(), Device::Cpu))
}

/// `x @ weight^T + bias` over the last dimension, as `nn.Linear` (weight is `(out, in)`).
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(&[x, weight, bias]) {
        return fast_ops::linear(x, weight, bias);
    }
    let (out_dim, in_dim) = weight.dims2()?;
    let lead = x.dims()[..x.rank() - 1].to_vec();
    let rows: usize = lead.iter().product();
    let y = reference::linear_2d(&x.reshape((rows, in_dim))?, weight, bias)?; // (rows, out)
    let mut shape = lead;
    shape.push(out_dim);
    y.reshape(shape)
}

/// `linear(x (batch, len, in))` with its output split into heads:
/// `(batch, heads, len, out / heads)`, contiguous.
pub fn linear_split_heads(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    heads: usize,
) -> Result<Tensor> {
    if fused(&[x, weight, bias]) {
        return fast_ops::linear_split_heads(x, weight, bias, heads);
    }
    let (batch, len, _) = x.dims3()?;
    let y = linear(x, weight, bias)?; // (batch, len, out)
    let head_dim = y.dim(2)? / heads;
    y.reshape((batch, len, heads, head_dim))?
        .transpose(1, 2)?
        .contiguous()
}

/// Heads of `x (batch, heads, len, head_dim)` merged into `(batch, len, heads * head_dim)`,
/// then `linear`: `(batch, len, out)`.
pub fn merge_heads_linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(&[x, weight, bias]) {
        return fast_ops::merge_heads_linear(x, weight, bias);
    }
    let (batch, heads, len, head_dim) = x.dims4()?;
    let merged = x.transpose(1, 2)?.reshape((batch, len, heads * head_dim))?;
    linear(&merged, weight, bias)
}

/// Attention scores `q (.., q_len, head_dim) @ k (.., k_len, head_dim)^T * scale`:
/// `(.., q_len, k_len)`.
pub fn attention_scores(q: &Tensor, k: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(&[q, k]) {
        return fast_ops::attention_scores(q, k, scale);
    }
    q.matmul(&k.t()?)? * scale
}

/// `scores (batch, heads, q, k) + mask (batch or 1, 1, q, k)`, broadcast over heads. The
/// mask is a constant: no gradient is computed for it.
pub fn add_mask(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    if fused(&[scores, mask]) && scores.rank() == 4 && mask.rank() == 4 {
        return fast_ops::add_mask(scores, mask);
    }
    scores.broadcast_add(mask)
}

/// LayerNorm over the last dimension with biased variance, as `nn.LayerNorm(eps=1e-5)`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(&[x, weight, bias]) {
        fast_ops::layer_norm(x, weight, bias, LAYER_NORM_EPS)
    } else {
        reference::layer_norm(x, weight, bias)
    }
}

/// Softmax over the last dimension. Entries -1e9 below the row max come out exactly 0.0
/// (`exp` underflows), which the attention records rely on.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if fused(&[x]) {
        fast_ops::softmax_last_dim(x)
    } else {
        reference::softmax_last_dim(x)
    }
}

/// Log-softmax over the last dimension.
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if fused(&[x]) {
        fast_ops::log_softmax_last_dim(x)
    } else {
        reference::log_softmax_last_dim(x)
    }
}

/// `max(x, 0)`; the gradient is 0 where the output is 0 (as PyTorch's).
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if fused(&[x]) {
        fast_ops::relu(x)
    } else {
        x.relu()
    }
}

/// Inverted dropout with a seeded generator so training runs are reproducible: each call
/// draws one `u64` from `rng` and the keep mask is a pure function of it (SplitMix64 over
/// element indices, 24-bit uniforms like `rng.random::<f32>()`).
pub fn dropout(x: &Tensor, p: f32, rng: &RefCell<StdRng>) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let seed: u64 = rng.borrow_mut().random();
    if fused(&[x]) {
        fast_ops::dropout(x, p, seed)
    } else {
        reference::dropout(x, p, seed)
    }
}

/// The same ops composed from candle primitives: the definition the fused kernels in
/// [`super::fast_ops`] are tested against, and the path for non-f32 or non-CPU tensors.
pub mod reference {
    use candle_core::{D, Result, Tensor, Var};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::{AdamWStep, LAYER_NORM_EPS};

    /// `x (rows, in) @ weight^T + bias`.
    pub fn linear_2d(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        x.matmul(&weight.t()?)?.broadcast_add(bias)
    }

    pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + LAYER_NORM_EPS)?.sqrt()?)?;
        normed.broadcast_mul(weight)?.broadcast_add(bias)
    }

    /// The row max is a constant shift for stability, so it is detached.
    pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
        let max = x.max_keepdim(D::Minus1)?.detach();
        let exp = x.broadcast_sub(&max)?.exp()?;
        exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
    }

    pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
        let max = x.max_keepdim(D::Minus1)?.detach();
        let shifted = x.broadcast_sub(&max)?;
        shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)
    }

    /// AdamW as a composed tensor expression (decoupled weight decay, bias-corrected moments).
    pub fn adamw(
        param: &Var,
        grad: &Tensor,
        m: &Tensor,
        v: &Tensor,
        step: &AdamWStep,
    ) -> Result<(Tensor, Tensor)> {
        let g = (grad * step.grad_scale)?;
        let m = ((m * step.beta1)? + (&g * (1.0 - step.beta1))?)?;
        let v = ((v * step.beta2)? + (g.sqr()? * (1.0 - step.beta2))?)?;
        let m_hat = (&m / step.bc1)?;
        let v_hat = (&v / step.bc2)?;
        let p = param.as_tensor();
        let decayed = (p * (1.0 - step.lr * step.weight_decay))?;
        let update = (m_hat / (v_hat.sqrt()? + step.eps)?)?;
        param.set(&(decayed - (update * step.lr)?)?)?;
        Ok((m, v))
    }

    /// Inverted dropout with a mask drawn from `StdRng::seed_from_u64(seed)`.
    pub fn dropout(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
        let scale = 1.0 / (1.0 - p);
        let mut rng = StdRng::seed_from_u64(seed);
        let keep: Vec<f32> = (0..x.elem_count())
            .map(|_| if rng.random::<f32>() >= p { scale } else { 0.0 })
            .collect();
        x.mul(&Tensor::from_vec(keep, x.shape(), x.device())?)
    }
}

pub use fast_ops::AdamWStep;

/// One AdamW step: `param` is updated in place and the new moments `(m, v)` returned. The
/// same math as the composed tensor expression in [`reference::adamw`], in one pass per
/// parameter instead of about fifteen.
pub fn adamw_update(
    param: &Var,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    step: &AdamWStep,
) -> Result<(Tensor, Tensor)> {
    if fused(&[param.as_tensor(), grad, m, v]) && param.as_tensor().is_contiguous() {
        return fast_ops::adamw(param, grad, m, v, step);
    }
    reference::adamw(param, grad, m, v, step)
}

/// Sum of the squares of all elements (for gradient norms), accumulated in f64.
pub fn sum_squares(t: &Tensor) -> Result<f64> {
    if fused(&[t]) {
        return fast_ops::sum_squares(t);
    }
    t.to_dtype(DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()
}

/// Sinusoidal positions `(len, d_model)`: pe[pos, 2i] = sin(pos / 10000^(2i/d)),
/// pe[pos, 2i+1] = cos(pos / 10000^(2i/d)). Computed like PyTorch's tutorial (f32 `exp`)
/// so checkpoints trained there see identical inputs.
pub fn positional_encoding(len: usize, d_model: usize, device: &Device) -> Result<Tensor> {
    let mut pe = vec![0f32; len * d_model];
    for pos in 0..len {
        for i in (0..d_model).step_by(2) {
            let div = (i as f32 * (-(10000f32).ln() / d_model as f32)).exp();
            let angle = pos as f32 * div;
            pe[pos * d_model + i] = angle.sin();
            if i + 1 < d_model {
                pe[pos * d_model + i + 1] = angle.cos();
            }
        }
    }
    Tensor::from_vec(pe, (len, d_model), device)
}

/// Mean cross-entropy of `logits (n, vocab)` against `labels (n,)`, counting only rows whose
/// `weight (n,)` is 1 (pad labels have weight 0). Returns `(mean loss, per-row loss)`.
pub fn masked_cross_entropy(
    logits: &Tensor,
    labels: &Tensor,
    weight: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let per_row = if fused(&[logits, weight]) && labels.dtype() == DType::U32 {
        fast_ops::cross_entropy_rows(logits, labels.to_vec1()?, weight.to_vec1()?)?
    } else {
        let log_probs = log_softmax_last_dim(logits)?;
        let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?; // (n,)
        picked.neg()?.mul(weight)?
    };
    let count = weight.sum_all()?.to_scalar::<f32>()?.max(1.0);
    Ok(((per_row.sum_all()? / count as f64)?, per_row))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use candle_core::Var;
    use rand::SeedableRng;

    use super::*;

    thread_local! {
        /// Routes every op through [`reference`] on this thread (tests only).
        pub(super) static REFERENCE_ONLY: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` with the composed reference ops instead of the fused kernels.
    fn with_reference<R>(f: impl FnOnce() -> R) -> R {
        REFERENCE_ONLY.set(true);
        let out = f();
        REFERENCE_ONLY.set(false);
        out
    }

    fn random(shape: &[usize], seed: u64, scale: f32) -> Var {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
            .collect();
        Var::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
        assert_eq!(got.dims(), want.dims(), "{what}: shapes");
        let (got, want) = (flat(got), flat(want));
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= tol * scale,
                "{what}[{i}]: fused {g} vs reference {w}"
            );
        }
    }

    /// `sum(op(inputs) * r)` for a fixed random `r`, so every output element has its own weight.
    fn weighted_loss(y: &Tensor, seed: u64) -> Tensor {
        let r = random(y.dims(), seed, 1.0);
        y.mul(r.as_tensor()).unwrap().sum_all().unwrap()
    }

    /// Forward and gradients of every input agree between the fused op and the reference.
    fn check_against_reference(name: &str, inputs: &[Var], op: impl Fn(&[Tensor]) -> Tensor) {
        let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
        let fused = op(&ts);
        let reference = with_reference(|| op(&ts));
        assert_close(&format!("{name} forward"), &fused, &reference, 1e-5);
        let g_fused = weighted_loss(&fused, 99).backward().unwrap();
        let g_ref = with_reference(|| weighted_loss(&reference, 99).backward().unwrap());
        for (i, v) in inputs.iter().enumerate() {
            let a = g_fused.get(v.as_tensor()).expect("fused gradient");
            let b = g_ref.get(v.as_tensor()).expect("reference gradient");
            assert_close(&format!("{name} grad of input {i}"), a, b, 1e-4);
            assert!(
                flat(a).iter().any(|g| *g != 0.0),
                "{name}: zero gradient {i}"
            );
        }
    }

    /// Central finite differences of the weighted loss at a few coordinates of each input.
    fn check_finite_differences(name: &str, inputs: &[Var], op: impl Fn(&[Tensor]) -> Tensor) {
        let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
        let grads = weighted_loss(&op(&ts), 7).backward().unwrap();
        let loss_at = || {
            let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
            weighted_loss(&op(&ts), 7).to_scalar::<f32>().unwrap() as f64
        };
        for (i, v) in inputs.iter().enumerate() {
            let analytic = flat(grads.get(v.as_tensor()).unwrap());
            let original = flat(v.as_tensor());
            let n = original.len();
            for k in [0, n / 3, n / 2, n - 1] {
                let h = 1e-2f32;
                let mut bumped = original.clone();
                bumped[k] = original[k] + h;
                v.set(&Tensor::from_vec(bumped.clone(), v.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let up = loss_at();
                bumped[k] = original[k] - h;
                v.set(&Tensor::from_vec(bumped, v.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let down = loss_at();
                v.set(&Tensor::from_vec(original.clone(), v.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let numeric = (up - down) / (2.0 * h as f64);
                let a = analytic[k] as f64;
                assert!(
                    (numeric - a).abs() <= 2e-2 * a.abs().max(1.0),
                    "{name} input {i}[{k}]: analytic {a} vs numeric {numeric}"
                );
            }
        }
    }

    #[test]
    fn fused_linear_matches_reference_and_finite_differences() {
        // Rows not a multiple of any SIMD width; a narrowed weight as attention uses.
        let x = random(&[3, 5, 7], 1, 1.0);
        let w_full = random(&[3 * 6, 7], 2, 0.5);
        let b_full = random(&[3 * 6], 3, 0.5);
        let op = |t: &[Tensor]| {
            let w = t[1].narrow(0, 6, 6).unwrap();
            let b = t[2].narrow(0, 6, 6).unwrap();
            linear(&t[0], &w, &b).unwrap()
        };
        let inputs = [x, w_full, b_full];
        check_against_reference("linear", &inputs, op);
        check_finite_differences("linear", &inputs, op);
        // A transposed (strided) input and a single row.
        let xt = random(&[7, 4], 4, 1.0);
        let w = random(&[5, 4], 5, 0.5);
        let b = random(&[5], 6, 0.5);
        check_against_reference("linear strided", &[xt, w, b], |t| {
            linear(&t[0].t().unwrap().t().unwrap(), &t[1], &t[2]).unwrap()
        });
        let x1 = random(&[1, 1, 9], 7, 1.0);
        let w = random(&[3, 9], 8, 0.5);
        let b = random(&[3], 9, 0.5);
        check_against_reference("linear one row", &[x1, w, b], |t| {
            linear(&t[0], &t[1], &t[2]).unwrap()
        });
    }

    #[test]
    fn fused_head_projections_match_reference_and_finite_differences() {
        // (batch 2, len 3, in 5) -> 3 heads of 2; a narrowed weight as attention uses.
        let x = random(&[2, 3, 5], 11, 1.0);
        let w = random(&[12, 5], 12, 0.5);
        let b = random(&[12], 13, 0.5);
        let split = |t: &[Tensor]| {
            let w = t[1].narrow(0, 6, 6).unwrap();
            let b = t[2].narrow(0, 6, 6).unwrap();
            linear_split_heads(&t[0], &w, &b, 3).unwrap()
        };
        check_against_reference(
            "linear_split_heads",
            &[x.clone(), w.clone(), b.clone()],
            split,
        );
        check_finite_differences("linear_split_heads", &[x, w, b], split);
        // (batch 2, heads 3, len 4, head_dim 2) -> (2, 4, out 5)
        let c = random(&[2, 3, 4, 2], 14, 1.0);
        let w = random(&[5, 6], 15, 0.5);
        let b = random(&[5], 16, 0.5);
        let merge = |t: &[Tensor]| merge_heads_linear(&t[0], &t[1], &t[2]).unwrap();
        check_against_reference(
            "merge_heads_linear",
            &[c.clone(), w.clone(), b.clone()],
            merge,
        );
        check_finite_differences("merge_heads_linear", &[c, w, b], merge);
    }

    #[test]
    fn fused_scores_and_mask_match_reference_and_finite_differences() {
        let q = random(&[2, 3, 4, 5], 21, 1.0);
        let k = random(&[2, 3, 6, 5], 22, 1.0);
        let scores = |t: &[Tensor]| attention_scores(&t[0], &t[1], 0.4).unwrap();
        check_against_reference("attention_scores", &[q.clone(), k.clone()], scores);
        check_finite_differences("attention_scores", &[q.clone(), k.clone()], scores);
        // One query row (incremental decoding).
        let q1 = random(&[2, 3, 1, 5], 23, 1.0);
        check_against_reference("attention_scores one query", &[q1, k], scores);
        // A per-sequence mask broadcast over heads, and one shared by the batch.
        let s = random(&[2, 3, 4, 6], 24, 1.0);
        for mask_shape in [[2, 1, 4, 6], [1, 1, 4, 6]] {
            let mask = random(&mask_shape, 25, 5.0).as_tensor().detach();
            let op = |t: &[Tensor]| add_mask(&t[0], &mask).unwrap();
            check_against_reference("add_mask", std::slice::from_ref(&s), op);
            check_finite_differences("add_mask", std::slice::from_ref(&s), op);
        }
    }

    #[test]
    fn fused_layer_norm_matches_reference_and_finite_differences() {
        for (shape, seed) in [(vec![2, 3, 37], 10), (vec![4, 64], 20), (vec![1, 5], 30)] {
            let d = *shape.last().unwrap();
            let x = random(&shape, seed, 2.0);
            let w = Var::from_tensor(&(random(&[d], seed + 1, 0.5).as_tensor() + 1.0).unwrap())
                .unwrap();
            let b = random(&[d], seed + 2, 0.5);
            let inputs = [x, w, b];
            let op = |t: &[Tensor]| layer_norm(&t[0], &t[1], &t[2]).unwrap();
            check_against_reference("layer_norm", &inputs, op);
            check_finite_differences("layer_norm", &inputs, op);
        }
    }

    #[test]
    fn fused_softmaxes_match_reference_and_finite_differences() {
        let x = random(&[2, 3, 4, 19], 40, 3.0);
        check_against_reference("softmax", std::slice::from_ref(&x), |t| {
            softmax_last_dim(&t[0]).unwrap()
        });
        check_finite_differences("softmax", std::slice::from_ref(&x), |t| {
            softmax_last_dim(&t[0]).unwrap()
        });
        check_against_reference("log_softmax", std::slice::from_ref(&x), |t| {
            log_softmax_last_dim(&t[0]).unwrap()
        });
        check_finite_differences("log_softmax", &[x], |t| {
            log_softmax_last_dim(&t[0]).unwrap()
        });
        // A transposed input goes through a contiguous copy.
        let y = random(&[5, 6], 41, 3.0);
        check_against_reference("softmax strided", &[y], |t| {
            softmax_last_dim(&t[0].t().unwrap()).unwrap()
        });
    }

    #[test]
    fn fused_cross_entropy_matches_reference_and_finite_differences() {
        // Rows not a multiple of any SIMD width; two rows without weight (pad labels).
        let logits = random(&[5, 37], 50, 4.0);
        let labels = Tensor::new(&[3u32, 0, 36, 17, 5], &Device::Cpu).unwrap();
        let weight = Tensor::new(&[1f32, 0., 1., 1., 0.], &Device::Cpu).unwrap();
        let per_row = |t: &[Tensor]| masked_cross_entropy(&t[0], &labels, &weight).unwrap().1;
        check_against_reference("cross_entropy", std::slice::from_ref(&logits), per_row);
        check_finite_differences("cross_entropy", std::slice::from_ref(&logits), per_row);
        let mean = |t: &[Tensor]| masked_cross_entropy(&t[0], &labels, &weight).unwrap().0;
        check_against_reference("cross_entropy mean", std::slice::from_ref(&logits), mean);
        // Rows without weight get no gradient at all.
        let grads = mean(std::slice::from_ref(logits.as_tensor()))
            .backward()
            .unwrap();
        let g: Vec<Vec<f32>> = grads.get(logits.as_tensor()).unwrap().to_vec2().unwrap();
        assert!(g[1].iter().chain(&g[4]).all(|v| *v == 0.0));
    }

    #[test]
    fn vectorisable_exp_is_within_two_ulp_of_libm_below_zero() {
        let ulp = |v: f32| f32::from_bits(v.to_bits() + 1) - v;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (got, want) = (fast_ops::exp_of_nonpositive(x), x.exp());
            assert!(
                (got - want).abs() <= 2.0 * ulp(want),
                "exp({x}) = {got}, libm {want}"
            );
            x += 0.001_7;
        }
        assert_eq!(fast_ops::exp_of_nonpositive(0.0), 1.0);
        assert_eq!(fast_ops::exp_of_nonpositive(-1e9), 0.0);
        assert_eq!(fast_ops::exp_of_nonpositive(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn fused_cross_entropy_refuses_a_label_outside_the_vocabulary() {
        let logits = random(&[2, 4], 51, 1.0);
        let labels = Tensor::new(&[1u32, 4], &Device::Cpu).unwrap();
        let weight = Tensor::new(&[1f32, 1.], &Device::Cpu).unwrap();
        let err = masked_cross_entropy(logits.as_tensor(), &labels, &weight).unwrap_err();
        assert!(
            err.to_string()
                .contains("label 4 outside a vocabulary of 4"),
            "{err}"
        );
    }

    #[test]
    fn fused_softmax_keeps_blocked_weights_exactly_zero() {
        let x = Tensor::new(&[[1f32, -1e9, 3.], [-1e9, -1e9, -1e9]], &Device::Cpu).unwrap();
        let s: Vec<Vec<f32>> = softmax_last_dim(&x).unwrap().to_vec2().unwrap();
        assert_eq!(s[0][1], 0.0);
        assert!(s[1].iter().all(|p| (p - 1.0 / 3.0).abs() < 1e-6));
        let r: Vec<Vec<f32>> = with_reference(|| softmax_last_dim(&x).unwrap().to_vec2().unwrap());
        assert_eq!(s, r);
    }

    #[test]
    fn fused_relu_matches_reference() {
        let x = random(&[3, 33], 50, 1.0);
        check_against_reference("relu", std::slice::from_ref(&x), |t| relu(&t[0]).unwrap());
        check_finite_differences("relu", &[x], |t| relu(&t[0]).unwrap());
    }

    #[test]
    fn fused_dropout_is_seeded_scaled_and_differentiable() {
        let p = 0.25f32;
        let x = random(&[4, 1001], 60, 1.0);
        let rng = || RefCell::new(StdRng::seed_from_u64(5));
        let y1 = dropout(x.as_tensor(), p, &rng()).unwrap();
        let y2 = dropout(x.as_tensor(), p, &rng()).unwrap();
        assert_eq!(flat(&y1), flat(&y2), "same seed, same mask");
        let rng3 = RefCell::new(StdRng::seed_from_u64(6));
        assert_ne!(flat(&y1), flat(&dropout(x.as_tensor(), p, &rng3).unwrap()));
        let (xs, ys) = (flat(x.as_tensor()), flat(&y1));
        let mut kept = 0;
        for (x, y) in xs.iter().zip(&ys) {
            if *y != 0.0 {
                kept += 1;
                assert_eq!(*y, x * (1.0 / (1.0 - p)));
            }
        }
        let frac = kept as f64 / xs.len() as f64;
        assert!((frac - 0.75).abs() < 0.02, "kept {frac}");
        assert!((fast_ops::kept_fraction(0.1, 3, 200_001) - 0.9).abs() < 0.003);
        assert_eq!(fast_ops::kept_fraction(0.0, 3, 1001), 1.0);
        // Backward: dL/dx = r * mask * scale = r * y / x.
        let r = random(x.dims(), 61, 1.0);
        let g = y1
            .mul(r.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx = flat(g.get(x.as_tensor()).unwrap());
        for (i, ((gx, y), x)) in gx.iter().zip(&ys).zip(&xs).enumerate() {
            let want = flat(r.as_tensor())[i] * y / x;
            assert!((gx - want).abs() < 1e-5, "dropout grad {i}: {gx} vs {want}");
        }
        // The reference path (other dtypes / devices) is seeded the same way.
        let r1 = with_reference(|| flat(&dropout(x.as_tensor(), p, &rng()).unwrap()));
        let r2 = with_reference(|| flat(&dropout(x.as_tensor(), p, &rng()).unwrap()));
        assert_eq!(r1, r2);
    }

    #[test]
    fn fused_adamw_matches_the_composed_update() {
        let shape = [7, 37];
        let param = random(&shape, 70, 1.0);
        let twin = Var::from_tensor(&param.as_tensor().copy().unwrap()).unwrap();
        let (mut m, mut v) = (
            random(&shape, 71, 0.1).as_tensor().detach(),
            random(&shape, 72, 0.1).as_tensor().abs().unwrap().detach(),
        );
        let (mut m2, mut v2) = (m.copy().unwrap(), v.copy().unwrap());
        for t in 1..=3 {
            let grad = random(&shape, 80 + t as u64, 1.0).as_tensor().detach();
            let step = AdamWStep {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                bc1: 1.0 - 0.9f64.powi(t),
                bc2: 1.0 - 0.999f64.powi(t),
                grad_scale: 0.5,
            };
            (m, v) = adamw_update(&param, &grad, &m, &v, &step).unwrap();
            (m2, v2) = with_reference(|| adamw_update(&twin, &grad, &m2, &v2, &step).unwrap());
            assert_close("adamw m", &m, &m2, 1e-6);
            assert_close("adamw v", &v, &v2, 1e-6);
            assert_close("adamw param", param.as_tensor(), twin.as_tensor(), 1e-6);
            let squares = sum_squares(&grad).unwrap();
            let composed = with_reference(|| sum_squares(&grad).unwrap());
            assert!((squares - composed).abs() < 1e-9 * composed.max(1.0));
        }
    }

    /// The whole model, both LayerNorm placements: fused and reference paths give the same
    /// loss and the same gradient for every parameter, and every parameter gets one.
    #[test]
    fn model_gradients_match_reference_and_reach_every_parameter() {
        use crate::masks::MaskSettings;
        use crate::model::{Batch, Engine, Example, ModelConfig};
        use crate::tokenizer::{TokenizerKind, Vocab};

        let vocab = Vocab::build(TokenizerKind::Char, ["abcdefghijklmnop"]);
        let examples: Vec<Example> = (0..3u32)
            .map(|i| Example {
                src: (0..5 + 2 * i).map(|j| 4 + (i * 7 + j) % 16).collect(),
                tgt: (0..6 - 2 * i).map(|j| 4 + (i * 3 + j * 5) % 16).collect(),
            })
            .collect();
        for norm_first in [false, true] {
            let config = ModelConfig::tiny(norm_first, 16);
            let engine = Engine::new_random(config, vocab.clone(), 3).unwrap();
            let batch = Batch::new(&examples, MaskSettings::default());
            let loss_of = |p: f32| {
                let pass = crate::model::pass::Pass::train(batch.settings.method, p, 11);
                let out = engine
                    .model()
                    .forward(&batch.tensors(&Device::Cpu).unwrap(), &pass)
                    .unwrap();
                let (b, t, v) = out.logits.dims3().unwrap();
                let (labels, weight) = batch.label_tensors(&Device::Cpu).unwrap();
                masked_cross_entropy(&out.logits.reshape((b * t, v)).unwrap(), &labels, &weight)
                    .unwrap()
                    .0
            };
            let fused = loss_of(0.0);
            let reference = with_reference(|| loss_of(0.0));
            assert_close("loss", &fused, &reference, 1e-5);
            let g_fused = fused.backward().unwrap();
            let g_ref = with_reference(|| reference.backward().unwrap());
            let g_drop = loss_of(0.1).backward().unwrap();
            let vars = engine.vars().lock().unwrap();
            assert_eq!(vars.len(), 68);
            for (name, var) in vars.iter() {
                let a = g_fused.get(var.as_tensor()).expect(name);
                let b = g_ref.get(var.as_tensor()).expect(name);
                assert_close(name, a, b, 1e-4);
                for (what, g) in [
                    ("fused", a),
                    ("dropout", g_drop.get(var.as_tensor()).expect(name)),
                ] {
                    let norm = g
                        .sqr()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap();
                    assert!(
                        norm > 0.0 && norm.is_finite(),
                        "{what} gradient of {name}: {norm}"
                    );
                }
            }
        }
    }

    #[test]
    fn layer_norm_matches_definition_and_has_gradients() {
        let dev = Device::Cpu;
        let x = candle_core::Var::from_vec(vec![1f32, 2., 4., -1., 0., 3.], (2, 3), &dev).unwrap();
        let w = candle_core::Var::from_vec(vec![1f32, 2., 0.5], 3, &dev).unwrap();
        let b = candle_core::Var::from_vec(vec![0.1f32, 0., -0.2], 3, &dev).unwrap();
        let y = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap();
        let row: Vec<f32> = y.get(0).unwrap().to_vec1().unwrap();
        let (mean, var) = (
            7.0f32 / 3.0,
            ((1.0f32 - 7.0 / 3.0).powi(2)
                + (2.0f32 - 7.0 / 3.0).powi(2)
                + (4.0f32 - 7.0 / 3.0).powi(2))
                / 3.0,
        );
        let expected0 = (1.0 - mean) / (var + 1e-5).sqrt() + 0.1;
        assert!((row[0] - expected0).abs() < 1e-5);
        let grads = (y.sqr().unwrap().sum_all().unwrap()).backward().unwrap();
        for v in [&x, &w, &b] {
            let g = grads.get(v.as_tensor()).expect("gradient");
            assert!(
                g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0
            );
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let x = Tensor::new(&[[1f32, 2., 3.], [-1e9, 0., 0.]], &Device::Cpu).unwrap();
        let s: Vec<Vec<f32>> = softmax_last_dim(&x).unwrap().to_vec2().unwrap();
        for row in &s {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(s[1][0], 0.0);
    }
}
