//! The models that ship with the app (bytes from [`crate::bundled`]), their example rows,
//! and an untrained fallback for when they are missing.

use std::sync::OnceLock;

use crate::model::{Engine, ModelConfig};
use crate::tasks::{Pair, Task};
use crate::tokenizer::{TokenizerKind, Vocab};

/// One bundled model.
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

impl Bundled {
    pub fn by_name(name: &str) -> Option<Bundled> {
        ALL.into_iter().find(|b| b.name == name)
    }

    /// The checkpoint bytes, if the model is available (see [`crate::bundled::bytes`]).
    /// Looked up once per model: cheap to call every frame.
    pub fn bytes(self) -> Option<&'static [u8]> {
        static CACHE: OnceLock<[Option<&'static [u8]>; ALL.len()]> = OnceLock::new();
        let all = CACHE.get_or_init(|| ALL.map(|b| crate::bundled::bytes(b.name)));
        ALL.iter().position(|b| *b == self).and_then(|i| all[i])
    }

    /// Example rows for the inputs panel: different lengths, so padding shows.
    pub fn examples(self) -> Vec<Pair> {
        examples_for(self.task)
    }
}

/// Three example rows for a task, of different lengths.
pub fn examples_for(task: Task) -> Vec<Pair> {
    let pairs: &[(&str, &str)] = match task {
        Task::Dates => &[
            ("2026-11-28", "28 Nov 2026"),
            ("May 3, 1999", "3 May 1999"),
            ("07.01.2031", "7 Jan 2031"),
        ],
        Task::NumbersToWords => &[
            ("342017", "three hundred forty two thousand seventeen"),
            ("58", "fifty eight"),
            ("7", "seven"),
        ],
        Task::Copy => &[("abcjd", "abcjd"), ("hij", "hij"), ("abcdefgh", "abcdefgh")],
        Task::Reverse => &[("abcjd", "djcba"), ("hij", "jih"), ("abcdefgh", "hgfedcba")],
        Task::Sort => &[("cabjd", "abcdj"), ("hij", "hij"), ("jihgf", "fghij")],
        Task::NumbersToChinese => &[("10010", "一万零一十"), ("58", "五十八"), ("7", "七")],
    };
    pairs
        .iter()
        .map(|(s, t)| Pair {
            src: (*s).into(),
            tgt: (*t).into(),
        })
        .collect()
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
