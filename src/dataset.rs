//! User data: source/target pairs from a TSV or CSV file.
//!
//! Parsing never fails as a whole: every non-blank line ends up either as a [`Pair`] or as a
//! [`LineError`] naming the line, so the UI can say exactly what was skipped and why. Only
//! problems with the file itself (unreadable, too large, not UTF-8) are a [`DatasetError`].

use std::fmt;

use std::path::{Path, PathBuf};

use crate::fsio::{ReadError, read_limited};
use crate::model::limits::thousands;
use crate::tasks::Pair;

/// Largest file [`load`] reads. Far above any sensible teaching data set, far below what would
/// make the app stall or run out of memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Characters per source or target: longer lines are reported and skipped, as no model
/// takes more than [`MAX_LEN`](crate::model::config::MAX_LEN) tokens per side.
pub const MAX_FIELD_CHARS: usize = crate::model::config::MAX_LEN;

const BOM: char = '\u{feff}';

/// How fields are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One pair per line, source and target separated by a tab; quotes have no meaning.
    Tsv,
    /// Comma-separated with standard CSV quoting (fields may contain commas and newlines).
    Csv,
}

impl Format {
    /// By extension (case-insensitive): `.tsv` / `.txt` are TSV, `.csv` is CSV; otherwise
    /// `None`, and the caller should [`sniff`](Self::sniff) the content.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "tsv" | "txt" => Some(Format::Tsv),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// TSV if the first non-blank line contains a tab, else CSV.
    pub fn sniff(text: &str) -> Format {
        let first = text
            .trim_start_matches(BOM)
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("");
        if first.contains('\t') {
            Format::Tsv
        } else {
            Format::Csv
        }
    }

    /// "TSV" or "CSV", for messages.
    pub fn label(self) -> &'static str {
        match self {
            Format::Tsv => "TSV",
            Format::Csv => "CSV",
        }
    }

    fn delimiter(self) -> u8 {
        match self {
            Format::Tsv => b'\t',
            Format::Csv => b',',
        }
    }

    /// How the separator is named in messages.
    fn separator_name(self) -> &'static str {
        match self {
            Format::Tsv => "tab",
            Format::Csv => "comma",
        }
    }
}

/// A line that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based; for a CSV record spanning several lines, the line it starts on.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Everything read from a data file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Parsed {
    pub pairs: Vec<Pair>,
    pub errors: Vec<LineError>,
    /// True if the first row was a `source`/`target` (or `src`/`tgt`) header and was skipped.
    pub skipped_header: bool,
}

impl Parsed {
    /// One line for the UI, e.g.
    /// `1,204 pairs; 3 lines with errors (first: line 17: expected 2 fields, found 3)`.
    pub fn summary(&self) -> String {
        let mut summary = plural(self.pairs.len(), "pair", "pairs");
        if self.skipped_header {
            summary.push_str("; header row skipped");
        }
        if let Some(first) = self.errors.first() {
            summary.push_str(&format!(
                "; {} with errors (first: {first})",
                plural(self.errors.len(), "line", "lines")
            ));
        }
        summary
    }
}

/// `1 pair`, `1,204 pairs`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Why a data file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("could not read {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is larger than the {} MiB limit; use a smaller sample of the data",
        path.display(),
        MAX_FILE_BYTES / (1024 * 1024)
    )]
    TooLarge { path: PathBuf },
    #[error(
        "{} is not UTF-8 text (invalid byte at offset {offset}); save it as UTF-8",
        path.display()
    )]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{} is UTF-16 text; save it as UTF-8", path.display())]
    Utf16 { path: PathBuf },
}

/// Reads and parses a data file, choosing the format by extension or, failing that, content.
pub fn load(path: &Path) -> Result<Parsed, DatasetError> {
    let bytes = read_limited(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::TooLarge { .. } => DatasetError::TooLarge {
            path: path.to_owned(),
        },
        other => DatasetError::Io {
            path: path.to_owned(),
            error: other.into_io(),
        },
    })?;
    let text = decode_text(path, bytes)?;
    let format = Format::from_path(path).unwrap_or_else(|| Format::sniff(&text));
    Ok(parse(&text, format))
}

/// Bytes to text, with a pointed message for the common wrong encodings.
fn decode_text(path: &Path, bytes: Vec<u8>) -> Result<String, DatasetError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(DatasetError::Utf16 {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|e| DatasetError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Parses pairs from `text`. Blank lines are ignored; a leading BOM and an optional header row
/// are skipped; fields are trimmed of surrounding whitespace (stray spaces after a comma are
/// almost never meant to be part of the data, and invisible in the UI).
pub fn parse(text: &str, format: Format) -> Parsed {
    // The csv reader itself skips one UTF-8 BOM at the start (and byte offsets still count it).
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(format.delimiter())
        // In TSV a quote is just a character: `he said "hi"` must not start a quoted field.
        .quoting(format == Format::Csv)
        .from_reader(text.as_bytes());

    let mut parsed = Parsed::default();
    let mut first_row = true;
    let mut lines = LineCounter::default();
    let mut record = csv::ByteRecord::new();
    loop {
        let start = reader.position().clone();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                // The raw text this record came from decides blankness: a quoted empty field
                // `""` is data (an error), whitespace is not.
                let end = byte_of(reader.position());
                let mut raw_start = byte_of(&start);
                if raw_start == 0 && text.starts_with(BOM) {
                    raw_start = BOM.len_utf8();
                }
                let raw = text.get(raw_start..end).unwrap_or("");
                if raw.trim().is_empty() {
                    continue;
                }
                let content_start = raw_start + (raw.len() - raw.trim_start().len());
                let line = lines.line_at(text, content_start);
                let fields: Vec<String> = record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                    .collect();
                if std::mem::take(&mut first_row) && is_header(&fields) {
                    parsed.skipped_header = true;
                    continue;
                }
                match to_pair(fields, format) {
                    Ok(pair) => parsed.pairs.push(pair),
                    Err(message) => parsed.errors.push(LineError { line, message }),
                }
            }
            Err(err) => {
                // Reading from memory cannot fail with I/O errors and we decode bytes
                // ourselves, so this is unreachable in practice; report it rather than stop.
                parsed.errors.push(LineError {
                    line: lines.line_at(text, byte_of(&start)),
                    message: err.to_string(),
                });
                // Never spin on an error that does not consume input.
                if reader.is_done() || reader.position().byte() == start.byte() {
                    break;
                }
            }
        }
    }
    parsed
}

/// 1-based line numbers of byte offsets, counted incrementally (offsets only increase), so
/// numbering is linear in the file size. Counted here rather than by the csv reader, which
/// only counts `\n` and would number every line of an old Mac file (`\r` endings) as 1.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    breaks: usize,
}

impl LineCounter {
    fn line_at(&mut self, text: &str, offset: usize) -> usize {
        if let Some(skipped) = text.get(self.offset..offset) {
            self.breaks += count_line_breaks(skipped);
            self.offset = offset;
        }
        self.breaks + 1
    }
}

/// Line breaks as the csv reader treats them: `\n`, `\r` and `\r\n` each end one line.
fn count_line_breaks(s: &str) -> usize {
    s.matches('\n').count() + s.matches('\r').count() - s.matches("\r\n").count()
}

fn byte_of(position: &csv::Position) -> usize {
    usize::try_from(position.byte()).unwrap_or(usize::MAX)
}

fn is_header(fields: &[String]) -> bool {
    let [a, b] = fields else { return false };
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    matches!(
        (a.as_str(), b.as_str()),
        ("source", "target") | ("src", "tgt")
    )
}

/// A pair, or the reason this record is not one.
fn to_pair(fields: Vec<String>, format: Format) -> Result<Pair, String> {
    let [src, tgt]: [String; 2] = fields.try_into().map_err(|fields: Vec<String>| {
        let mut message = format!("expected 2 fields, found {}", fields.len());
        if fields.len() == 1 {
            message.push_str(&format!(" (no {} on this line)", format.separator_name()));
        }
        if fields.iter().any(|f| f.contains('\n')) {
            message.push_str("; this record spans several lines, check for an unbalanced quote");
        }
        message
    })?;
    for (side, text) in [("source", &src), ("target", &tgt)] {
        let chars = text.chars().count();
        if chars > MAX_FIELD_CHARS {
            return Err(format!(
                "the {side} is {} characters; at most {} are accepted (the longest sequence a model takes)",
                thousands(chars),
                thousands(MAX_FIELD_CHARS)
            ));
        }
    }
    match (src.is_empty(), tgt.is_empty()) {
        (false, false) => Ok(Pair { src, tgt }),
        (true, true) => Err("empty source and target".to_owned()),
        (true, false) => Err("empty source".to_owned()),
        (false, true) => Err("empty target".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair(src: &str, tgt: &str) -> Pair {
        Pair {
            src: src.into(),
            tgt: tgt.into(),
        }
    }

    fn error_lines(parsed: &Parsed) -> Vec<usize> {
        parsed.errors.iter().map(|e| e.line).collect()
    }

    #[test]
    fn format_from_path_and_sniff() {
        assert_eq!(Format::from_path(Path::new("a.tsv")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("a.TXT")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("dir/a.Csv")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("a.json")), None);
        assert_eq!(Format::from_path(Path::new("noext")), None);
        assert_eq!(Format::sniff("a\tb\nc,d"), Format::Tsv);
        assert_eq!(Format::sniff("\n\u{feff}  \na,b\tc"), Format::Csv);
        assert_eq!(Format::sniff("\u{feff}a\tb"), Format::Tsv);
        assert_eq!(Format::sniff(""), Format::Csv);
    }

    #[test]
    fn tsv_basic() {
        let parsed = parse("hello\tbonjour\ncat\tchat\n", Format::Tsv);
        assert_eq!(
            parsed.pairs,
            [pair("hello", "bonjour"), pair("cat", "chat")]
        );
        assert!(parsed.errors.is_empty());
        assert!(!parsed.skipped_header);
    }

    #[test]
    fn tsv_quotes_are_literal() {
        let parsed = parse("he said \"hi\tthere\nx\t\"y\n", Format::Tsv);
        assert_eq!(
            parsed.pairs,
            [pair("he said \"hi", "there"), pair("x", "\"y")]
        );
    }

    #[test]
    fn csv_quoted_fields_with_commas_newlines_and_quotes() {
        let text = "\"a, b\",\"line one\nline two\"\n\"say \"\"hi\"\"\",ok\nplain,text\n";
        let parsed = parse(text, Format::Csv);
        assert_eq!(
            parsed.pairs,
            [
                pair("a, b", "line one\nline two"),
                pair("say \"hi\"", "ok"),
                pair("plain", "text")
            ]
        );
        assert!(parsed.errors.is_empty());
    }

    #[test]
    fn field_count_and_empty_errors_name_the_line() {
        let text = "a,b\n\nonly one\na,b,c\n,x\ny,\n  ,  \nok,fine\n";
        let parsed = parse(text, Format::Csv);
        assert_eq!(parsed.pairs, [pair("a", "b"), pair("ok", "fine")]);
        let messages: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "line 3: expected 2 fields, found 1 (no comma on this line)",
                "line 4: expected 2 fields, found 3",
                "line 5: empty source",
                "line 6: empty target",
                "line 7: empty source and target",
            ]
        );
    }

    #[test]
    fn blank_lines_are_ignored_but_counted_in_line_numbers() {
        let text = "\n \n\t\na\tb\n\n   \t  \nbad\n";
        let parsed = parse(text, Format::Tsv);
        assert_eq!(parsed.pairs, [pair("a", "b")]);
        assert_eq!(error_lines(&parsed), [7]);
        assert!(parsed.errors[0].message.contains("no tab"));
    }

    #[test]
    fn crlf_line_endings() {
        let parsed = parse("a\tb\r\nc\td\r\n\r\nbad\r\n", Format::Tsv);
        assert_eq!(parsed.pairs, [pair("a", "b"), pair("c", "d")]);
        assert_eq!(error_lines(&parsed), [4]);
        let parsed = parse("a,b\r\n\"x\r\ny\",z\r\n", Format::Csv);
        assert_eq!(parsed.pairs, [pair("a", "b"), pair("x\r\ny", "z")]);
        // Old Mac line endings: lines are still numbered.
        let parsed = parse("a\tb\rbad\r\rc\td\rworse", Format::Tsv);
        assert_eq!(parsed.pairs, [pair("a", "b"), pair("c", "d")]);
        assert_eq!(error_lines(&parsed), [2, 5]);
    }

    #[test]
    fn bom_and_header_are_skipped() {
        let parsed = parse("\u{feff}Source\tTarget\nsrc\ttgt\n", Format::Tsv);
        assert!(parsed.skipped_header);
        // Only the first row can be a header.
        assert_eq!(parsed.pairs, [pair("src", "tgt")]);
        let parsed = parse("\u{feff}\n SRC , tgt \na,b\n", Format::Csv);
        assert!(parsed.skipped_header);
        assert_eq!(parsed.pairs, [pair("a", "b")]);
        let parsed = parse("\u{feff}a,b\n", Format::Csv);
        assert!(!parsed.skipped_header);
        assert_eq!(parsed.pairs, [pair("a", "b")]);
    }

    #[test]
    fn only_the_first_bom_is_skipped() {
        let parsed = parse("\u{feff}\u{feff}", Format::Tsv);
        assert_eq!(error_lines(&parsed), [1]);
        let parsed = parse("\u{feff}\u{feff}a\tb", Format::Tsv);
        assert_eq!(parsed.pairs, [pair("\u{feff}a", "b")]);
    }

    #[test]
    fn unbalanced_quote_is_reported_not_swallowed_silently() {
        let parsed = parse("a,b\n\"oops,c\nd,e\n", Format::Csv);
        assert_eq!(parsed.pairs, [pair("a", "b")]);
        assert_eq!(error_lines(&parsed), [2]);
        assert!(parsed.errors[0].message.contains("unbalanced quote"));
    }

    #[test]
    fn summary_text() {
        let mut parsed = Parsed {
            pairs: vec![pair("a", "b"); 1204],
            errors: vec![
                LineError {
                    line: 17,
                    message: "expected 2 fields, found 3".into(),
                };
                3
            ],
            skipped_header: false,
        };
        assert_eq!(
            parsed.summary(),
            "1,204 pairs; 3 lines with errors (first: line 17: expected 2 fields, found 3)"
        );
        parsed.pairs.truncate(1);
        parsed.errors.truncate(1);
        parsed.skipped_header = true;
        assert_eq!(
            parsed.summary(),
            "1 pair; header row skipped; 1 line with errors (first: line 17: expected 2 fields, found 3)"
        );
        assert_eq!(Parsed::default().summary(), "0 pairs");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn load_reads_files_and_reports_problems() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("data.tsv");
        std::fs::write(&tsv, "a\tb\n").unwrap();
        assert_eq!(load(&tsv).unwrap().pairs, [pair("a", "b")]);

        // No useful extension: sniffed.
        let sniffed = dir.path().join("data.dat");
        std::fs::write(&sniffed, "x\ty,z\n").unwrap();
        assert_eq!(load(&sniffed).unwrap().pairs, [pair("x", "y,z")]);

        let latin1 = dir.path().join("latin1.csv");
        std::fs::write(&latin1, b"ok,fine\ncaf\xe9,x\n").unwrap();
        let err = load(&latin1).unwrap_err();
        assert!(
            matches!(err, DatasetError::NotUtf8 { offset: 11, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("offset 11"));

        let utf16 = dir.path().join("utf16.csv");
        std::fs::write(&utf16, b"\xff\xfea\x00,\x00b\x00").unwrap();
        assert!(matches!(load(&utf16), Err(DatasetError::Utf16 { .. })));

        let missing = dir.path().join("missing.tsv");
        let err = load(&missing).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }));
        assert!(err.to_string().contains("missing.tsv"), "{err}");

        assert!(matches!(load(dir.path()), Err(DatasetError::Io { .. })));
    }

    #[test]
    fn load_refuses_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.tsv");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: no disk space is used.
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, DatasetError::TooLarge { .. }));
        assert!(err.to_string().contains("64 MiB"), "{err}");
    }

    /// Lines as the csv reader sees them: \n, \r and \r\n all end a line.
    fn non_blank_lines(text: &str) -> usize {
        text.strip_prefix(BOM)
            .unwrap_or(text)
            .split(['\r', '\n'])
            .filter(|line| !line.trim().is_empty())
            .count()
    }

    fn accounted(parsed: &Parsed) -> usize {
        parsed.pairs.len() + parsed.errors.len() + usize::from(parsed.skipped_header)
    }

    /// Text made mostly of the characters that matter to the parsers.
    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a", "bc", " ", "\t", ",", "\"", "\n", "\r\n", "\r", "\u{feff}", "é", "\0", "source",
            "src,tgt", "\u{85}",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), tricky_text()]
    }

    fn check_invariants(parsed: &Parsed) -> Result<(), TestCaseError> {
        for p in &parsed.pairs {
            prop_assert!(!p.src.is_empty() && !p.tgt.is_empty());
            prop_assert_eq!(p.src.trim(), p.src.as_str());
            prop_assert_eq!(p.tgt.trim(), p.tgt.as_str());
        }
        prop_assert!(parsed.errors.iter().all(|e| e.line >= 1));
        prop_assert!(parsed.errors.windows(2).all(|w| w[0].line < w[1].line));
        let _ = parsed.summary();
        Ok(())
    }

    proptest! {
        #[test]
        fn tsv_accounts_for_every_non_blank_line(text in any_text()) {
            let parsed = parse(&text, Format::Tsv);
            check_invariants(&parsed)?;
            prop_assert_eq!(accounted(&parsed), non_blank_lines(&text));
        }

        #[test]
        fn csv_never_drops_lines_silently(text in any_text()) {
            let parsed = parse(&text, Format::Csv);
            check_invariants(&parsed)?;
            if text.contains('"') {
                // Quoted fields may join lines into one record, never create extra ones.
                prop_assert!(accounted(&parsed) <= non_blank_lines(&text));
                prop_assert_eq!(accounted(&parsed) == 0, non_blank_lines(&text) == 0);
            } else {
                prop_assert_eq!(accounted(&parsed), non_blank_lines(&text));
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            match decode_text(Path::new("x.csv"), bytes.clone()) {
                Ok(text) => {
                    prop_assert_eq!(text.as_bytes(), bytes.as_slice());
                    check_invariants(&parse(&text, Format::sniff(&text)))?;
                }
                Err(DatasetError::NotUtf8 { offset, .. }) => {
                    prop_assert!(std::str::from_utf8(&bytes[..offset]).is_ok());
                }
                Err(_) => {}
            }
            let lossy = String::from_utf8_lossy(&bytes);
            check_invariants(&parse(&lossy, Format::Tsv))?;
            check_invariants(&parse(&lossy, Format::Csv))?;
        }
    }
}
