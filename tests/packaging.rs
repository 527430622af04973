//! What the .deb and the window ship besides the binary: the icon at every size, the desktop
//! entry, the licences. `tools/build_deb.sh` checks the built package itself; these tests keep
//! its inputs right on every `cargo test`.

use std::path::{Path, PathBuf};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let text = std::fs::read_to_string(repo_file("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// (source, destination) of every asset the .deb installs.
fn deb_assets() -> Vec<(String, String)> {
    deb_metadata()["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            let fields = asset.as_array().unwrap();
            (
                fields[0].as_str().unwrap().to_string(),
                fields[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_window_icon_is_the_256_px_png() {
    let icon = maskscope::app::icon::window_icon();
    assert_eq!((icon.width, icon.height), (256, 256));
    assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    let alpha = |x: usize, y: usize| icon.rgba[(y * 256 + x) * 4 + 3];
    assert_eq!(alpha(0, 0), 0, "rounded corners are transparent");
    assert_eq!(alpha(128, 128), 255, "the mask grid is opaque");
}

#[test]
fn every_deb_asset_exists_and_each_icon_has_the_size_of_its_folder() {
    let mut icon_sizes = Vec::new();
    for (source, destination) in deb_assets() {
        if source == "target/release/maskscope" {
            continue; // built by `cargo build --release` just before `cargo deb`
        }
        assert!(repo_file(&source).is_file(), "{source} is missing");
        let Some(folder) = destination
            .strip_prefix("usr/share/icons/hicolor/")
            .and_then(|rest| rest.split('/').next())
        else {
            continue;
        };
        if folder == "scalable" {
            assert!(source.ends_with(".svg"), "{source}");
            continue;
        }
        let (width, height) = image::image_dimensions(repo_file(&source)).unwrap();
        assert_eq!(format!("{width}x{height}"), folder, "{source}");
        assert!(
            destination.ends_with("/apps/maskscope.png"),
            "{destination}"
        );
        icon_sizes.push(width);
    }
    // The sizes desktops ask for: menus (16-48), docks and switchers (64-256), HiDPI (512).
    icon_sizes.sort();
    assert_eq!(icon_sizes, [16, 24, 32, 48, 64, 128, 256, 512]);
}

#[test]
fn the_deb_ships_the_binary_the_desktop_entry_and_the_licences() {
    let assets = deb_assets();
    let installs = |source: &str, destination: &str| {
        assets
            .iter()
            .any(|(s, d)| s == source && d.starts_with(destination))
    };
    assert!(installs("target/release/maskscope", "usr/bin/"));
    assert!(installs(
        "assets/desktop/maskscope.desktop",
        "usr/share/applications/"
    ));
    assert!(installs(
        "assets/icon/maskscope.svg",
        "usr/share/icons/hicolor/scalable/"
    ));
    for licence in ["LICENSE-MIT", "LICENSE-APACHE", "assets/fonts/OFL.txt"] {
        assert!(installs(licence, "usr/share/doc/maskscope/"), "{licence}");
    }
}

#[test]
fn the_desktop_entry_starts_maskscope_with_its_icon_in_education_and_science() {
    let text = std::fs::read_to_string(repo_file("assets/desktop/maskscope.desktop")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= line"))
    };
    assert_eq!(text.lines().next(), Some("[Desktop Entry]"));
    assert_eq!(value("Type"), "Application");
    assert_eq!(value("Exec"), "maskscope");
    // Icon= names the hicolor icon the .deb installs, without extension.
    assert_eq!(value("Icon"), "maskscope");
    assert_eq!(value("Terminal"), "false");
    let categories: Vec<&str> = value("Categories").split_terminator(';').collect();
    assert!(categories.contains(&"Education") && categories.contains(&"Science"));
    // The window's app id (src/app/mod.rs) is what a dock matches to this entry.
    assert_eq!(value("StartupWMClass"), "maskscope");
}
