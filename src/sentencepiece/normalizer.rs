//! SentencePiece's text normalizer (normalizer.cc): the precompiled character map (a
//! darts-clone double-array trie of rules plus the replacement strings), whitespace folding
//! and the word-start mark `▁`.
//!
//! Written out rather than taken from `spm_precompiled`: SentencePiece applies the *longest*
//! matching rule at each byte position and needs each match's length, which that crate's API
//! (shortest match per grapheme) does not give.

use super::SpmError;
use super::proto::ProtoNormalizer;

/// The word-start mark SentencePiece puts in place of spaces.
pub const SPACE_MARK: &str = "\u{2581}";

pub struct Normalizer {
    /// Double-array units; empty for the identity normalizer.
    units: Vec<u32>,
    /// NUL-terminated replacement strings the trie's values point into.
    replacements: Vec<u8>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

impl Normalizer {
    pub fn new(spec: &ProtoNormalizer) -> Result<Self, SpmError> {
        let (units, replacements) = if spec.precompiled_charsmap.is_empty() {
            (vec![], vec![])
        } else {
            split_charsmap(&spec.precompiled_charsmap)?
        };
        Ok(Self {
            units,
            replacements,
            add_dummy_prefix: spec.add_dummy_prefix,
            remove_extra_whitespaces: spec.remove_extra_whitespaces,
            escape_whitespaces: spec.escape_whitespaces,
        })
    }

    /// Byte lengths and replacement offsets of every rule that matches a prefix of `key`.
    fn prefix_matches(&self, key: &[u8]) -> Vec<(usize, usize)> {
        let unit = |pos: usize| self.units.get(pos).copied();
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let has_leaf = |u: u32| (u >> 8) & 1 == 1;
        let label = |u: u32| u & ((1 << 31) | 0xff);
        let value = |u: u32| (u & ((1 << 31) - 1)) as usize;

        let mut matches = vec![];
        let Some(root) = unit(0) else { return matches };
        let mut pos = offset(root);
        for (i, &byte) in key.iter().enumerate() {
            pos ^= byte as usize;
            let Some(u) = unit(pos) else { break };
            if label(u) != byte as u32 {
                break;
            }
            pos ^= offset(u);
            if has_leaf(u) {
                let Some(leaf) = unit(pos) else { break };
                matches.push((i + 1, value(leaf)));
            }
        }
        matches
    }

    /// The replacement for the longest rule matching the start of `input` and how many bytes
    /// it consumes; without a rule, the first character unchanged.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        let longest = self
            .prefix_matches(input.as_bytes())
            .into_iter()
            .filter(|&(len, _)| input.is_char_boundary(len))
            .max_by_key(|&(len, _)| len);
        if let Some((len, at)) = longest {
            let rest = self.replacements.get(at..).unwrap_or_default();
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            if let Ok(replacement) = std::str::from_utf8(&rest[..end]) {
                return (replacement, len);
            }
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (&input[..len], len)
    }

    /// Normalizes `input` exactly as `Normalizer::Normalize` does (without offsets).
    pub fn normalize(&self, mut input: &str) -> String {
        let space = if self.escape_whitespaces {
            SPACE_MARK
        } else {
            " "
        };
        let mut out = String::with_capacity(input.len() * 3);
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (replacement, len) = self.normalize_prefix(input);
                if replacement != " " {
                    break;
                }
                input = &input[len..];
            }
        }
        if input.is_empty() {
            return out;
        }
        if self.add_dummy_prefix {
            out.push_str(space);
        }
        let mut previous_was_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (replacement, len) = self.normalize_prefix(input);
            let mut piece = replacement;
            if previous_was_space {
                piece = piece.trim_start_matches(' ');
            }
            if !piece.is_empty() {
                for c in piece.chars() {
                    if self.escape_whitespaces && c == ' ' {
                        out.push_str(space);
                    } else {
                        out.push(c);
                    }
                }
                previous_was_space = piece.ends_with(' ');
            }
            input = &input[len..];
            if !self.remove_extra_whitespaces {
                previous_was_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        out
    }
}

/// Splits a precompiled charsmap into its trie units and replacement strings.
fn split_charsmap(blob: &[u8]) -> Result<(Vec<u32>, Vec<u8>), SpmError> {
    let bad = |why: &str| SpmError::Malformed(format!("precompiled_charsmap: {why}"));
    let size_bytes: [u8; 4] = blob
        .get(..4)
        .ok_or_else(|| bad("shorter than its header"))?
        .try_into()
        .expect("4 bytes");
    let trie_len = u32::from_le_bytes(size_bytes) as usize;
    if !trie_len.is_multiple_of(4) || 4 + trie_len > blob.len() {
        return Err(bad("the trie size does not fit the data"));
    }
    let units = blob[4..4 + trie_len]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((units, blob[4 + trie_len..].to_vec()))
}
