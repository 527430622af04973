//! English and Simplified Chinese in the real window: the switch in the top bar changes the
//! labels live and back, the bundled CJK font renders Chinese (snapshot), and the font covers
//! every character of the Chinese tables and lessons.
//!
//! The current language is process-wide, so every test that draws the app holds `LOCK`.
//! Update the snapshots with `UPDATE_SNAPSHOTS=1 cargo test --test app_i18n`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use maskscope::app::App;

mod common;
use maskscope::app::fonts::CJK_FONT;
use maskscope::app::settings::Settings;
use maskscope::i18n::{Language, set_language};
use skrifa::MetadataProvider;

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The app as `maskscope` opens it (bundled model, default settings).
fn harness() -> Harness<'static, App> {
    let mut harness = common::app();
    harness.run();
    harness
}

/// The fixed untrained model of tests/app_snapshots.rs, in `language`.
fn snapshot_harness(language: Language) -> Harness<'static, App> {
    common::snapshot_app(language)
}

fn options() -> SnapshotOptions {
    common::snapshot_options()
}

#[test]
fn the_language_switch_changes_labels_live_and_back() {
    let _guard = lock();
    let mut harness = harness();
    assert_eq!(harness.state().state().settings.language, Language::En);
    assert!(harness.query_by_label("Causal mask").is_some());
    assert!(harness.query_by_label("因果掩码").is_none());

    // Each language is offered under its own name.
    harness.get_by_label("简体中文").click();
    harness.run();
    assert_eq!(harness.state().state().settings.language, Language::Zh);
    assert!(
        harness.query_by_label("Causal mask").is_none(),
        "the English label is gone"
    );
    harness.get_by_label("因果掩码").click();
    harness.run();
    assert!(
        !harness.state().state().settings.mask.causal,
        "the Chinese checkbox is the same causal-mask switch"
    );
    // Tabs and headings follow too.
    harness
        .get_by_role_and_label(Role::Button, "注意力")
        .click();
    harness.run();
    assert!(harness.query_by_label("各头平均").is_some());

    harness.get_by_label("English").click();
    harness.run();
    assert_eq!(harness.state().state().settings.language, Language::En);
    assert!(harness.query_by_label("Mean over heads").is_some());
    assert!(harness.query_by_label("Causal mask").is_some());
    assert!(harness.query_by_label("因果掩码").is_none());
}

/// Messages written before a switch (the status line, the tokenizer's warnings under a row)
/// are shown in the new language: they are kept as what was said, not as English words.
#[test]
fn lines_already_shown_follow_a_language_switch() {
    let _guard = lock();
    let mut harness = harness();
    {
        let state = harness.state_mut().state_mut();
        state.open_bundled(maskscope::bundled_models::DATES);
        state.rows[0].src = "2026-11-28\u{e9}".into();
        state.invalidate();
    }
    harness.run();
    let opened = "opened the bundled dates model";
    assert!(harness.query_by_label_contains(opened).is_some());
    assert!(
        harness
            .query_by_label_contains("unknown character '\u{e9}' at position 10 became <unk>")
            .is_some()
    );

    harness.get_by_label("简体中文").click();
    harness.run();
    assert!(harness.query_by_label_contains(opened).is_none());
    let opened_zh = maskscope::i18n::trf("opened the bundled {} model", &[&"dates"]);
    assert_ne!(opened_zh, opened);
    assert!(harness.query_by_label_contains(&opened_zh).is_some());
    assert!(
        harness
            .query_by_label_contains("未知字符 '\u{e9}'")
            .is_some(),
        "the tokenizer's warning is in Chinese too"
    );

    harness.get_by_label("English").click();
    harness.run();
    assert!(harness.query_by_label_contains(opened).is_some());
}

#[test]
fn the_language_is_saved_with_the_settings() {
    let settings = Settings {
        language: Language::Zh,
        ..Settings::default()
    };
    let json = serde_json::to_string(&settings).unwrap();
    let back: Settings = serde_json::from_str(&json).unwrap();
    assert_eq!(back.language, Language::Zh);
    // Settings saved before the switch existed open in English.
    let old: Settings = serde_json::from_str("{}").unwrap();
    assert_eq!(old.language, Language::En);
}

#[test]
fn chinese_renders_with_the_bundled_font_in_every_family() {
    let _guard = lock();
    let harness = snapshot_harness(Language::Zh);
    let text: String = zh_tables().into_iter().collect();
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        let font = egui::FontId::new(14.0, family);
        let missing: BTreeSet<char> = harness.ctx.fonts_mut(|f| {
            text.chars()
                .filter(|c| !c.is_control() && !f.has_glyph(&font, *c))
                .collect()
        });
        assert!(missing.is_empty(), "no glyph in {font:?} for {missing:?}");
    }
    set_language(Language::En);
}

#[test]
fn masks_view_in_chinese() {
    let _guard = lock();
    let mut harness = snapshot_harness(Language::Zh);
    assert!(harness.query_by_label("因果掩码").is_some());
    harness.snapshot_options("app_masks_zh", &options());
    set_language(Language::En);
}

#[test]
fn finetune_view_in_chinese() {
    let _guard = lock();
    let mut harness = snapshot_harness(Language::Zh);
    harness.get_by_role_and_label(Role::Button, "微调").click();
    harness.run();
    assert!(harness.query_by_label("开始训练").is_some());
    harness.snapshot_options("app_finetune_zh", &options());
    set_language(Language::En);
}

/// Every translation in assets/i18n/zh/*.json.
fn zh_tables() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/i18n/zh");
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let table: std::collections::HashMap<String, String> =
                serde_json::from_str(&text).unwrap();
            out.extend(table.into_values());
        }
    }
    out
}

#[test]
fn bundled_font_covers_every_chinese_string() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("assets/i18n/zh"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.push(root.join("assets/lessons/lessons.json"));
    let mut chars = BTreeSet::new();
    for file in &files {
        chars.extend(std::fs::read_to_string(file).unwrap().chars());
    }
    // Plus what tools/subset_cjk_font.sh promises beyond the files.
    chars.extend("零一二三四五六七八九十百千万亿，。、：；？！（）“”《》".chars());

    let font = skrifa::FontRef::new(CJK_FONT).expect("the bundled font parses");
    let cmap = font.charmap();
    let missing: String = chars
        .iter()
        .filter(|c| !c.is_control() && cmap.map(**c).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "assets/fonts/NotoSansSC-maskscope.otf lacks {missing:?}: run tools/subset_cjk_font.sh"
    );
    // Common characters a user may type, beyond the app's own text (GB2312 level 1).
    for c in "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质".chars() {
        assert!(cmap.map(c).is_some(), "the font lacks the common character {c}");
    }
}
