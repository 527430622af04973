//! A pure-Rust SentencePiece unigram tokenizer: reads a `.spm` model file (protobuf),
//! normalizes text with its precompiled character map and segments it with the Viterbi
//! search of `unigram_model.cc`. Only what Marian models need: unigram models without byte
//! fallback; anything else is refused by name.

mod marian;
mod normalizer;
mod proto;

use std::collections::HashMap;

pub use marian::{MarianEncoding, MarianTokenizer, Side, TokenizerFiles, Vocabulary};
use normalizer::Normalizer;
pub use normalizer::SPACE_MARK;
use proto::PieceKind;

/// SentencePiece's penalty for a character no piece covers, below the lowest piece score.
const UNKNOWN_PENALTY: f32 = 10.0;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpmError {
    #[error("not a SentencePiece model: {0}")]
    Malformed(String),
    #[error("unsupported SentencePiece model: {0}")]
    Unsupported(String),
}

/// One segment of the input: the piece's surface text and its id in the `.spm` model.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub text: String,
    pub id: u32,
}

pub struct SentencePiece {
    pieces: Vec<(String, f32, PieceKind)>,
    /// Pieces the segmenter may produce (normal, user-defined; unused ones are skipped).
    lookup: HashMap<String, u32>,
    longest_piece: usize,
    unknown_id: u32,
    unknown_surface: String,
    min_score: f32,
    max_score: f32,
    normalizer: Normalizer,
}

/// What the reference library refuses too: an empty piece, a score that is not a finite
/// number, a piece defined twice.
fn check_pieces(pieces: &[proto::ProtoPiece]) -> Result<(), SpmError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (id, piece) in pieces.iter().enumerate() {
        if piece.text.is_empty() {
            return Err(SpmError::Malformed(format!("piece {id} is empty")));
        }
        if !piece.score.is_finite() {
            return Err(SpmError::Malformed(format!(
                "piece {id} ({:?}) has the score {}",
                piece.text, piece.score
            )));
        }
        if let Some(first) = seen.insert(&piece.text, id) {
            return Err(SpmError::Malformed(format!(
                "the piece {:?} is defined twice (ids {first} and {id})",
                piece.text
            )));
        }
    }
    Ok(())
}

impl SentencePiece {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpmError> {
        let model = proto::parse(bytes)?;
        match model.trainer.model_type {
            None | Some(1) => {}
            Some(2) => {
                return Err(SpmError::Unsupported(
                    "model_type BPE (only unigram)".into(),
                ));
            }
            Some(other) => {
                return Err(SpmError::Unsupported(format!(
                    "model_type {other} (only unigram)"
                )));
            }
        }
        if model.trainer.byte_fallback {
            return Err(SpmError::Unsupported("byte_fallback".into()));
        }
        if model.trainer.treat_whitespace_as_suffix {
            return Err(SpmError::Unsupported("treat_whitespace_as_suffix".into()));
        }
        if model.pieces.is_empty() {
            return Err(SpmError::Malformed("the model has no pieces".into()));
        }
        let unknown_id = model
            .pieces
            .iter()
            .position(|p| p.kind == PieceKind::Unknown)
            .ok_or_else(|| SpmError::Malformed("the model has no unknown piece".into()))?
            as u32;
        check_pieces(&model.pieces)?;
        let mut lookup = HashMap::new();
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN);
        for (id, piece) in (0u32..).zip(&model.pieces) {
            if matches!(piece.kind, PieceKind::Normal | PieceKind::UserDefined) {
                lookup.entry(piece.text.clone()).or_insert(id);
            }
            if piece.kind == PieceKind::Normal {
                min_score = min_score.min(piece.score);
                max_score = max_score.max(piece.score);
            }
        }
        Ok(Self {
            longest_piece: lookup.keys().map(String::len).max().unwrap_or(0),
            lookup,
            unknown_id,
            unknown_surface: model
                .trainer
                .unk_surface
                .unwrap_or_else(|| " \u{2047} ".into()),
            min_score,
            max_score,
            normalizer: Normalizer::new(&model.normalizer)?,
            pieces: model
                .pieces
                .into_iter()
                .map(|p| (p.text, p.score, p.kind))
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn normalize(&self, text: &str) -> String {
        self.normalizer.normalize(text)
    }

    fn score(&self, id: u32, len: usize) -> f32 {
        let (_, score, kind) = &self.pieces[id as usize];
        if *kind == PieceKind::UserDefined {
            // unigram_model.cc: user-defined pieces always win over the pieces they span.
            len as f32 * self.max_score - 0.1
        } else {
            *score
        }
    }

    /// `encode(text, out_type=str)` with the ids: the best segmentation of the normalized
    /// text; runs of characters no piece covers become one unknown segment.
    pub fn encode(&self, text: &str) -> Vec<Segment> {
        let normalized = self.normalize(text);
        let bytes = normalized.len();
        // best[end] = (score of the best path ending at byte `end`, where its last piece starts, id)
        let mut best: Vec<Option<(f32, usize, u32)>> = vec![None; bytes + 1];
        best[0] = Some((0.0, 0, self.unknown_id));
        let unknown_score = self.min_score - UNKNOWN_PENALTY;
        for (start, c) in normalized.char_indices() {
            let Some((score_here, _, _)) = best[start] else {
                continue;
            };
            let mut offer = |end: usize, score: f32, id: u32| {
                let candidate = score_here + score;
                if best[end].is_none_or(|(current, _, _)| candidate > current) {
                    best[end] = Some((candidate, start, id));
                }
            };
            let char_len = c.len_utf8();
            let mut covers_char = false;
            let limit = bytes.min(start + self.longest_piece);
            for end in (start + 1..=limit).filter(|&e| normalized.is_char_boundary(e)) {
                if let Some(&id) = self.lookup.get(&normalized[start..end]) {
                    offer(end, self.score(id, end - start), id);
                    covers_char |= end - start == char_len;
                }
            }
            if !covers_char {
                offer(start + char_len, unknown_score, self.unknown_id);
            }
        }
        let mut segments = vec![];
        let mut end = bytes;
        while end > 0 {
            let (_, start, id) = best[end].expect("every char boundary is reachable");
            segments.push(Segment {
                text: normalized[start..end].to_string(),
                id,
            });
            end = start;
        }
        segments.reverse();
        merge_unknown_runs(segments, self.unknown_id)
    }

    /// `decode_pieces`: pieces joined, the word-start mark turned back into spaces and the
    /// dummy prefix's leading space dropped; control pieces vanish.
    pub fn decode_pieces<S: AsRef<str>>(&self, pieces: &[S]) -> String {
        let mut out = String::new();
        for piece in pieces {
            let piece = piece.as_ref();
            let text = match self.id(piece).map(|id| self.pieces[id as usize].2) {
                Some(PieceKind::Control) => continue,
                Some(PieceKind::Unknown) => self.unknown_surface.clone(),
                // A piece the model lacks decodes as its own spelling, untouched.
                None => piece.to_string(),
                Some(_) => {
                    let mut piece = piece;
                    if out.is_empty() {
                        piece = piece.strip_prefix(SPACE_MARK).unwrap_or(piece);
                    }
                    piece.replace(SPACE_MARK, " ")
                }
            };
            out.push_str(&text);
        }
        out
    }

    /// The id of a piece spelled exactly `piece`, of any kind.
    pub fn id(&self, piece: &str) -> Option<u32> {
        self.lookup.get(piece).copied().or_else(|| {
            self.pieces
                .iter()
                .position(|(text, _, _)| text == piece)
                .map(|i| i as u32)
        })
    }
}

/// SentencePiece reports consecutive unknown characters as one unknown piece.
fn merge_unknown_runs(segments: Vec<Segment>, unknown_id: u32) -> Vec<Segment> {
    let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
    for segment in segments {
        match merged.last_mut() {
            Some(last) if last.id == unknown_id && segment.id == unknown_id => {
                last.text.push_str(&segment.text)
            }
            _ => merged.push(segment),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ModelProto` of `pieces` (text, score, type) and nothing else, in protobuf bytes.
    fn model_bytes(pieces: &[(&str, f32, u8)]) -> Vec<u8> {
        let mut out = vec![];
        for (text, score, kind) in pieces {
            let mut piece = vec![0x0a, text.len() as u8];
            piece.extend(text.as_bytes());
            piece.push(0x15);
            piece.extend(score.to_le_bytes());
            piece.extend([0x18, *kind]);
            out.extend([0x0a, piece.len() as u8]);
            out.extend(piece);
        }
        out
    }

    /// Issue 21: empty pieces, NaN scores and duplicate pieces were accepted; the reference
    /// library refuses all three.
    #[test]
    fn empty_nan_and_duplicate_pieces_are_refused() {
        let unk = ("<unk>", 0.0, 2);
        assert!(SentencePiece::from_bytes(&model_bytes(&[unk, ("a", -1.0, 1)])).is_ok());
        for (pieces, expected) in [
            (vec![unk, ("", -1.0, 1)], "piece 1 is empty"),
            (vec![unk, ("a", f32::NAN, 1)], "score NaN"),
            (vec![unk, ("a", f32::INFINITY, 1)], "score inf"),
            (
                vec![unk, ("a", -1.0, 1), ("a", -2.0, 1)],
                "defined twice (ids 1 and 2)",
            ),
        ] {
            let err = SentencePiece::from_bytes(&model_bytes(&pieces))
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
