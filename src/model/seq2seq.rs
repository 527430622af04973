//! The whole encoder-decoder: embeddings (optionally scaled by sqrt(d_model)) plus
//! sinusoidal positions, the encoder and decoder stacks (with final LayerNorms where the
//! family has them) and a linear head. The built-in family's parameter names match the
//! PyTorch module's `state_dict()` (see docs/checkpoint-format.md); Marian's are built in
//! [`super::marian`].

use std::sync::OnceLock;

use candle_core::{Device, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::attention::{AttnMask, AttnRecord};
use super::config::ModelConfig;
use super::family::{Activation, LayerSpec, Naming, Positions};
use super::layers::{DecoderLayer, EncoderLayer, LayerCache, LayerNorm, Linear};
use super::pass::Pass;

/// Input tensors of one padded batch.
pub struct BatchTensors {
    pub src: Tensor,    // (batch, src) u32
    pub tgt_in: Tensor, // (batch, tgt) u32
    pub encoder_mask: Option<AttnMask>,
    pub decoder_mask: Option<AttnMask>,
    pub cross_mask: Option<AttnMask>,
    /// `(batch, src)` u32 position ids when rows are left-padded; `None`: `0..src` per row.
    pub src_positions: Option<Tensor>,
    /// `(batch, tgt)` u32 position ids when rows are left-padded; `None`: `0..tgt` per row.
    pub tgt_positions: Option<Tensor>,
}

/// Logits and, when recorded, one attention record per layer of each kind.
pub struct ForwardOutput {
    pub logits: Tensor, // (batch, tgt, vocab)
    pub encoder: Vec<AttnRecord>,
    pub decoder_self: Vec<AttnRecord>,
    pub cross: Vec<AttnRecord>,
}

/// Per-layer caches for incremental decoding.
#[derive(Clone, Default)]
pub struct DecoderCache {
    layers: Vec<LayerCache>,
}

/// What one incremental step returns: `logits (batch, vocab)` and records per layer.
pub struct StepOutput {
    pub logits: Tensor,
    pub decoder_self: Vec<AttnRecord>,
    pub cross: Vec<AttnRecord>,
}

pub struct Seq2Seq {
    pub(crate) d_model: usize,
    /// Token embeddings are multiplied by this (sqrt(d_model) or 1).
    pub(crate) embed_scale: f64,
    pub(crate) src_embed: Tensor, // (src vocab, d)
    pub(crate) tgt_embed: Tensor, // (tgt vocab, d); the same tensor when shared
    pub(crate) encoder: Vec<EncoderLayer>,
    pub(crate) encoder_norm: Option<LayerNorm>,
    pub(crate) decoder: Vec<DecoderLayer>,
    pub(crate) decoder_norm: Option<LayerNorm>,
    pub(crate) generator: Linear,
    pub(crate) position_kind: Positions,
    /// Rows in the position table: `max_len + 2` (built-in) or `max_position_embeddings`.
    pub(crate) position_table_len: usize,
    /// The table, built on first use: building the model only to learn its parameter shapes
    /// (checkpoint validation) never pays for it.
    pub(crate) positions: OnceLock<Tensor>,
    /// Positions past the table are an error (Marian) instead of computed on demand.
    pub(crate) positions_limited: bool,
}

impl Seq2Seq {
    /// The built-in family: `nn.Transformer` names, ReLU, interleaved positions, final norms.
    pub fn new(config: &ModelConfig, vocab_size: usize, vb: VarBuilder) -> Result<Self> {
        let ModelConfig {
            d_model: d,
            n_heads,
            n_encoder_layers,
            n_decoder_layers,
            d_ff,
            norm_first,
            ..
        } = *config;
        let spec = LayerSpec {
            d_model: d,
            n_heads,
            d_ff,
            norm_first,
            activation: Activation::Relu,
            naming: Naming::PyTorch,
        };
        // Embeddings start at std 1/sqrt(d) so that after the sqrt(d) scale they have unit variance.
        let embed_init = Init::Randn {
            mean: 0.0,
            stdev: 1.0 / (d as f64).sqrt(),
        };
        let t = vb.pp("transformer");
        let encoder = (0..n_encoder_layers)
            .map(|i| EncoderLayer::new(&spec, t.pp("encoder.layers").pp(i)))
            .collect::<Result<_>>()?;
        let decoder = (0..n_decoder_layers)
            .map(|i| DecoderLayer::new(&spec, t.pp("decoder.layers").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            d_model: d,
            embed_scale: (d as f64).sqrt(),
            src_embed: vb
                .pp("src_embed")
                .get_with_hints((vocab_size, d), "weight", embed_init)?,
            tgt_embed: vb
                .pp("tgt_embed")
                .get_with_hints((vocab_size, d), "weight", embed_init)?,
            encoder,
            encoder_norm: Some(LayerNorm::new(d, t.pp("encoder.norm"))?),
            decoder,
            decoder_norm: Some(LayerNorm::new(d, t.pp("decoder.norm"))?),
            generator: Linear::new(d, vocab_size, vb.pp("generator"))?,
            position_kind: Positions::Interleaved,
            position_table_len: config.max_len + 2,
            positions: OnceLock::new(),
            positions_limited: false,
        })
    }

    fn device(&self) -> &Device {
        self.src_embed.device()
    }

    /// Positions `offset .. offset + len`, `(len, d)`.
    fn positions(&self, offset: usize, len: usize) -> Result<Tensor> {
        let table = match self.positions.get() {
            Some(table) => table,
            None => {
                let table = self.position_kind.table(
                    self.position_table_len,
                    self.d_model,
                    self.device(),
                )?;
                self.positions.get_or_init(|| table)
            }
        };
        if offset + len <= table.dim(0)? {
            table.narrow(0, offset, len)
        } else if self.positions_limited {
            candle_core::bail!(
                "position {} is past the model's {} positions (max_position_embeddings)",
                offset + len - 1,
                self.position_table_len
            )
        } else {
            self.position_kind
                .table(offset + len, self.d_model, self.device())?
                .narrow(0, offset, len)
        }
    }

    /// `table[ids] * scale + pe[offset..]`: `(batch, len, d)`; with `position_ids (batch,
    /// len)` each token gets `pe[position_ids[b, j]]` instead (left-padded rows).
    fn embed(
        &self,
        table: &Tensor,
        ids: &Tensor,
        offset: usize,
        position_ids: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let tokens =
            table
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((batch, len, self.d_model))?;
        let tokens = if self.embed_scale == 1.0 {
            tokens
        } else {
            (tokens * self.embed_scale)?
        };
        match position_ids {
            None => tokens.broadcast_add(&self.positions(offset, len)?),
            Some(position_ids) => {
                // Positions never exceed the padded length, so `0..len` covers them.
                let pe = self
                    .positions(0, len)?
                    .index_select(&position_ids.flatten_all()?, 0)?
                    .reshape((batch, len, self.d_model))?;
                tokens + pe
            }
        }
    }

    fn final_norm(norm: &Option<LayerNorm>, x: Tensor) -> Result<Tensor> {
        match norm {
            Some(norm) => norm.forward(&x),
            None => Ok(x),
        }
    }

    /// Encoder stack and final norm: memory `(batch, src, d)`.
    pub fn encode(
        &self,
        src: &Tensor,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Vec<AttnRecord>)> {
        self.encode_at(src, None, mask, pass)
    }

    /// [`Self::encode`] with per-row position ids (left-padded rows).
    fn encode_at(
        &self,
        src: &Tensor,
        position_ids: Option<&Tensor>,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Vec<AttnRecord>)> {
        let mut x = pass.drop(self.embed(&self.src_embed, src, 0, position_ids)?)?;
        let mut records = Vec::new();
        for layer in &self.encoder {
            let (next, record) = layer.forward(&x, mask, pass)?;
            x = next;
            records.extend(record);
        }
        Ok((Self::final_norm(&self.encoder_norm, x)?, records))
    }

    /// Teacher-forced forward pass over the whole batch.
    pub fn forward(&self, batch: &BatchTensors, pass: &Pass) -> Result<ForwardOutput> {
        let (memory, encoder) = self.encode_at(
            &batch.src,
            batch.src_positions.as_ref(),
            batch.encoder_mask.as_ref(),
            pass,
        )?;
        let mut y = pass.drop(self.embed(
            &self.tgt_embed,
            &batch.tgt_in,
            0,
            batch.tgt_positions.as_ref(),
        )?)?;
        let (mut decoder_self, mut cross) = (Vec::new(), Vec::new());
        for layer in &self.decoder {
            let (next, records) = layer.forward(
                &y,
                &memory,
                batch.decoder_mask.as_ref(),
                batch.cross_mask.as_ref(),
                pass,
            )?;
            y = next;
            decoder_self.extend(records.self_attn);
            cross.extend(records.cross);
        }
        let logits = self
            .generator
            .forward(&Self::final_norm(&self.decoder_norm, y)?)?;
        Ok(ForwardOutput {
            logits,
            encoder,
            decoder_self,
            cross,
        })
    }

    /// One incremental decoding step for `token (batch, 1)` at `position`, reusing `cache`.
    pub fn decode_step(
        &self,
        token: &Tensor,
        position: usize,
        memory: &Tensor,
        cache: &mut DecoderCache,
        cross_mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<StepOutput> {
        if cache.layers.is_empty() {
            cache.layers = vec![LayerCache::default(); self.decoder.len()];
        }
        let mut y = self.embed(&self.tgt_embed, token, position, None)?;
        let (mut decoder_self, mut cross) = (Vec::new(), Vec::new());
        for (layer, layer_cache) in self.decoder.iter().zip(cache.layers.iter_mut()) {
            let (next, records) = layer.step(&y, memory, layer_cache, cross_mask, pass)?;
            y = next;
            decoder_self.extend(records.self_attn);
            cross.extend(records.cross);
        }
        let logits = self
            .generator
            .forward(&Self::final_norm(&self.decoder_norm, y)?)?
            .squeeze(1)?;
        Ok(StepOutput {
            logits,
            decoder_self,
            cross,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::masks::MaskSettings;
    use crate::model::{Engine, ModelConfig};
    use crate::tokenizer::{TokenizerKind, Vocab};

    /// Checkpoint validation builds the model to learn its shapes; the position table (134 MB
    /// at the config limits) must wait for the first forward pass.
    #[test]
    fn the_position_table_is_built_on_first_use() {
        let vocab = Vocab::build(TokenizerKind::Char, ["abcd"]);
        let engine = Engine::new_random(ModelConfig::tiny(false, 8), vocab, 1).unwrap();
        assert!(engine.model().positions.get().is_none());
        let example = engine.tokenize("ab", "cd").example;
        engine.logits(&[example], &MaskSettings::default()).unwrap();
        let table = engine
            .model()
            .positions
            .get()
            .expect("built by the forward pass");
        assert_eq!(table.dims(), [8 + 2, 16]);
    }
}
