//! Character- and word-level tokenizers with a fixed vocabulary.
//!
//! Ids 0..=3 are always the special tokens `<pad>`, `<bos>`, `<eos>`, `<unk>`, so every part of
//! the app (masks, decoding, views) can rely on them without consulting the vocabulary.
//!
//! Encoding never fails: pieces missing from the vocabulary become `<unk>` and input longer
//! than the model accepts is truncated, and both are *reported* in the [`Encoding`] so the UI
//! can tell the user what happened to what they typed instead of silently changing it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::i18n::{Said, said};

/// Padding: fills short sequences in a batch; never attended to.
pub const PAD: u32 = 0;
/// Beginning of sequence: the first decoder input.
pub const BOS: u32 = 1;
/// End of sequence: the last label; decoding stops when it is produced.
pub const EOS: u32 = 2;
/// Unknown: stands in for any piece the vocabulary lacks.
pub const UNK: u32 = 3;

/// Names of the special tokens, indexed by their ids.
pub const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<bos>", "<eos>", "<unk>"];
/// The first id after the special tokens: an ordinary character.
pub const FIRST_ORDINARY_ID: u32 = SPECIAL_TOKENS.len() as u32;

/// Largest vocabulary accepted, so a hostile file cannot make us build an absurd embedding.
pub const MAX_VOCAB: usize = 1_000_000;

/// How text is cut into pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Every Unicode scalar value (Rust `char`) is a token, spaces included.
    Char,
    /// Whitespace-separated words; whitespace itself is not kept.
    Word,
}

impl TokenizerKind {
    /// Short lowercase name, the same as the serialized form.
    pub fn label(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::Word => "word",
        }
    }

    /// Inverse of [`label`](Self::label); case-insensitive and tolerant of surrounding spaces.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        [Self::Char, Self::Word]
            .into_iter()
            .find(|kind| kind.label().eq_ignore_ascii_case(name))
    }
}

/// Why a token list cannot be used as a vocabulary.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VocabError {
    #[error("vocabulary has {len} tokens; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error(
        "vocabulary has only {len} tokens; it must start with the 4 special tokens {SPECIAL_TOKENS:?}"
    )]
    MissingSpecials { len: usize },
    #[error("token id {id} must be the special token {expected:?} but is {found:?}")]
    WrongSpecial {
        id: u32,
        expected: &'static str,
        found: String,
    },
    #[error("token id {id} is empty")]
    EmptyToken { id: u32 },
    #[error("token {token:?} appears twice (ids {first} and {second})")]
    Duplicate {
        token: String,
        first: u32,
        second: u32,
    },
    #[error(
        "token id {id} ({token:?}) is not a single character, so a char tokenizer can never produce it"
    )]
    NotSingleChar { id: u32, token: String },
    #[error(
        "token id {id} ({token:?}) contains whitespace, so a word tokenizer can never produce it"
    )]
    ContainsWhitespace { id: u32, token: String },
}

/// A piece of the input that is not in the vocabulary and was encoded as `<unk>`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnknownPiece {
    /// Token position (0-based, the same index as in [`Encoding::ids`]).
    pub position: usize,
    /// The piece as typed.
    pub text: String,
}

/// Result of [`Vocab::encode`]: ids plus everything the user should be told about.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Encoding {
    /// Token ids, without `<bos>` / `<eos>`; at most `max_len` of them.
    pub ids: Vec<u32>,
    /// The original pieces, one per id, so an `<unk>` still shows what was typed.
    pub tokens: Vec<String>,
    /// Pieces that became `<unk>`, in order of position.
    pub unknown: Vec<UnknownPiece>,
    /// The original token count if the input was longer than `max_len`.
    pub truncated_from: Option<usize>,
}

impl Encoding {
    /// Readable warnings, e.g. `unknown character 'é' at position 3 became <unk>`, kept as
    /// [`Said`] so the window shows them in its language.
    ///
    /// Encodings do not remember their tokenizer, so unknown pieces are called "character" when
    /// they are a single `char` and "word" otherwise.
    pub fn warnings(&self) -> Vec<Said> {
        let mut warnings: Vec<Said> = self
            .unknown
            .iter()
            .map(|piece| {
                // escape_debug keeps ordinary letters (é, 中) readable but makes invisible
                // characters (NUL, a lone combining mark, direction overrides) visible.
                let shown = format!("'{}'", piece.text.escape_debug());
                let at: [&dyn std::fmt::Display; 2] = [&shown, &piece.position];
                if piece.text.chars().count() == 1 {
                    said("unknown character {} at position {} became <unk>", &at)
                } else {
                    said("unknown word {} at position {} became <unk>", &at)
                }
            })
            .collect();
        if let Some(original) = self.truncated_from {
            warnings.push(said(
                "input truncated from {} to {} tokens",
                &[&original, &self.ids.len()],
            ));
        }
        warnings
    }
}

/// A fixed list of tokens; a token's id is its index.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    kind: TokenizerKind,
    tokens: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Checks `tokens` (for example read back from a checkpoint) and builds the lookup table.
    ///
    /// Besides the specials, no duplicates, no empty tokens and the size limit, a token must be
    /// producible by the tokenizer: one `char` for [`TokenizerKind::Char`], no whitespace for
    /// [`TokenizerKind::Word`]. Otherwise it would silently be dead weight in the model.
    pub fn new(kind: TokenizerKind, tokens: Vec<String>) -> Result<Vocab, VocabError> {
        if tokens.len() > MAX_VOCAB {
            return Err(VocabError::TooLarge {
                len: tokens.len(),
                max: MAX_VOCAB,
            });
        }
        if tokens.len() < SPECIAL_TOKENS.len() {
            return Err(VocabError::MissingSpecials { len: tokens.len() });
        }
        for (id, expected) in (0u32..).zip(SPECIAL_TOKENS) {
            let found = &tokens[id as usize];
            if found != expected {
                return Err(VocabError::WrongSpecial {
                    id,
                    expected,
                    found: found.clone(),
                });
            }
        }
        let mut index = HashMap::with_capacity(tokens.len());
        // Ids fit in u32 because the length is at most MAX_VOCAB.
        for (id, token) in (0u32..).zip(&tokens) {
            if !Self::is_special(id) {
                check_token(kind, id, token)?;
            }
            if let Some(first) = index.insert(token.clone(), id) {
                return Err(VocabError::Duplicate {
                    token: token.clone(),
                    first,
                    second: id,
                });
            }
        }
        Ok(Vocab {
            kind,
            tokens,
            index,
        })
    }

    /// The specials followed by every distinct piece of `texts`, sorted, so the same texts
    /// always give the same ids regardless of order.
    ///
    /// Pieces spelled like a special token (a word `<eos>`) are left out: typed text must never
    /// be able to produce a control token.
    pub fn build<'a>(kind: TokenizerKind, texts: impl IntoIterator<Item = &'a str>) -> Vocab {
        let mut pieces: Vec<&str> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for text in texts {
            for piece in split_with(kind, text) {
                if !SPECIAL_TOKENS.contains(&piece) && seen.insert(piece) {
                    pieces.push(piece);
                }
            }
        }
        pieces.sort_unstable();
        // Stay within the limit new() enforces rather than failing: the most a huge corpus can
        // lose is the tail of the sorted list, which then encodes as <unk> and is reported.
        pieces.truncate(MAX_VOCAB - SPECIAL_TOKENS.len());

        let tokens: Vec<String> = SPECIAL_TOKENS
            .iter()
            .copied()
            .chain(pieces)
            .map(str::to_owned)
            .collect();
        let index = (0u32..)
            .zip(&tokens)
            .map(|(id, t)| (t.clone(), id))
            .collect();
        Vocab {
            kind,
            tokens,
            index,
        }
    }

    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// Number of tokens, specials included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Never true for a valid vocabulary (the specials are always there); provided for clippy.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The token for `id`; an out-of-range id (e.g. from a mismatched checkpoint) shows as
    /// `<unk>` rather than panicking.
    pub fn token(&self, id: u32) -> &str {
        self.tokens
            .get(id as usize)
            .map_or(SPECIAL_TOKENS[UNK as usize], String::as_str)
    }

    /// The id of `token`, specials included.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// True for `<pad>`, `<bos>`, `<eos>` and `<unk>`.
    pub fn is_special(id: u32) -> bool {
        (id as usize) < SPECIAL_TOKENS.len()
    }

    /// Cuts `text` into pieces: each `char` (spaces included) or each whitespace-separated word.
    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        split_with(self.kind, text).collect()
    }

    /// Encodes `text` without adding `<bos>` / `<eos>`, keeping at most `max_len` tokens.
    pub fn encode(&self, text: &str, max_len: usize) -> Encoding {
        let pieces = self.split(text);
        let truncated_from = (pieces.len() > max_len).then_some(pieces.len());
        let mut encoding = Encoding {
            truncated_from,
            ..Encoding::default()
        };
        for (position, &piece) in pieces.iter().take(max_len).enumerate() {
            let id = self.piece_id(piece);
            if id.is_none() {
                encoding.unknown.push(UnknownPiece {
                    position,
                    text: piece.to_owned(),
                });
            }
            encoding.ids.push(id.unwrap_or(UNK));
            encoding.tokens.push(piece.to_owned());
        }
        encoding
    }

    /// The id of a piece of typed text. Special tokens are not reachable from text, so a typed
    /// `<eos>` cannot end decoding or vanish as padding; it is reported as unknown instead.
    fn piece_id(&self, piece: &str) -> Option<u32> {
        self.id(piece).filter(|&id| !Self::is_special(id))
    }

    /// Turns ids back into text: skips `<pad>` and `<bos>`, stops at the first `<eos>`, shows
    /// `<unk>` (and out-of-range ids) as `<unk>`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let separator = match self.kind {
            TokenizerKind::Char => "",
            TokenizerKind::Word => " ",
        };
        ids.iter()
            .copied()
            .take_while(|&id| id != EOS)
            .filter(|&id| id != PAD && id != BOS)
            .map(|id| self.token(id))
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// The token string for each id, specials included, for display.
    pub fn tokens_of(&self, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&id| self.token(id).to_owned()).collect()
    }
}

/// Splits without needing a vocabulary, so [`Vocab::build`] can use it.
fn split_with(kind: TokenizerKind, text: &str) -> Box<dyn Iterator<Item = &str> + '_> {
    match kind {
        TokenizerKind::Char => Box::new(
            text.char_indices()
                .map(move |(i, c)| &text[i..i + c.len_utf8()]),
        ),
        TokenizerKind::Word => Box::new(text.split_whitespace()),
    }
}

/// Checks one non-special token of a vocabulary of `kind`.
fn check_token(kind: TokenizerKind, id: u32, token: &str) -> Result<(), VocabError> {
    if token.is_empty() {
        return Err(VocabError::EmptyToken { id });
    }
    let producible = match kind {
        TokenizerKind::Char => token.chars().count() == 1,
        TokenizerKind::Word => !token.chars().any(char::is_whitespace),
    };
    match (producible, kind) {
        (true, _) => Ok(()),
        (false, TokenizerKind::Char) => Err(VocabError::NotSingleChar {
            id,
            token: token.to_owned(),
        }),
        (false, TokenizerKind::Word) => Err(VocabError::ContainsWhitespace {
            id,
            token: token.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn with_specials(items: &[&str]) -> Vec<String> {
        let mut tokens = strings(&SPECIAL_TOKENS);
        tokens.extend(strings(items));
        tokens
    }

    #[test]
    fn kind_labels_round_trip() {
        for kind in [TokenizerKind::Char, TokenizerKind::Word] {
            assert_eq!(TokenizerKind::parse(kind.label()), Some(kind));
        }
        assert_eq!(TokenizerKind::parse(" WORD "), Some(TokenizerKind::Word));
        assert_eq!(TokenizerKind::parse("bpe"), None);
        assert_eq!(
            serde_json::to_string(&TokenizerKind::Char).unwrap(),
            "\"char\""
        );
        assert_eq!(
            serde_json::from_str::<TokenizerKind>("\"word\"").unwrap(),
            TokenizerKind::Word
        );
    }

    #[test]
    fn build_is_sorted_deterministic_and_starts_with_specials() {
        let a = Vocab::build(TokenizerKind::Char, ["cab", "ba "]);
        let b = Vocab::build(TokenizerKind::Char, ["ba ", "cab"]);
        assert_eq!(a, b);
        assert_eq!(a.tokens(), with_specials(&[" ", "a", "b", "c"]).as_slice());
        assert_eq!(a.id("<pad>"), Some(PAD));
        assert_eq!(a.id("<unk>"), Some(UNK));
        assert_eq!(a.kind(), TokenizerKind::Char);
        assert_eq!(a.len(), 8);
        assert!(!a.is_empty());
        // The result always passes its own validation.
        assert_eq!(Vocab::new(a.kind(), a.tokens().to_vec()).unwrap(), a);
    }

    #[test]
    fn build_leaves_out_words_spelled_like_specials() {
        let v = Vocab::build(TokenizerKind::Word, ["hello <eos> world <pad>"]);
        assert_eq!(v.tokens(), with_specials(&["hello", "world"]).as_slice());
        let e = v.encode("hello <eos> world", 10);
        assert_eq!(e.ids, vec![4, UNK, 5]);
        assert_eq!(e.unknown[0].text, "<eos>");
        assert_eq!(v.decode(&e.ids), "hello <unk> world");
    }

    #[test]
    fn new_rejects_bad_vocabularies() {
        use TokenizerKind::{Char, Word};
        assert_eq!(
            Vocab::new(Char, strings(&["<pad>", "<bos>"])),
            Err(VocabError::MissingSpecials { len: 2 })
        );
        assert!(matches!(
            Vocab::new(Char, strings(&["<pad>", "<eos>", "<bos>", "<unk>"])),
            Err(VocabError::WrongSpecial { id: 1, .. })
        ));
        assert_eq!(
            Vocab::new(Char, with_specials(&["a", ""])),
            Err(VocabError::EmptyToken { id: 5 })
        );
        assert!(matches!(
            Vocab::new(Char, with_specials(&["a", "b", "a"])),
            Err(VocabError::Duplicate {
                first: 4,
                second: 6,
                ..
            })
        ));
        assert!(matches!(
            Vocab::new(Char, with_specials(&["<unk>"])),
            Err(VocabError::NotSingleChar { .. })
        ));
        assert!(matches!(
            Vocab::new(Word, with_specials(&["a b"])),
            Err(VocabError::ContainsWhitespace { .. })
        ));
        assert!(matches!(
            Vocab::new(Word, with_specials(&["a", "a"])),
            Err(VocabError::Duplicate { .. })
        ));
        let huge = vec![String::new(); MAX_VOCAB + 1];
        assert!(matches!(
            Vocab::new(Word, huge),
            Err(VocabError::TooLarge { .. })
        ));
        let ok = Vocab::new(Word, with_specials(&["hi", "there"])).unwrap();
        assert_eq!(ok.id("there"), Some(5));
        // Messages are readable on their own.
        let err = Vocab::new(Char, with_specials(&["ab"])).unwrap_err();
        assert!(err.to_string().contains("\"ab\""), "{err}");
    }

    #[test]
    fn token_lookup_never_panics() {
        let v = Vocab::build(TokenizerKind::Char, ["ab"]);
        assert_eq!(v.token(4), "a");
        assert_eq!(v.token(99), "<unk>");
        assert_eq!(v.token(u32::MAX), "<unk>");
        assert_eq!(v.id("z"), None);
        assert!(Vocab::is_special(UNK));
        assert!(!Vocab::is_special(4));
        assert_eq!(
            v.tokens_of(&[BOS, 4, 99, EOS]),
            ["<bos>", "a", "<unk>", "<eos>"]
        );
    }

    #[test]
    fn split_char_keeps_spaces_and_scalars() {
        let v = Vocab::build(TokenizerKind::Char, [""]);
        assert_eq!(v.split("a b"), ["a", " ", "b"]);
        // e + combining acute accent are two scalars; an emoji is one.
        assert_eq!(v.split("e\u{301}😀"), ["e", "\u{301}", "😀"]);
        assert!(v.split("").is_empty());
    }

    #[test]
    fn split_word_uses_any_whitespace() {
        let v = Vocab::build(TokenizerKind::Word, [""]);
        assert_eq!(v.split("  the\tcat\n sat "), ["the", "cat", "sat"]);
        assert!(v.split(" \t\n").is_empty());
    }

    #[test]
    fn encode_reports_unknown_characters() {
        let v = Vocab::build(TokenizerKind::Char, ["cafe"]);
        let e = v.encode("café", 32);
        // Sorted vocabulary: a=4, c=5, e=6, f=7.
        assert_eq!(e.ids, vec![5, 4, 7, UNK]);
        assert_eq!(e.tokens, ["c", "a", "f", "é"]);
        assert_eq!(
            e.unknown,
            vec![UnknownPiece {
                position: 3,
                text: "é".into()
            }]
        );
        assert_eq!(e.truncated_from, None);
        assert_eq!(
            english(e.warnings()),
            ["unknown character 'é' at position 3 became <unk>"]
        );
        assert_eq!(v.decode(&e.ids), "caf<unk>");
    }

    fn english(warnings: Vec<Said>) -> Vec<String> {
        warnings
            .iter()
            .map(|w| w.render_in(crate::i18n::Language::En))
            .collect()
    }

    #[test]
    fn warnings_make_invisible_characters_visible() {
        let v = Vocab::build(TokenizerKind::Char, ["a"]);
        let e = v.encode("a\0", 8);
        assert_eq!(
            english(e.warnings()),
            ["unknown character '\\0' at position 1 became <unk>"]
        );
        let w = Vocab::build(TokenizerKind::Word, ["a"]);
        let e = w.encode("a zebra", 8);
        assert_eq!(
            english(e.warnings()),
            ["unknown word 'zebra' at position 1 became <unk>"]
        );
    }

    #[test]
    fn encode_truncates_and_reports() {
        let v = Vocab::build(TokenizerKind::Char, ["abcdefghij"]);
        let text = "abcdefghij".repeat(4);
        let e = v.encode(&text, 32);
        assert_eq!(e.ids.len(), 32);
        assert_eq!(e.tokens.len(), 32);
        assert_eq!(e.truncated_from, Some(40));
        assert_eq!(
            english(e.warnings()),
            ["input truncated from 40 to 32 tokens"]
        );
        // Exactly max_len tokens is not truncation.
        assert_eq!(v.encode("abc", 3).truncated_from, None);
        // Zero length keeps nothing but still reports.
        let e = v.encode("abc", 0);
        assert!(e.ids.is_empty());
        assert_eq!(e.truncated_from, Some(3));
        assert_eq!(v.encode("", 0), Encoding::default());
    }

    #[test]
    fn unknown_pieces_past_the_cut_are_not_reported() {
        let v = Vocab::build(TokenizerKind::Char, ["ab"]);
        let e = v.encode("abz", 2);
        assert!(e.unknown.is_empty());
        assert_eq!(e.truncated_from, Some(3));
    }

    #[test]
    fn decode_handles_specials() {
        let v = Vocab::build(TokenizerKind::Word, ["the cat sat"]);
        let cat = v.id("cat").unwrap();
        let sat = v.id("sat").unwrap();
        let ids = [BOS, cat, PAD, UNK, sat, EOS, cat];
        assert_eq!(v.decode(&ids), "cat <unk> sat");
        assert_eq!(v.decode(&[EOS, cat]), "");
        assert_eq!(v.decode(&[cat, 1_000_000]), "cat <unk>");
        assert_eq!(v.decode(&[]), "");
    }

    /// Text with the awkward parts of Unicode that tend to break tokenizers.
    fn awkward_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a",
            "b",
            " ",
            "\t",
            "\n",
            "\0",
            "e\u{301}",
            "\u{301}",
            "😀",
            "👩‍👩‍👧",
            "🇫🇷",
            "שלום",
            "مرحبا",
            "\u{202e}",
            "\u{200b}",
            "中文",
            "\r\n",
            "\u{feff}",
            "<eos>",
        ]);
        prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), awkward_text()]
    }

    fn any_kind() -> impl Strategy<Value = TokenizerKind> {
        prop_oneof![Just(TokenizerKind::Char), Just(TokenizerKind::Word)]
    }

    proptest! {
        #[test]
        fn encode_is_total_and_consistent(
            kind in any_kind(),
            vocab_text in any_text(),
            text in any_text(),
            max_len in 0usize..40,
        ) {
            let v = Vocab::build(kind, [vocab_text.as_str()]);
            let e = v.encode(&text, max_len);
            let pieces = v.split(&text);

            prop_assert!(e.ids.len() <= max_len);
            prop_assert_eq!(e.ids.len(), e.tokens.len());
            prop_assert_eq!(e.ids.len(), pieces.len().min(max_len));
            prop_assert_eq!(e.truncated_from.is_some(), pieces.len() > max_len);
            if let Some(original) = e.truncated_from {
                prop_assert_eq!(original, pieces.len());
            }
            // Every kept piece is either encoded as itself or reported at its position.
            let mut reported = e.unknown.iter().peekable();
            for (position, (&id, piece)) in e.ids.iter().zip(&e.tokens).enumerate() {
                prop_assert_eq!(piece.as_str(), pieces[position]);
                if id == UNK {
                    let u = reported.next();
                    prop_assert!(u.is_some(), "unreported <unk> at {}", position);
                    let u = u.unwrap();
                    prop_assert_eq!(u.position, position);
                    prop_assert_eq!(&u.text, piece);
                } else {
                    prop_assert!(!Vocab::is_special(id));
                    prop_assert_eq!(v.token(id), piece.as_str());
                }
            }
            prop_assert!(reported.next().is_none());
            prop_assert_eq!(
                e.warnings().len(),
                e.unknown.len() + usize::from(e.truncated_from.is_some())
            );
            // Decoding and display never panic either.
            let _ = v.decode(&e.ids);
            let _ = v.tokens_of(&e.ids);
        }

        #[test]
        fn char_round_trips_text_made_of_vocab_chars(
            vocab_text in any_text(),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let v = Vocab::build(TokenizerKind::Char, [vocab_text.as_str()]);
            let chars: Vec<&str> = v.split(&vocab_text);
            prop_assume!(!chars.is_empty());
            let text: String = picks.iter().map(|i| *i.get(&chars)).collect();
            let e = v.encode(&text, usize::MAX);
            prop_assert!(e.unknown.is_empty());
            prop_assert_eq!(v.decode(&e.ids), text);
        }

        #[test]
        fn word_round_trips_single_space_joined_words(
            vocab_text in any_text(),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let v = Vocab::build(TokenizerKind::Word, [vocab_text.as_str()]);
            let words: Vec<&str> = v.tokens()[SPECIAL_TOKENS.len()..]
                .iter()
                .map(String::as_str)
                .collect();
            prop_assume!(!words.is_empty());
            let text = picks.iter().map(|i| *i.get(&words)).collect::<Vec<_>>().join(" ");
            let e = v.encode(&text, usize::MAX);
            prop_assert!(e.unknown.is_empty());
            prop_assert_eq!(v.decode(&e.ids), text);
        }

        #[test]
        fn build_always_validates(kind in any_kind(), a in any_text(), b in any_text()) {
            let v = Vocab::build(kind, [a.as_str(), b.as_str()]);
            prop_assert_eq!(Vocab::new(kind, v.tokens().to_vec()), Ok(v));
        }
    }
}
