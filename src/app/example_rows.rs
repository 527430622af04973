//! Example rows for the inputs panel, per task: three of different lengths, so padding shows.

use crate::tasks::{Pair, Task};

/// Three example rows for a task, of different lengths.
pub fn for_task(task: Task) -> Vec<Pair> {
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
    to_pairs(pairs)
}

/// Three English-Chinese rows for a translator (from `assets/data/en-zh.tsv`), of different
/// lengths. Shown when a Marian model replaces a character model, whose rows mean nothing to it.
pub fn for_translator() -> Vec<Pair> {
    to_pairs(&[
        ("She sees the small elephant.", "她看见那头小象。"),
        ("I like green tea.", "我喜欢绿茶。"),
        (
            "The cat sleeps on the warm chair.",
            "猫在温暖的椅子上睡觉。",
        ),
    ])
}

fn to_pairs(pairs: &[(&str, &str)]) -> Vec<Pair> {
    pairs
        .iter()
        .map(|(s, t)| Pair {
            src: (*s).into(),
            tgt: (*t).into(),
        })
        .collect()
}
