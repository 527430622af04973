//! The window's code points one way (the layers are listed in `src/app/mod.rs`): a file may
//! import from its own layer and the ones below it, never from a higher one. This reads every
//! `use` path and every `crate::app::...`, `super::...` and `self::...` path outside the unit
//! tests of each file under `src/app`, and names the file and line of each upward import.

use std::path::{Path, PathBuf};

/// Layer of a module by its first path component under `app` (`""`: `app` itself, whose
/// re-exports count as the top). Files directly in `app/` not listed here are plain data.
fn layer(top: &str) -> (u8, &'static str) {
    match top {
        "state" => (2, "state"),
        "widgets" | "views" => (3, "widgets and views"),
        "actions" => (4, "actions"),
        "window" | "render" | "" => (5, "window"),
        _ => (1, "plain data"),
    }
}

/// The module path of a file relative to `src/app`: `views/masks.rs` -> `[views, masks]`,
/// `state/mod.rs` -> `[state]`, `mod.rs` -> `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Whether `app/<top>` is a module (else it is a re-export of `app`, which counts as the top).
fn is_module(app_dir: &Path, top: &str) -> bool {
    app_dir.join(format!("{top}.rs")).is_file() || app_dir.join(top).join("mod.rs").is_file()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first identifier of each item of a `{a, b::c, d::{e, f}}` list starting at `s[0] == '{'`.
fn brace_items(s: &str) -> Vec<&str> {
    let (mut depth, mut items, mut start) = (0, vec![], 1);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                items.push(ident_at(s[start..i].trim_start()));
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    items.into_iter().filter(|i| !i.is_empty()).collect()
}

/// `(line, imported module's first component)` for every app path in `code`, the source of
/// the file whose module path is `module`.
fn imports(code: &str, module: &[String]) -> Vec<(usize, String)> {
    let mut found = vec![];
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut push_from = |offset: usize, base: &[String], rest: &str| {
        let tops: Vec<String> = if rest.starts_with('{') {
            brace_items(rest).into_iter().map(str::to_owned).collect()
        } else {
            vec![ident_at(rest).to_owned()]
        };
        for item in tops {
            // The first component under `app` of `base::item`.
            let top = base.first().cloned().unwrap_or(item);
            found.push((line_of(offset), top));
        }
    };
    for (offset, _) in code.match_indices("crate::app::") {
        push_from(offset, &[], &code[offset + "crate::app::".len()..]);
    }
    for (offset, _) in code.match_indices("super::") {
        if code[..offset].ends_with("super::") {
            continue; // counted from the first `super::` of a chain
        }
        let mut rest = &code[offset..];
        let mut base = module.to_vec();
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        push_from(offset, &base, rest);
    }
    for (offset, _) in code.match_indices("self::") {
        let before = code[..offset].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        push_from(offset, module, &code[offset + "self::".len()..]);
    }
    found
}

/// The code of a file up to its unit tests (which may import anything), without comments.
fn code_without_tests(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every import in `text` (the file `rel` under `app_dir`) from a layer above the file's own.
fn upward_imports(app_dir: &Path, rel: &Path, text: &str) -> Vec<String> {
    let module = module_of(rel);
    let own_top = module.first().map_or("", String::as_str);
    let (own, own_name) = layer(own_top);
    let mut found = imports(&code_without_tests(text), &module);
    found.sort();
    found
        .into_iter()
        .filter_map(|(line, top)| {
            let top = if is_module(app_dir, &top) { top } else { String::new() };
            let (theirs, their_name) = layer(&top);
            (theirs > own).then(|| {
                format!(
                    "src/app/{}:{line}: `{own_top}` (layer {own}, {own_name}) imports `app::{top}` (layer {theirs}, {their_name})",
                    rel.display()
                )
            })
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/app is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app")
}

#[test]
fn no_file_in_the_app_imports_from_a_higher_layer() {
    let app = app_dir();
    let mut files = vec![];
    rust_files(&app, &mut files);
    assert!(files.len() > 20, "found the app's files: {files:?}");
    let mut problems = vec![];
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let rel = file.strip_prefix(&app).expect("under src/app");
        problems.extend(upward_imports(&app, rel, &text));
    }
    assert!(
        problems.is_empty(),
        "imports that point up a layer:\n{}",
        problems.join("\n")
    );
}

/// The check itself finds what it should: an upward import in any of the path forms, with
/// its line, and nothing in comments, unit tests or downward imports.
#[test]
fn the_check_names_the_file_and_line_of_an_upward_import() {
    let app = app_dir();
    let text = "//! uses crate::app::window in a comment\n\
                use super::labels;\n\
                use super::{actions, settings};\n\
                fn f() { crate::app::views::inputs::draw(); }\n\
                #[cfg(test)]\nmod tests { use crate::app::window::App; }\n";
    // `super::` of `state/runs.rs` is `state`: only the views import points up.
    let found = upward_imports(&app, Path::new("state/runs.rs"), text);
    assert_eq!(
        found,
        vec![
            "src/app/state/runs.rs:4: `state` (layer 2, state) imports `app::views` (layer 3, widgets and views)"
        ]
    );
    let found = upward_imports(&app, Path::new("labels.rs"), text);
    assert_eq!(
        found,
        vec![
            "src/app/labels.rs:3: `labels` (layer 1, plain data) imports `app::actions` (layer 4, actions)",
            "src/app/labels.rs:4: `labels` (layer 1, plain data) imports `app::views` (layer 3, widgets and views)",
        ]
    );
    let found = upward_imports(
        &app,
        Path::new("views/masks.rs"),
        "use super::super::window::App;\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("masks.rs:1"), "{found:?}");
    let found = upward_imports(&app, Path::new("state/mod.rs"), "use crate::app::App;\n");
    assert_eq!(
        found.len(),
        1,
        "a re-export of app counts as the top: {found:?}"
    );
}
