//! `MarianTokenizer` as transformers implements it: SentencePiece pieces looked up in
//! `vocab.json` (not the `.spm` ids), `</s>` appended, a leading `>>lang<<` code kept as one
//! token, special tokens typed in the text kept whole, and decoding that skips them.

use std::collections::HashMap;

use serde::Deserialize;

use super::{SPACE_MARK, SentencePiece};

/// The bytes of the files a Marian folder holds for its tokenizer.
pub struct TokenizerFiles {
    pub source_spm: Vec<u8>,
    pub target_spm: Vec<u8>,
    pub vocab_json: Vec<u8>,
    /// `target_vocab.json`, needed when `tokenizer_config.json` says `separate_vocabs`.
    pub target_vocab_json: Option<Vec<u8>>,
    /// `tokenizer_config.json`, if present.
    pub config_json: Option<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(default)]
struct TokenizerConfig {
    separate_vocabs: bool,
    unk_token: String,
    eos_token: String,
    pad_token: String,
    clean_up_tokenization_spaces: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            separate_vocabs: false,
            unk_token: "<unk>".into(),
            eos_token: "</s>".into(),
            pad_token: "<pad>".into(),
            clean_up_tokenization_spaces: false,
        }
    }
}

/// One side's token list: piece -> id and back.
pub struct Vocabulary {
    ids: HashMap<String, u32>,
    pieces: Vec<Option<String>>,
}

impl Vocabulary {
    fn parse(bytes: &[u8], file: &str) -> Result<Self, String> {
        let ids: HashMap<String, u32> =
            serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))?;
        let size = ids.values().max().map_or(0, |&m| m as usize + 1);
        if size > crate::tokenizer::MAX_VOCAB {
            return Err(format!(
                "{file}: ids up to {size} are more than maskscope supports"
            ));
        }
        let mut pieces = vec![None; size];
        for (piece, &id) in &ids {
            pieces[id as usize] = Some(piece.clone());
        }
        Ok(Self { ids, pieces })
    }

    /// Number of ids (the largest id plus one).
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize)?.as_deref()
    }
}

/// Which side of the translation a text belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

/// Ids of one text plus the pieces they came from (an `<unk>` keeps its surface text).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarianEncoding {
    /// Token ids, ending in `</s>`.
    pub ids: Vec<u32>,
    pub pieces: Vec<String>,
    /// Pieces that are not in the vocabulary and became `<unk>`.
    pub unknown: Vec<String>,
}

pub struct MarianTokenizer {
    source_spm: SentencePiece,
    target_spm: SentencePiece,
    source_vocab: Vocabulary,
    /// `None` when both sides share `vocab.json`.
    target_vocab: Option<Vocabulary>,
    specials: [String; 3],
    pub unk_id: u32,
    pub eos_id: u32,
    pub pad_id: u32,
    clean_up_spaces: bool,
}

impl MarianTokenizer {
    pub fn from_files(files: &TokenizerFiles) -> Result<Self, String> {
        let config: TokenizerConfig = match &files.config_json {
            Some(bytes) => {
                serde_json::from_slice(bytes).map_err(|e| format!("tokenizer_config.json: {e}"))?
            }
            None => TokenizerConfig::default(),
        };
        let source_vocab = Vocabulary::parse(&files.vocab_json, "vocab.json")?;
        let target_vocab = if config.separate_vocabs {
            let bytes = files.target_vocab_json.as_ref().ok_or(
                "tokenizer_config.json says separate_vocabs but target_vocab.json is missing",
            )?;
            Some(Vocabulary::parse(bytes, "target_vocab.json")?)
        } else {
            None
        };
        let special_id = |token: &str| {
            source_vocab
                .id(token)
                .ok_or_else(|| format!("vocab.json has no special token {token:?}"))
        };
        let tokenizer = Self {
            source_spm: SentencePiece::from_bytes(&files.source_spm)
                .map_err(|e| format!("source.spm: {e}"))?,
            target_spm: SentencePiece::from_bytes(&files.target_spm)
                .map_err(|e| format!("target.spm: {e}"))?,
            unk_id: special_id(&config.unk_token)?,
            eos_id: special_id(&config.eos_token)?,
            pad_id: special_id(&config.pad_token)?,
            specials: [config.eos_token, config.unk_token, config.pad_token],
            clean_up_spaces: config.clean_up_tokenization_spaces,
            source_vocab,
            target_vocab,
        };
        if let Some(target) = &tokenizer.target_vocab {
            for token in &tokenizer.specials {
                if target.id(token) != tokenizer.source_vocab.id(token) {
                    return Err(format!(
                        "{token} has different ids in vocab.json and target_vocab.json"
                    ));
                }
            }
        }
        Ok(tokenizer)
    }

    pub fn vocabulary(&self, side: Side) -> &Vocabulary {
        match (side, &self.target_vocab) {
            (Side::Target, Some(target)) => target,
            _ => &self.source_vocab,
        }
    }

    fn spm(&self, side: Side) -> &SentencePiece {
        match side {
            Side::Source => &self.source_spm,
            Side::Target => &self.target_spm,
        }
    }

    pub fn shares_vocabulary(&self) -> bool {
        self.target_vocab.is_none()
    }

    /// `tokenizer(text)` (source) or `tokenizer(text_target=text)` (target): `input_ids`.
    pub fn encode(&self, text: &str, side: Side) -> MarianEncoding {
        let vocab = self.vocabulary(side);
        let mut out = MarianEncoding::default();
        for (segment, is_special) in split_specials(text, &self.specials) {
            let pieces = if is_special {
                vec![segment.to_string()]
            } else {
                let (code, rest) = split_language_code(segment);
                code.map(str::to_string)
                    .into_iter()
                    .chain(self.spm(side).encode(rest).into_iter().map(|s| s.text))
                    .collect()
            };
            for piece in pieces {
                let id = vocab.id(&piece).unwrap_or_else(|| {
                    out.unknown.push(piece.clone());
                    self.unk_id
                });
                out.ids.push(id);
                out.pieces.push(piece);
            }
        }
        out.ids.push(self.eos_id);
        out.pieces.push(self.specials[0].clone());
        out
    }

    /// The vocabulary's piece for each id (`<unk>` for ids it lacks).
    pub fn pieces(&self, ids: &[u32], side: Side) -> Vec<String> {
        let vocab = self.vocabulary(side);
        ids.iter()
            .map(|&id| vocab.piece(id).unwrap_or(&self.specials[1]).to_string())
            .collect()
    }

    pub fn is_special(&self, id: u32) -> bool {
        [self.eos_id, self.unk_id, self.pad_id].contains(&id)
    }

    /// `tokenizer.decode(ids, skip_special_tokens=True)` of target ids.
    pub fn decode(&self, ids: &[u32]) -> String {
        // transformers decodes with the source model unless the vocabularies are separate.
        let spm = if self.shares_vocabulary() {
            &self.source_spm
        } else {
            &self.target_spm
        };
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| !self.is_special(id))
            .collect();
        let pieces = self.pieces(&kept, Side::Target);
        let text = spm.decode_pieces(&pieces).replace(SPACE_MARK, " ");
        let text = text.trim().to_string();
        if self.clean_up_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        }
    }
}

/// Splits `text` around whole occurrences of the special tokens, as transformers'
/// `tokenize` does before the model's own tokenizer runs: `(segment, is_special)`.
fn split_specials<'t>(text: &'t str, specials: &[String]) -> Vec<(&'t str, bool)> {
    let mut out = vec![];
    let mut rest = text;
    loop {
        let next = specials
            .iter()
            .filter_map(|s| rest.find(s.as_str()).map(|at| (at, s.len())))
            .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
        let Some((at, len)) = next else { break };
        if at > 0 {
            out.push((&rest[..at], false));
        }
        out.push((&rest[at..at + len], true));
        rest = &rest[at + len..];
    }
    if !rest.is_empty() {
        out.push((rest, false));
    }
    out
}

/// `remove_language_code`: a text starting with `>>` keeps everything up to the first `<<`
/// as one token.
fn split_language_code(text: &str) -> (Option<&str>, &str) {
    if text.starts_with(">>")
        && let Some(end) = text.find("<<")
    {
        return (Some(&text[..end + 2]), &text[end + 2..]);
    }
    (None, text)
}

/// transformers' `clean_up_tokenization`.
fn clean_up_tokenization(text: &str) -> String {
    [
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ]
    .iter()
    .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}
