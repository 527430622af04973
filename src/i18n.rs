//! English and Simplified Chinese for every label and message, switchable live.
//!
//! The English text is the key (gettext style): `tr("Causal mask")` returns the text in the
//! current language. Translations live in `assets/i18n/zh/*.json` as data (one file per area,
//! merged); a test scans the sources for every `tr("...")` key and fails if one has no
//! Chinese entry.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Zh,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Zh];

    /// The language's own name, so a reader of either can find it.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Zh => "简体中文",
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

pub fn set_language(language: Language) {
    CURRENT.store(language as u8, Ordering::Relaxed);
}

pub fn language() -> Language {
    if CURRENT.load(Ordering::Relaxed) == Language::Zh as u8 {
        Language::Zh
    } else {
        Language::En
    }
}

/// The Chinese tables, one per area of the app, each a JSON object `{ english: chinese }`.
const ZH_FILES: [(&str, &str); 4] = [
    ("app", include_str!("../assets/i18n/zh/app.json")),
    (
        "classroom",
        include_str!("../assets/i18n/zh/classroom.json"),
    ),
    ("export", include_str!("../assets/i18n/zh/export.json")),
    (
        "reliability",
        include_str!("../assets/i18n/zh/reliability.json"),
    ),
];

/// The merged Chinese table. A key in two files is an error: merging would silently let one
/// area's translation override another's.
fn parse_tables() -> Result<HashMap<String, String>, String> {
    merge_tables(&ZH_FILES)
}

fn merge_tables(files: &[(&str, &str)]) -> Result<HashMap<String, String>, String> {
    let mut table = HashMap::new();
    let mut origin: HashMap<String, &str> = HashMap::new();
    for &(name, json) in files {
        let part: HashMap<String, String> =
            serde_json::from_str(json).map_err(|e| format!("assets/i18n/zh/{name}.json: {e}"))?;
        for (english, chinese) in part {
            if let Some(first) = origin.insert(english.clone(), name) {
                return Err(format!(
                    "{english:?} is translated in both zh/{first}.json and zh/{name}.json"
                ));
            }
            table.insert(english, chinese);
        }
    }
    Ok(table)
}

/// Every `(english, chinese)` entry of the Chinese UI tables.
pub fn chinese_entries() -> Vec<(&'static str, &'static str)> {
    chinese()
        .iter()
        .map(|(en, zh)| (en.as_str(), zh.as_str()))
        .collect()
}

/// One term of `assets/i18n/zh-glossary.json`: the chosen Chinese word and the variants
/// that must not appear anywhere in the Chinese UI or lessons.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlossaryTerm {
    pub en: String,
    pub zh: String,
    pub rejected: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Glossary {
    #[allow(dead_code)] // documentation for the reader of the file
    about: String,
    terms: Vec<GlossaryTerm>,
}

/// The Chinese glossary.
pub fn glossary() -> Result<Vec<GlossaryTerm>, String> {
    serde_json::from_str::<Glossary>(include_str!("../assets/i18n/zh-glossary.json"))
        .map(|g| g.terms)
        .map_err(|e| format!("assets/i18n/zh-glossary.json: {e}"))
}

/// The rejected variants `chinese` uses, as `(variant, chosen word)`. A variant inside an
/// occurrence of the chosen word itself (提前停止 in 早停（提前停止）) does not count.
pub fn rejected_variants<'g>(chinese: &str, terms: &'g [GlossaryTerm]) -> Vec<(&'g str, &'g str)> {
    let mut found = vec![];
    for term in terms {
        let rest = chinese.replace(&term.zh, "\u{1}");
        for variant in &term.rejected {
            if rest.contains(variant.as_str()) {
                found.push((variant.as_str(), term.zh.as_str()));
            }
        }
    }
    found
}

fn chinese() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    // The tables ship inside the binary and a test parses them, so a parse failure here is a
    // build defect; fall back to English rather than fail at run time.
    TABLE.get_or_init(|| parse_tables().unwrap_or_default())
}

/// `english` in the current language (English itself when no translation exists).
pub fn tr(english: &'static str) -> &'static str {
    translate(language(), english)
}

fn translate(language: Language, english: &'static str) -> &'static str {
    match language {
        Language::En => english,
        Language::Zh => chinese().get(english).map_or(english, String::as_str),
    }
}

/// Like [`tr`] for text built at run time: `{}` placeholders are filled in order.
pub fn trf(english: &'static str, args: &[&dyn std::fmt::Display]) -> String {
    fill(tr(english), args.iter().map(|a| a.to_string()))
}

fn fill(pattern: &str, args: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut parts = pattern.split("{}").peekable();
    while let Some(part) = parts.next() {
        out.push_str(part);
        if parts.peek().is_some()
            && let Some(arg) = args.next()
        {
            out.push_str(&arg);
        }
    }
    out
}

/// Text kept as what was said rather than as the words of one language: an English pattern
/// of the translation tables with its arguments, rendered in the language of the moment.
/// The log keeps these, so lines already shown read in Chinese after a switch to Chinese.
#[derive(Clone, Debug, PartialEq)]
pub enum Said {
    /// Text with no translation (a path, a message from a file's parser).
    Text(String),
    /// A pattern with `{}` placeholders and what fills them.
    Pattern(&'static str, Vec<Said>),
}

impl Said {
    /// In the window's language.
    pub fn render(&self) -> String {
        self.render_in(language())
    }

    pub fn render_in(&self, language: Language) -> String {
        match self {
            Said::Text(text) => text.clone(),
            Said::Pattern(pattern, args) => fill(
                translate(language, pattern),
                args.iter().map(|a| a.render_in(language)),
            ),
        }
    }
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl From<String> for Said {
    fn from(text: String) -> Said {
        Said::Text(text)
    }
}

impl From<&str> for Said {
    fn from(text: &str) -> Said {
        Said::Text(text.to_owned())
    }
}

/// [`trf`] kept for later: the arguments are fixed now, the pattern is translated whenever
/// the text is shown.
pub fn said(english: &'static str, args: &[&dyn std::fmt::Display]) -> Said {
    Said::Pattern(
        english,
        args.iter().map(|a| Said::Text(a.to_string())).collect(),
    )
}

/// Every `tr("...")` / `trf("...", ..)` / `said("...", ..)` / `Said::Pattern("...", ..)` key
/// used in the given Rust source text.
pub fn keys_in_source(source: &str) -> Vec<String> {
    let mut keys = Vec::new();
    // rustfmt may put a long literal on the line after the parenthesis: allow whitespace.
    for marker in ["tr(", "trf(", "said(", "Said::Pattern("] {
        let mut rest = source;
        while let Some(start) = rest.find(marker) {
            let after = rest[start + marker.len()..].trim_start();
            let Some(after) = after.strip_prefix('"') else {
                rest = &rest[start + marker.len()..];
                continue;
            };
            let mut key = String::new();
            let mut chars = after.chars();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (true, 'n') => {
                        key.push('\n');
                        escaped = false;
                    }
                    (_, c) => {
                        key.push(c);
                        escaped = false;
                    }
                }
            }
            // Only whole-identifier matches (not e.g. `attr("`).
            let boundary =
                start == 0 || !rest[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if boundary && !key.is_empty() {
                keys.push(key);
            }
            rest = &after[after.len() - chars.as_str().len()..];
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust_sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).expect("utf-8 source"),
                ));
            }
        }
    }

    #[test]
    fn chinese_table_parses_and_is_chinese() {
        let table = parse_tables().expect("every zh/*.json is a JSON object of strings");
        for (en, zh) in &table {
            assert!(!zh.trim().is_empty(), "empty translation for {en:?}");
            assert_eq!(
                en.matches("{}").count(),
                zh.matches("{}").count(),
                "placeholders differ for {en:?}"
            );
        }
    }

    #[test]
    fn a_key_in_two_tables_is_an_error() {
        assert!(parse_tables().is_ok());
        let clash = merge_tables(&[("a", r#"{"Open": "打开"}"#), ("b", r#"{"Open": "开启"}"#)]);
        assert_eq!(
            clash,
            Err(r#""Open" is translated in both zh/a.json and zh/b.json"#.to_owned())
        );
        let same = merge_tables(&[("a", r#"{"Open": "打开"}"#), ("b", r#"{"Open": "打开"}"#)]);
        assert!(same.is_err(), "even an identical duplicate is one too many");
    }

    #[test]
    fn no_chinese_string_uses_a_rejected_variant() {
        let terms = glossary().expect("the glossary parses");
        assert!(terms.len() >= 10);
        let mut texts: Vec<(String, String)> = parse_tables()
            .unwrap()
            .into_iter()
            .map(|(en, zh)| (format!("UI {en:?}"), zh))
            .collect();
        for lesson in crate::lessons::builtin().expect("lessons parse") {
            for (at, text) in crate::lessons::texts(&lesson) {
                texts.push((at, text.zh.clone()));
            }
        }
        let mut bad = vec![];
        for (at, zh) in &texts {
            for (variant, chosen) in rejected_variants(zh, &terms) {
                bad.push(format!("{at}: {variant} (use {chosen})"));
            }
        }
        assert!(bad.is_empty(), "rejected variants:\n{}", bad.join("\n"));
        // The check itself: a variant is found, the chosen word around it is not.
        assert_eq!(rejected_variants("被挡住", &terms), [("挡住", "屏蔽")]);
        assert!(rejected_variants("早停（提前停止）", &terms).is_empty());
    }

    #[test]
    fn every_ui_string_has_both_languages() {
        let mut sources = vec![];
        rust_sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut sources,
        );
        let table = parse_tables().unwrap();
        let mut missing = vec![];
        for (file, text) in &sources {
            if file.ends_with("i18n.rs") {
                continue;
            }
            for key in keys_in_source(text) {
                if !table.contains_key(&key) {
                    missing.push(format!("{file}: {key:?}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "strings without a Chinese translation in assets/i18n/zh/*.json:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn switching_language_changes_text_live() {
        let table = parse_tables().unwrap();
        if let Some((en, zh)) = table.iter().next() {
            let key: &'static str = Box::leak(en.clone().into_boxed_str());
            set_language(Language::Zh);
            assert_eq!(tr(key), zh);
            set_language(Language::En);
            assert_eq!(tr(key), key);
        }
    }

    #[test]
    fn keys_are_found_in_source() {
        let src = r#"ui.label(tr("Causal mask")); x.attr("no"); trf("{} steps", &[&3]); tr(x); tr(
            "Long"
        ); said("opened {}", &[&p])"#;
        assert_eq!(
            keys_in_source(src),
            vec![
                "Causal mask".to_string(),
                "Long".to_string(),
                "{} steps".to_string(),
                "opened {}".to_string()
            ]
        );
    }

    #[test]
    fn said_text_follows_the_language_of_the_moment() {
        let line = said("opened {}", &[&"a/b.json"]);
        let nested = Said::Pattern(
            "could not start training: {}",
            vec![said("no path given", &[])],
        );
        let (zh, zh_nested) = (line.render_in(Language::Zh), nested.render_in(Language::Zh));
        assert_eq!(line.render_in(Language::En), "opened a/b.json");
        assert_eq!(zh, trf_in_zh("opened {}", "a/b.json"));
        assert_ne!(zh, line.render_in(Language::En), "{zh}");
        assert!(
            zh_nested.contains(chinese()["no path given"].as_str()),
            "{zh_nested}"
        );
        assert_eq!(Said::from("plain").render(), "plain");
    }

    fn trf_in_zh(pattern: &str, arg: &str) -> String {
        chinese()[pattern].replace("{}", arg)
    }
}
