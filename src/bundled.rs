//! The pretrained models shipped inside the binary, so the app starts with no download.
//! Each is reproducible by the `maskscope train` command recorded in its metadata and the README.

/// Names accepted wherever a model path is (`--model dates`).
pub const NAMES: [&str; 4] = ["dates", "numbers", "copy", "chinese"];

/// The checkpoint bytes of a bundled model.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    match name {
        "dates" => Some(include_bytes!("../assets/dates.safetensors")),
        "numbers" => Some(include_bytes!("../assets/numbers.safetensors")),
        "copy" => Some(include_bytes!("../assets/copy.safetensors")),
        "chinese" => Some(include_bytes!("../assets/chinese.safetensors")),
        _ => None,
    }
}
