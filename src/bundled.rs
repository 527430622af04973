//! The pretrained models shipped inside the binary, so the app starts with no download.
//! Each is reproducible by the `maskscope train` command recorded in its metadata and the README.

/// Names accepted wherever a model path is (`--model dates`).
pub const NAMES: [&str; 4] = ["dates", "numbers", "copy", "chinese"];

/// The checkpoint bytes of a bundled model.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    match name {
        "dates" => Some(include_bytes!("../assets/dates.safetensors")),
        // TODO(lead): include_bytes! once these are trained.
        "numbers" | "copy" | "chinese" => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join(format!("{name}.safetensors"));
            std::fs::read(path).ok().map(|b| &*Box::leak(b.into_boxed_slice()))
        }
        _ => None,
    }
}
