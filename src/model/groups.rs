//! Parameter groups: the units a user can freeze or give their own learning-rate multiplier.

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Group {
    SourceEmbedding,
    TargetEmbedding,
    EncoderLayer(usize),
    DecoderSelfAttention(usize),
    DecoderCrossAttention(usize),
    DecoderFeedForward(usize),
    FinalNorms,
    Head,
}

impl Group {
    /// The group a checkpoint parameter name belongs to. Each decoder layer's norm goes with
    /// the sub-block it normalises (norm1 self-attention, norm2 cross-attention, norm3 FFN).
    pub fn of(name: &str) -> Option<Group> {
        let layer_index = |rest: &str| rest.split('.').next().and_then(|i| i.parse::<usize>().ok());
        if name.starts_with("src_embed.") {
            return Some(Group::SourceEmbedding);
        }
        if name.starts_with("tgt_embed.") {
            return Some(Group::TargetEmbedding);
        }
        if name.starts_with("generator.") {
            return Some(Group::Head);
        }
        if name.starts_with("transformer.encoder.norm.")
            || name.starts_with("transformer.decoder.norm.")
        {
            return Some(Group::FinalNorms);
        }
        if let Some(rest) = name.strip_prefix("transformer.encoder.layers.") {
            return layer_index(rest).map(Group::EncoderLayer);
        }
        let rest = name.strip_prefix("transformer.decoder.layers.")?;
        let i = layer_index(rest)?;
        let part = rest.split('.').nth(1)?;
        match part {
            "self_attn" | "norm1" => Some(Group::DecoderSelfAttention(i)),
            "multihead_attn" | "norm2" => Some(Group::DecoderCrossAttention(i)),
            "linear1" | "linear2" | "norm3" => Some(Group::DecoderFeedForward(i)),
            _ => None,
        }
    }

    /// Every group of a model, in display order.
    pub fn all(config: &ModelConfig) -> Vec<Group> {
        let mut groups = vec![Group::SourceEmbedding, Group::TargetEmbedding];
        groups.extend((0..config.n_encoder_layers).map(Group::EncoderLayer));
        for i in 0..config.n_decoder_layers {
            groups.extend([
                Group::DecoderSelfAttention(i),
                Group::DecoderCrossAttention(i),
                Group::DecoderFeedForward(i),
            ]);
        }
        groups.extend([Group::FinalNorms, Group::Head]);
        groups
    }

    pub fn label(&self) -> String {
        match self {
            Group::SourceEmbedding => "source embedding".into(),
            Group::TargetEmbedding => "target embedding".into(),
            Group::EncoderLayer(i) => format!("encoder layer {i}"),
            Group::DecoderSelfAttention(i) => format!("decoder layer {i}: self-attention"),
            Group::DecoderCrossAttention(i) => format!("decoder layer {i}: cross-attention"),
            Group::DecoderFeedForward(i) => format!("decoder layer {i}: feed-forward"),
            Group::FinalNorms => "final norms".into(),
            Group::Head => "output head".into(),
        }
    }

    /// Short key for the CLI and CSV: `src-embed`, `enc0`, `dec1-self`, `dec1-cross`, `dec1-ff`, `norms`, `head`.
    pub fn key(&self) -> String {
        match self {
            Group::SourceEmbedding => "src-embed".into(),
            Group::TargetEmbedding => "tgt-embed".into(),
            Group::EncoderLayer(i) => format!("enc{i}"),
            Group::DecoderSelfAttention(i) => format!("dec{i}-self"),
            Group::DecoderCrossAttention(i) => format!("dec{i}-cross"),
            Group::DecoderFeedForward(i) => format!("dec{i}-ff"),
            Group::FinalNorms => "norms".into(),
            Group::Head => "head".into(),
        }
    }

    /// Parses a key, or a shorthand that expands to several groups: `embeddings`,
    /// `encoder`, `decoder`, `dec{i}` (all of one decoder layer). `all` is the model's
    /// groups ([`Group::all`], or `Engine::groups` for any family).
    pub fn parse_many(key: &str, all: &[Group]) -> Option<Vec<Group>> {
        if let Some(g) = all.iter().find(|g| g.key() == key) {
            return Some(vec![*g]);
        }
        let pick = |f: &dyn Fn(&Group) -> bool| -> Option<Vec<Group>> {
            let v: Vec<Group> = all.iter().copied().filter(|g| f(g)).collect();
            (!v.is_empty()).then_some(v)
        };
        match key {
            "embeddings" => pick(&|g| matches!(g, Group::SourceEmbedding | Group::TargetEmbedding)),
            "encoder" => pick(&|g| matches!(g, Group::EncoderLayer(_))),
            "decoder" => pick(&|g| {
                matches!(
                    g,
                    Group::DecoderSelfAttention(_)
                        | Group::DecoderCrossAttention(_)
                        | Group::DecoderFeedForward(_)
                )
            }),
            _ => {
                let i: usize = key.strip_prefix("dec")?.parse().ok()?;
                pick(
                    &|g| matches!(g, Group::DecoderSelfAttention(j) | Group::DecoderCrossAttention(j) | Group::DecoderFeedForward(j) if *j == i),
                )
            }
        }
    }
}
