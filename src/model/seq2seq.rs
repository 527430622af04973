//! The whole encoder-decoder: embeddings scaled by sqrt(d_model) plus sinusoidal positions,
//! `nn.Transformer` (with its final encoder and decoder LayerNorms) and a linear head.
//! Parameter names match the PyTorch module's `state_dict()` (see docs/checkpoint-format.md).

use std::sync::OnceLock;

use candle_core::{Device, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::attention::{AttnMask, AttnRecord};
use super::config::ModelConfig;
use super::layers::{DecoderLayer, EncoderLayer, LayerCache, LayerNorm, Linear};
use super::ops::positional_encoding;
use super::pass::Pass;

/// Input tensors of one padded batch.
pub struct BatchTensors {
    pub src: Tensor,    // (batch, src) u32
    pub tgt_in: Tensor, // (batch, tgt) u32
    pub encoder_mask: Option<AttnMask>,
    pub decoder_mask: Option<AttnMask>,
    pub cross_mask: Option<AttnMask>,
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
    config: ModelConfig,
    src_embed: Tensor, // (vocab, d)
    tgt_embed: Tensor, // (vocab, d)
    encoder: Vec<EncoderLayer>,
    encoder_norm: LayerNorm,
    decoder: Vec<DecoderLayer>,
    decoder_norm: LayerNorm,
    generator: Linear,
    /// Sinusoidal positions `(max_len + 2, d)`, built on first use: building the model only
    /// to learn its parameter shapes (checkpoint validation) never pays for the table.
    positions: OnceLock<Tensor>,
}

impl Seq2Seq {
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
        // Embeddings start at std 1/sqrt(d) so that after the sqrt(d) scale they have unit variance.
        let embed_init = Init::Randn {
            mean: 0.0,
            stdev: 1.0 / (d as f64).sqrt(),
        };
        let t = vb.pp("transformer");
        let encoder = (0..n_encoder_layers)
            .map(|i| EncoderLayer::new(d, n_heads, d_ff, norm_first, t.pp("encoder.layers").pp(i)))
            .collect::<Result<_>>()?;
        let decoder = (0..n_decoder_layers)
            .map(|i| DecoderLayer::new(d, n_heads, d_ff, norm_first, t.pp("decoder.layers").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            config: config.clone(),
            src_embed: vb
                .pp("src_embed")
                .get_with_hints((vocab_size, d), "weight", embed_init)?,
            tgt_embed: vb
                .pp("tgt_embed")
                .get_with_hints((vocab_size, d), "weight", embed_init)?,
            encoder,
            encoder_norm: LayerNorm::new(d, t.pp("encoder.norm"))?,
            decoder,
            decoder_norm: LayerNorm::new(d, t.pp("decoder.norm"))?,
            generator: Linear::new(d, vocab_size, vb.pp("generator"))?,
            positions: OnceLock::new(),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn device(&self) -> &Device {
        self.src_embed.device()
    }

    /// Positions `offset .. offset + len`, `(len, d)`.
    fn positions(&self, offset: usize, len: usize) -> Result<Tensor> {
        let table = match self.positions.get() {
            Some(table) => table,
            None => {
                let table = positional_encoding(
                    self.config.max_len + 2,
                    self.config.d_model,
                    self.device(),
                )?;
                self.positions.get_or_init(|| table)
            }
        };
        if offset + len <= table.dim(0)? {
            table.narrow(0, offset, len)
        } else {
            positional_encoding(offset + len, self.config.d_model, self.device())?
                .narrow(0, offset, len)
        }
    }

    /// `table[ids] * sqrt(d) + pe[offset..]`: `(batch, len, d)`.
    fn embed(&self, table: &Tensor, ids: &Tensor, offset: usize) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let d = self.config.d_model;
        let tokens = table
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((batch, len, d))?;
        (tokens * (d as f64).sqrt())?.broadcast_add(&self.positions(offset, len)?)
    }

    /// Encoder stack and final norm: memory `(batch, src, d)`.
    pub fn encode(
        &self,
        src: &Tensor,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Vec<AttnRecord>)> {
        let mut x = pass.drop(self.embed(&self.src_embed, src, 0)?)?;
        let mut records = Vec::new();
        for layer in &self.encoder {
            let (next, record) = layer.forward(&x, mask, pass)?;
            x = next;
            records.extend(record);
        }
        Ok((self.encoder_norm.forward(&x)?, records))
    }

    /// Teacher-forced forward pass over the whole batch.
    pub fn forward(&self, batch: &BatchTensors, pass: &Pass) -> Result<ForwardOutput> {
        let (memory, encoder) = self.encode(&batch.src, batch.encoder_mask.as_ref(), pass)?;
        let mut y = pass.drop(self.embed(&self.tgt_embed, &batch.tgt_in, 0)?)?;
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
        let logits = self.generator.forward(&self.decoder_norm.forward(&y)?)?;
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
        let mut y = self.embed(&self.tgt_embed, token, position)?;
        let (mut decoder_self, mut cross) = (Vec::new(), Vec::new());
        for (layer, layer_cache) in self.decoder.iter().zip(cache.layers.iter_mut()) {
            let (next, records) = layer.step(&y, memory, layer_cache, cross_mask, pass)?;
            y = next;
            decoder_self.extend(records.self_attn);
            cross.extend(records.cross);
        }
        let logits = self
            .generator
            .forward(&self.decoder_norm.forward(&y)?)?
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
