//! Autoregressive decoding, one step at a time, with a key/value cache. Every step returns
//! what the newest position saw (its self-attention and cross-attention rows) and the
//! distribution it chose from.

use candle_core::{Device, Tensor};
use ndarray::Array3;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::attention::{AttnMask, AttnRecord};
use super::batch::{Example, Specials};
use super::engine::{Engine, ModelResult};
use super::limits;
use super::pass::Pass;
use super::seq2seq::DecoderCache;
use super::tracing::TokenSide;
use crate::masks::{MaskMethod, MaskSettings};
use crate::trace::{BeamHypothesis, StepTrace, TokenChance};

/// How many of the most likely next tokens each step keeps by name, for the chart.
pub const TOP_KEPT: usize = 20;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Strategy {
    #[default]
    Greedy,
    /// Sample from softmax(logits / temperature), optionally keeping only the `top_k` most
    /// likely tokens and / or the smallest set whose mass reaches `top_p`.
    Sample {
        temperature: f32,
        top_k: Option<usize>,
        top_p: Option<f32>,
        seed: u64,
    },
    /// Beam search with `width` hypotheses; the stepper replays the best one and keeps every
    /// step's beams in [`DecodeSession::beams`].
    Beam { width: usize },
}

impl Strategy {
    pub fn label(&self) -> String {
        match self {
            Strategy::Greedy => "greedy".into(),
            Strategy::Sample {
                temperature,
                top_k,
                top_p,
                ..
            } => {
                let mut s = format!("sample (T = {temperature:.2}");
                if let Some(k) = top_k {
                    s += &format!(", top-k {k}");
                }
                if let Some(p) = top_p {
                    s += &format!(", top-p {p:.2}");
                }
                s + ")"
            }
            Strategy::Beam { width } => format!("beam search (width {width})"),
        }
    }
}

/// Probabilities after temperature, top-k and top-p filtering (renormalised).
pub fn filtered_probs(
    logits: &[f32],
    temperature: f32,
    top_k: Option<usize>,
    top_p: Option<f32>,
) -> Vec<f32> {
    let t = temperature.max(1e-4);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<f32> = logits.iter().map(|l| ((l - max) / t).exp()).collect();
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let total: f32 = probs.iter().sum();
    let mut keep = order.len();
    if let Some(k) = top_k {
        keep = keep.min(k.max(1));
    }
    if let Some(p) = top_p {
        let mut mass = 0.0;
        for (rank, &i) in order.iter().enumerate() {
            mass += probs[i] / total;
            if mass >= p {
                keep = keep.min(rank + 1);
                break;
            }
        }
    }
    for &i in &order[keep..] {
        probs[i] = 0.0;
    }
    let kept: f32 = probs.iter().sum();
    probs.iter().map(|p| p / kept).collect()
}

fn argmax(values: &[f32]) -> u32 {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0 as u32
}

fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln() + max;
    logits.iter().map(|l| l - log_sum).collect()
}

/// The encoder's output for one source, ready for incremental steps.
struct Encoded {
    memory: Tensor,
    cross_mask: Option<AttnMask>,
}

fn encode_source(engine: &Engine, src: &[u32]) -> ModelResult<Encoded> {
    let batch = engine.batch(
        &[Example {
            src: src.to_vec(),
            tgt: vec![],
        }],
        MaskSettings::default(),
    );
    let tensors = batch.tensors(engine.device())?;
    let (memory, _) = engine.model().encode(
        &tensors.src,
        tensors.encoder_mask.as_ref(),
        &Pass::eval(MaskMethod::Additive, false),
    )?;
    Ok(Encoded {
        memory,
        cross_mask: tensors
            .cross_mask
            .map(|m| first_query_row(&m))
            .transpose()?,
    })
}

/// The cross mask of a one-token query: the first row of the teacher-forced one.
pub(crate) fn first_query_row(mask: &AttnMask) -> candle_core::Result<AttnMask> {
    Ok(AttnMask {
        additive: mask.additive.narrow(2, 0, 1)?,
        keep: mask.keep.narrow(2, 0, 1)?,
        open_rows: mask
            .open_rows
            .as_ref()
            .map(|o| o.narrow(2, 0, 1))
            .transpose()?,
    })
}

/// `(layer, head, key)` rows of the newest query from per-layer records `(1, heads, 1, keys)`.
fn newest_rows(records: &[AttnRecord]) -> candle_core::Result<Array3<f32>> {
    let stacked = Tensor::stack(
        &records
            .iter()
            .map(|r| r.weights.squeeze(0)?.squeeze(1))
            .collect::<candle_core::Result<Vec<_>>>()?,
        0,
    )?; // (layer, heads, keys)
    let (l, h, k) = stacked.dims3()?;
    Ok(
        Array3::from_shape_vec((l, h, k), stacked.flatten_all()?.to_vec1::<f32>()?)
            .expect("sizes match"),
    )
}

struct Running {
    cache: DecoderCache,
    logits: Vec<f32>,
    step: StepTrace,
}

/// Runs the decoder for `token` at `position` and returns its logits and trace rows.
fn run_step(
    engine: &Engine,
    enc: &Encoded,
    cache: &DecoderCache,
    input: &[u32],
    device: &Device,
) -> ModelResult<Running> {
    let mut cache = cache.clone();
    let position = input.len() - 1;
    let token = Tensor::new(&[[input[position]]], device)?;
    let out = engine.model().decode_step(
        &token,
        position,
        &enc.memory,
        &mut cache,
        enc.cross_mask.as_ref(),
        &Pass::eval(MaskMethod::Additive, true),
    )?;
    let mut logits = out.logits.squeeze(0)?.to_vec1::<f32>()?;
    for &id in engine.banned_ids() {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = f32::NEG_INFINITY;
        }
    }
    let step = StepTrace {
        position,
        input_ids: input.to_vec(),
        input_tokens: engine.token_names(input, TokenSide::Target),
        self_row: newest_rows(&out.decoder_self)?,
        cross_row: newest_rows(&out.cross)?,
        probs: vec![],
        top: vec![],
        chosen: 0,
        chosen_token: String::new(),
    };
    Ok(Running {
        cache,
        logits,
        step,
    })
}

/// A stateful stepper for the UI and CLI: step forward, step back, reset.
pub struct DecodeSession {
    pub src_ids: Vec<u32>,
    pub strategy: Strategy,
    enc: Encoded,
    /// Cache after each finished step (index 0 = before any step).
    caches: Vec<DecoderCache>,
    pub steps: Vec<StepTrace>,
    /// Sampling generator after each finished step (index 0 = the seeded start), kept like
    /// the caches so stepping back and forward again draws the same sample.
    rngs: Vec<StdRng>,
    /// For beam search: the tokens of the best hypothesis, replayed step by step.
    forced: Option<Vec<u32>>,
    /// For beam search: after each step of the search, every hypothesis still in the running
    /// and every finished one, best score first.
    pub beams: Vec<Vec<BeamHypothesis>>,
    max_steps: usize,
    start: u32,
    eos: u32,
}

impl DecodeSession {
    pub fn new(engine: &Engine, src_ids: &[u32], strategy: Strategy) -> ModelResult<Self> {
        let enc = encode_source(engine, src_ids)?;
        let seed = match strategy {
            Strategy::Sample { seed, .. } => seed,
            _ => 0,
        };
        let max_steps = engine.max_decode_steps();
        let (forced, beams) = match strategy {
            Strategy::Beam { width } => {
                limits::count("--beam-width", width, limits::MAX_BEAM_WIDTH)?;
                let (best, beams) = beam_search(engine, &enc, width, max_steps)?;
                (Some(best), beams)
            }
            _ => (None, vec![]),
        };
        Ok(Self {
            src_ids: src_ids.to_vec(),
            strategy,
            enc,
            caches: vec![DecoderCache::default()],
            steps: vec![],
            rngs: vec![StdRng::seed_from_u64(seed)],
            forced,
            beams,
            max_steps,
            start: engine.specials().start,
            eos: engine.specials().eos,
        })
    }

    /// Output ids so far (without `<bos>`, including `<eos>` if reached).
    pub fn output(&self) -> Vec<u32> {
        self.steps.iter().map(|s| s.chosen).collect()
    }

    pub fn finished(&self) -> bool {
        self.steps.last().is_some_and(|s| s.chosen == self.eos)
            || self.steps.len() >= self.max_steps
    }

    /// Decoder input for the next step: the start token + chosen tokens.
    fn next_input(&self) -> Vec<u32> {
        std::iter::once(self.start).chain(self.output()).collect()
    }

    /// Takes one step; returns `false` when decoding already finished.
    pub fn step(&mut self, engine: &Engine) -> ModelResult<bool> {
        if self.finished() {
            return Ok(false);
        }
        let input = self.next_input();
        let cache = self.caches.last().expect("initial cache");
        let Running {
            cache,
            logits,
            mut step,
        } = run_step(engine, &self.enc, cache, &input, engine.device())?;
        let mut rng = self.rngs.last().expect("initial generator").clone();
        let (probs, chosen) = match (&self.strategy, &self.forced) {
            (_, Some(forced)) => (
                filtered_probs(&logits, 1.0, None, None),
                forced.get(self.steps.len()).copied().unwrap_or(self.eos),
            ),
            (
                Strategy::Sample {
                    temperature,
                    top_k,
                    top_p,
                    ..
                },
                None,
            ) => {
                let probs = filtered_probs(&logits, *temperature, *top_k, *top_p);
                let chosen = sample(&probs, &mut rng);
                (probs, chosen)
            }
            _ => (filtered_probs(&logits, 1.0, None, None), argmax(&logits)),
        };
        step.top = most_likely(&probs, TOP_KEPT)
            .into_iter()
            .map(|id| TokenChance {
                id,
                token: engine.token_name(id, TokenSide::Target),
                prob: probs[id as usize],
            })
            .collect();
        step.probs = probs;
        step.chosen = chosen;
        step.chosen_token = engine.token_name(chosen, TokenSide::Target);
        self.caches.push(cache);
        self.rngs.push(rng);
        self.steps.push(step);
        Ok(true)
    }

    /// Undoes the last step (the cache is restored, so stepping again is exact).
    pub fn back(&mut self) -> bool {
        if self.steps.pop().is_some() {
            self.caches.pop();
            self.rngs.pop();
            true
        } else {
            false
        }
    }

    pub fn reset(&mut self) {
        self.steps.clear();
        self.caches.truncate(1);
        self.rngs.truncate(1);
    }

    /// Steps until `<eos>` or the length limit.
    pub fn run_to_end(&mut self, engine: &Engine) -> ModelResult<()> {
        while self.step(engine)? {}
        Ok(())
    }
}

/// Ids of the `k` largest values, largest first (ties: lower id first).
pub fn most_likely(values: &[f32], k: usize) -> Vec<u32> {
    let by_value = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..values.len()).collect();
    if order.len() > k {
        order.select_nth_unstable_by(k, by_value);
        order.truncate(k);
    }
    order.sort_by(by_value);
    order.into_iter().map(|i| i as u32).collect()
}

fn sample(probs: &[f32], rng: &mut StdRng) -> u32 {
    let r: f32 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if r < acc {
            return i as u32;
        }
    }
    argmax(probs)
}

/// Beam search with length-normalised scores (log-probability / length). Each step keeps the
/// `width` best unfinished hypotheses; a candidate ending in `<eos>` that ranks among the
/// `width` best moves to the finished list instead of taking a beam's place. The search stops
/// when no unfinished hypothesis can still beat the `width`-th best finished one (its score
/// can at most rise to `log_prob / max_steps`, as log-probabilities are never positive), or at
/// the length limit. Returns the best finished hypothesis (the best unfinished one if none
/// finished) and the hypotheses after every step.
fn beam_search(
    engine: &Engine,
    enc: &Encoded,
    width: usize,
    max_steps: usize,
) -> ModelResult<(Vec<u32>, Vec<Vec<BeamHypothesis>>)> {
    struct Hyp {
        tokens: Vec<u32>,
        log_prob: f32,
        cache: DecoderCache,
    }
    let Specials { start, eos, .. } = engine.specials();
    let score = |h: &Hyp| h.log_prob / h.tokens.len().max(1) as f32;
    let record = |h: &Hyp, finished: bool| BeamHypothesis {
        ids: h.tokens.clone(),
        tokens: engine.token_names(&h.tokens, TokenSide::Target),
        log_prob: h.log_prob,
        score: score(h),
        finished,
    };
    let mut beams = vec![Hyp {
        tokens: vec![],
        log_prob: 0.0,
        cache: DecoderCache::default(),
    }];
    let mut finished: Vec<Hyp> = vec![];
    let mut history = vec![];
    for _ in 0..max_steps {
        let mut candidates = vec![];
        for hyp in &beams {
            let input: Vec<u32> = std::iter::once(start)
                .chain(hyp.tokens.iter().copied())
                .collect();
            let Running { cache, logits, .. } =
                run_step(engine, enc, &hyp.cache, &input, engine.device())?;
            let log_probs = log_softmax(&logits);
            // `width + 1` per beam: enough for `width` unfinished ones even if one ends.
            for tok in most_likely(&log_probs, width + 1) {
                let mut tokens = hyp.tokens.clone();
                tokens.push(tok);
                candidates.push(Hyp {
                    tokens,
                    log_prob: hyp.log_prob + log_probs[tok as usize],
                    cache: cache.clone(),
                });
            }
        }
        candidates.sort_by(|a, b| score(b).total_cmp(&score(a)));
        beams.clear();
        for (rank, c) in candidates.into_iter().enumerate() {
            if beams.len() == width {
                break;
            }
            if c.tokens.last() == Some(&eos) {
                if rank < width {
                    finished.push(c);
                }
            } else {
                beams.push(c);
            }
        }
        finished.sort_by(|a, b| score(b).total_cmp(&score(a)));
        let mut snapshot: Vec<BeamHypothesis> = beams
            .iter()
            .map(|h| record(h, false))
            .chain(finished.iter().map(|h| record(h, true)))
            .collect();
        snapshot.sort_by(|a, b| b.score.total_cmp(&a.score));
        history.push(snapshot);
        let best_reachable = beams
            .iter()
            .map(|h| h.log_prob / max_steps as f32)
            .fold(f32::NEG_INFINITY, f32::max);
        let done = finished.len() >= width && score(&finished[width - 1]) >= best_reachable;
        if beams.is_empty() || done {
            break;
        }
    }
    let best = finished.into_iter().next().or_else(|| {
        beams
            .into_iter()
            .max_by(|a, b| score(a).total_cmp(&score(b)))
    });
    Ok((best.map(|h| h.tokens).unwrap_or_default(), history))
}

impl Engine {
    /// Decodes `src` to the end and returns the text plus every step.
    pub fn decode(&self, src: &str, strategy: Strategy) -> ModelResult<(String, DecodeSession)> {
        let ids = self.source_ids(src);
        let mut session = DecodeSession::new(self, &ids, strategy)?;
        session.run_to_end(self)?;
        Ok((self.text_of(&session.output()), session))
    }

    /// Greedy decoding of many sources at once (used for evaluation): one batched
    /// teacher-forced pass per step, no trace.
    pub fn greedy_batch(
        &self,
        sources: &[Vec<u32>],
        max_steps: usize,
    ) -> ModelResult<Vec<Vec<u32>>> {
        let mut outputs: Vec<Vec<u32>> = vec![vec![]; sources.len()];
        let mut done = vec![false; sources.len()];
        let settings = MaskSettings::default();
        let Specials { start, eos, .. } = self.specials();
        let batch = self.batch(
            &sources
                .iter()
                .map(|s| Example {
                    src: s.clone(),
                    tgt: vec![],
                })
                .collect::<Vec<_>>(),
            settings,
        );
        let tensors = batch.tensors(self.device())?;
        let pass = Pass::eval(MaskMethod::Additive, false);
        let (memory, _) =
            self.model()
                .encode(&tensors.src, tensors.encoder_mask.as_ref(), &pass)?;
        let mut cache = DecoderCache::default();
        let mut last = vec![start; sources.len()];
        let cross_mask = tensors
            .cross_mask
            .map(|m| first_query_row(&m))
            .transpose()?;
        for position in 0..max_steps {
            let token = Tensor::new(last.as_slice(), self.device())?.unsqueeze(1)?;
            let out = self.model().decode_step(
                &token,
                position,
                &memory,
                &mut cache,
                cross_mask.as_ref(),
                &pass,
            )?;
            let mut logits = out.logits;
            if !self.banned_ids().is_empty() {
                let vocab = logits.dim(1)?;
                let mut ban = vec![0f32; vocab];
                for &id in self.banned_ids() {
                    if let Some(b) = ban.get_mut(id as usize) {
                        *b = f32::NEG_INFINITY;
                    }
                }
                logits = logits.broadcast_add(&Tensor::from_vec(ban, vocab, self.device())?)?;
            }
            let next = logits.argmax(1)?.to_vec1::<u32>()?;
            for (b, &tok) in next.iter().enumerate() {
                if !done[b] {
                    outputs[b].push(tok);
                    done[b] = tok == eos;
                }
            }
            last = next;
            if done.iter().all(|d| *d) {
                break;
            }
        }
        Ok(outputs)
    }
}
