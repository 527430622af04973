//! The pretrained models shipped inside the binary, so the app starts with no download.

/// Names accepted wherever a model path is (`--model dates`).
pub const NAMES: [&str; 4] = ["dates", "numbers", "copy", "chinese"];

/// The checkpoint bytes of a bundled model.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    // TODO(lead): include_bytes! once assets/*.safetensors are trained.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(format!("{name}.safetensors"));
    if !NAMES.contains(&name) {
        return None;
    }
    std::fs::read(path)
        .ok()
        .map(|b| &*Box::leak(b.into_boxed_slice()))
}
