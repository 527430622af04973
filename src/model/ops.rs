//! Differentiable building blocks. candle-nn's fused `LayerNorm` fast path and
//! `softmax_last_dim` drop gradients (candle issues 2168, 3011, 3752), so every op the
//! training path uses is written here from ops candle can differentiate.

use std::cell::RefCell;

use candle_core::{D, DType, Device, Result, Tensor};
use rand::{Rng, rngs::StdRng};

pub const LAYER_NORM_EPS: f64 = 1e-5;

/// `x @ weight^T + bias` over the last dimension, as `nn.Linear` (weight is `(out, in)`).
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (out_dim, in_dim) = weight.dims2()?;
    let lead = x.dims()[..x.rank() - 1].to_vec();
    let rows: usize = lead.iter().product();
    let y = x
        .reshape((rows, in_dim))?
        .matmul(&weight.t()?)?
        .broadcast_add(bias)?; // (rows, out)
    let mut shape = lead;
    shape.push(out_dim);
    y.reshape(shape)
}

/// LayerNorm over the last dimension with biased variance, as `nn.LayerNorm(eps=1e-5)`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centered = x.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centered.broadcast_div(&(var + LAYER_NORM_EPS)?.sqrt()?)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

/// Softmax over the last dimension. The row max is a constant shift for stability, so it is
/// detached: the gradient is the same and candle does less work.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let exp = x.broadcast_sub(&max)?.exp()?;
    exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
}

/// Log-softmax over the last dimension.
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)
}

/// Inverted dropout with a seeded generator so training runs are reproducible.
pub fn dropout(x: &Tensor, p: f32, rng: &RefCell<StdRng>) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = 1.0 / (1.0 - p);
    let mut rng = rng.borrow_mut();
    let keep: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f32>() >= p { scale } else { 0.0 })
        .collect();
    x.mul(&Tensor::from_vec(keep, x.shape(), x.device())?)
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
    let log_probs = log_softmax_last_dim(logits)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?; // (n,)
    let per_row = picked.neg()?.mul(weight)?;
    let count = weight.sum_all()?.to_scalar::<f32>()?.max(1.0);
    Ok(((per_row.sum_all()? / count as f64)?, per_row))
}

/// A `(rows, cols)` f32 tensor from a flat vector, on `device`.
pub fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Result<Tensor> {
    Tensor::from_vec(values, (rows, cols), device)?.to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;

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
