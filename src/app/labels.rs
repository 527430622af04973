//! The words of the model layer as the window shows them, in the current language. The
//! model layer keeps its English names for the CLI, exports and files; the app translates
//! them here, at the display site.

use crate::app::colormap::Colormap;
use crate::app::settings::{StrategyKind, ViewId};
use crate::i18n::{tr, trf};
use crate::masks::{Cell, MaskMethod};
use crate::model::engine::ModelSummary;
use crate::model::groups::Group;
use crate::model::leaks::LeakProblem;
use crate::tasks::Task;
use crate::tokenizer::TokenizerKind;
use crate::trace::AttentionKind;

/// Why a mask cell is open or blocked (hover text).
pub fn cell_reason(cell: Cell) -> &'static str {
    match cell {
        Cell::Open => tr("open: the query may attend to this key"),
        Cell::Future => tr("blocked: future token (causal mask)"),
        Cell::Padding => tr("blocked: the key is padding"),
        Cell::Both => tr("blocked: future token and padding"),
    }
}

pub fn mask_method(method: MaskMethod) -> &'static str {
    match method {
        MaskMethod::Additive => tr("additive before softmax"),
        MaskMethod::Multiply => tr("multiply after softmax"),
        MaskMethod::None => tr("none"),
    }
}

pub fn attention_kind(kind: AttentionKind) -> &'static str {
    match kind {
        AttentionKind::EncoderSelf => tr("encoder self-attention"),
        AttentionKind::DecoderSelf => tr("decoder self-attention (masked)"),
        AttentionKind::Cross => tr("cross-attention"),
    }
}

pub fn group(group: Group) -> String {
    match group {
        Group::SourceEmbedding => tr("source embedding").to_owned(),
        Group::TargetEmbedding => tr("target embedding").to_owned(),
        Group::EncoderLayer(i) => trf("encoder layer {}", &[&i]),
        Group::DecoderSelfAttention(i) => trf("decoder layer {}: self-attention", &[&i]),
        Group::DecoderCrossAttention(i) => trf("decoder layer {}: cross-attention", &[&i]),
        Group::DecoderFeedForward(i) => trf("decoder layer {}: feed-forward", &[&i]),
        Group::FinalNorms => tr("final norms").to_owned(),
        Group::Head => tr("output head").to_owned(),
    }
}

/// A task's name for people (the CLI name stays `Task::name`).
pub fn task_name(task: Task) -> &'static str {
    match task {
        Task::Copy => tr("copy"),
        Task::Reverse => tr("reverse"),
        Task::Sort => tr("sort"),
        Task::Dates => tr("dates"),
        Task::NumbersToWords => tr("numbers to words"),
        Task::NumbersToChinese => tr("numbers to Chinese"),
    }
}

pub fn task_description(task: Task) -> &'static str {
    match task {
        Task::Copy => tr("Copy a string of letters a-j: abcjd -> abcjd"),
        Task::Reverse => tr("Reverse a string of letters a-j: abcjd -> djcba"),
        Task::Sort => tr("Sort the letters of a string: cabjd -> abcdj"),
        Task::Dates => {
            tr("Normalise a date written in one of five formats: November 28, 2026 -> 28 Nov 2026")
        }
        Task::NumbersToWords => tr(
            "Spell out a number in English: 342017 -> three hundred forty two thousand seventeen",
        ),
        Task::NumbersToChinese => tr("Write a number in Chinese numerals: 10010 -> 一万零一十"),
    }
}

pub fn strategy_kind(kind: StrategyKind) -> &'static str {
    match kind {
        StrategyKind::Greedy => tr("greedy"),
        StrategyKind::Temperature => tr("temperature sampling"),
        StrategyKind::TopK => tr("top-k sampling"),
        StrategyKind::TopP => tr("top-p (nucleus) sampling"),
        StrategyKind::Beam => tr("beam search"),
    }
}

pub fn colormap(colormap: Colormap) -> &'static str {
    match colormap {
        Colormap::Viridis => tr("viridis"),
        Colormap::Cividis => tr("cividis"),
        Colormap::Grayscale => tr("grayscale (print)"),
    }
}

pub fn tokenizer_kind(kind: TokenizerKind) -> &'static str {
    match kind {
        TokenizerKind::Char => tr("char"),
        TokenizerKind::Word => tr("word"),
    }
}

/// The model line of the top bar: its shape, tokenizer and limits.
pub fn model_summary(s: &ModelSummary) -> String {
    let norm = if s.norm_first { "pre-LN" } else { "post-LN" };
    match s.tokenizer {
        Some(kind) => trf(
            "d_model {} | {} heads | {}+{} layers | d_ff {} | {} | {} vocab {} | max {} tokens",
            &[
                &s.d_model,
                &s.heads.0,
                &s.layers.0,
                &s.layers.1,
                &s.d_ff.0,
                &norm,
                &tokenizer_kind(kind),
                &s.vocab.0,
                &s.max_len,
            ],
        ),
        None => trf(
            "Marian translator | d_model {} | {}+{} heads | {}+{} layers | d_ff {}+{} | {} | SentencePiece vocab {} / {} | max {} tokens | {} M parameters",
            &[
                &s.d_model,
                &s.heads.0,
                &s.heads.1,
                &s.layers.0,
                &s.layers.1,
                &s.d_ff.0,
                &s.d_ff.1,
                &norm,
                &s.vocab.0,
                &s.vocab.1,
                &s.max_len,
                &format!("{:.1}", s.parameters as f64 / 1e6),
            ],
        ),
    }
}

/// Why a leak readout is missing.
pub fn leak_problem(problem: &LeakProblem) -> String {
    match problem {
        LeakProblem::Failed(e) => trf("leak readouts failed: {}", &[e]),
        LeakProblem::CannotPad => {
            tr("the row is already at the model's maximum length, so it cannot be padded").into()
        }
        LeakProblem::PaddingFailed(e) => trf("padding readout failed: {}", &[e]),
        LeakProblem::FutureFailed(e) => trf("future-token readout failed: {}", &[e]),
        LeakProblem::NonFinite => {
            tr("the model's outputs hold NaN or infinite values, so no leak can be measured").into()
        }
    }
}

/// The title of a view's tab.
pub fn view_title(view: ViewId) -> &'static str {
    match view {
        ViewId::Masks => tr("Masks"),
        ViewId::Attention => tr("Attention"),
        ViewId::Decoder => tr("Decoder"),
        ViewId::Finetune => tr("Fine-tune"),
    }
}
