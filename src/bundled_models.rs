//! The pretrained models shipped inside the binary, so the app starts with no download.
//! Each is reproducible by the `maskscope train` command recorded in its metadata and the
//! README. This is the one list of them: the CLI's `--model NAME` and the window's Bundled
//! menu both read [`ALL`].

use std::sync::OnceLock;

use crate::model::{Engine, ModelConfig};
use crate::tasks::Task;
use crate::tokenizer::{TokenizerKind, Vocab};

/// One bundled model: its name and the task it was trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bundled {
    pub name: &'static str,
    pub task: Task,
}

pub const DATES: Bundled = Bundled {
    name: "dates",
    task: Task::Dates,
};
pub const NUMBERS: Bundled = Bundled {
    name: "numbers",
    task: Task::NumbersToWords,
};
pub const COPY: Bundled = Bundled {
    name: "copy",
    task: Task::Copy,
};
pub const CHINESE: Bundled = Bundled {
    name: "chinese",
    task: Task::NumbersToChinese,
};

pub const ALL: [Bundled; 4] = [DATES, NUMBERS, COPY, CHINESE];

fn checkpoint(name: &str) -> Option<&'static [u8]> {
    match name {
        "dates" => Some(include_bytes!("../assets/dates.safetensors")),
        "numbers" => Some(include_bytes!("../assets/numbers.safetensors")),
        "copy" => Some(include_bytes!("../assets/copy.safetensors")),
        "chinese" => Some(include_bytes!("../assets/chinese.safetensors")),
        _ => None,
    }
}

impl Bundled {
    pub fn by_name(name: &str) -> Option<Bundled> {
        ALL.into_iter().find(|b| b.name == name)
    }

    /// The checkpoint bytes, if the model is available in this build. Looked up once per
    /// model: cheap to call every frame.
    pub fn bytes(self) -> Option<&'static [u8]> {
        static CACHE: OnceLock<[Option<&'static [u8]>; ALL.len()]> = OnceLock::new();
        let all = CACHE.get_or_init(|| ALL.map(|b| checkpoint(b.name)));
        ALL.iter().position(|b| *b == self).and_then(|i| all[i])
    }
}

/// The checkpoint bytes of the bundled model called `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    Bundled::by_name(name).and_then(Bundled::bytes)
}

/// Names accepted wherever a model path is (`--model dates`).
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|b| b.name).collect()
}

/// An untrained model with a character vocabulary covering `task`, for when no bundled model
/// is available. Its predictions are meaningless, but every view works.
pub fn random_model(task: Task) -> Engine {
    let pairs = task.generate(2000, 7);
    let vocab = Vocab::build(
        TokenizerKind::Char,
        pairs.iter().flat_map(|p| [p.src.as_str(), p.tgt.as_str()]),
    );
    let config = ModelConfig::small(TokenizerKind::Char, task.max_len().max(8));
    Engine::new_random(config, vocab, 7).expect("the small config is valid")
}

/// A bundled model is written by its name (in lessons), and reading an unknown name lists the
/// names there are.
impl serde::Serialize for Bundled {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl<'de> serde::Deserialize<'de> for Bundled {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Bundled::by_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown bundled model {name:?} (expected one of {})",
                names().join(", ")
            ))
        })
    }
}
