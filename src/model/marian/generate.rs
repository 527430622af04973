//! Decoding exactly as transformers' `generate()` does for Marian: greedy
//! (`num_beams=1, do_sample=False`) and beam search (its vectorised algorithm: 2 x beams
//! candidates per step, length-normalised finished hypotheses, the `early_stopping=False`
//! stopping heuristic), with `bad_words_ids` banned and `</s>` forced at the last position.
//! Both run on the key/value cache, one step per token.

use candle_core::Tensor;

use super::{MarianModel, MarianResult};
use crate::masks::{MaskMethod, MaskSettings};
use crate::model::attention::AttnMask;
use crate::model::batch::{Batch, Example};
use crate::model::decoding::first_query_row;
use crate::model::limits;
use crate::model::pass::Pass;
use crate::model::seq2seq::DecoderCache;

/// transformers' stand-in for minus infinity in beam bookkeeping.
const VERY_NEGATIVE: f32 = -1.0e9;

struct Encoded {
    memory: Tensor,
    cross_mask: Option<AttnMask>,
}

impl MarianModel {
    fn encode_source(&self, src: &[u32]) -> MarianResult<Encoded> {
        let example = Example {
            src: src.to_vec(),
            tgt: vec![],
        };
        self.check_lengths(std::slice::from_ref(&example))?;
        let batch = Batch::with_specials(&[example], MaskSettings::default(), self.specials());
        let tensors = batch.tensors(self.device())?;
        let (memory, _) = self.model().encode(
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

    /// Next-token logits after `tokens` (which start with the decoder start token); the
    /// cache holds every earlier position and is extended by the last one.
    fn next_logits(
        &self,
        enc: &Encoded,
        cache: &mut DecoderCache,
        tokens: &[u32],
    ) -> MarianResult<Vec<f32>> {
        let position = tokens.len() - 1;
        let token = Tensor::new(&[[tokens[position]]], self.device())?;
        let out = self.model().decode_step(
            &token,
            position,
            &enc.memory,
            cache,
            enc.cross_mask.as_ref(),
            &Pass::eval(MaskMethod::Additive, false),
        )?;
        Ok(out.logits.squeeze(0)?.to_vec1::<f32>()?)
    }

    /// The logits processors `generate()` installs for Marian: banned ids (`<pad>`) and,
    /// at the last position `max_length` allows, only `</s>`.
    fn process(&self, scores: &mut [f32], len_so_far: usize) {
        for &id in &self.generation.banned {
            if let Some(s) = scores.get_mut(id as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        if let Some(eos) = self.generation.forced_eos
            && len_so_far + 1 == self.generation.max_length
        {
            scores.fill(f32::NEG_INFINITY);
            if let Some(s) = scores.get_mut(eos as usize) {
                *s = 0.0;
            }
        }
    }

    /// `generate(num_beams=1, do_sample=False)`: the decoder start token, the tokens, and
    /// `</s>` unless `max_length` cut it.
    pub fn greedy(&self, src: &[u32]) -> MarianResult<Vec<u32>> {
        let enc = self.encode_source(src)?;
        let mut cache = DecoderCache::default();
        let mut tokens = vec![self.config.decoder_start_token_id];
        while tokens.len() < self.generation.max_length {
            let mut logits = self.next_logits(&enc, &mut cache, &tokens)?;
            self.process(&mut logits, tokens.len());
            let next = first_argmax(&logits);
            tokens.push(next);
            if next == self.config.eos_token_id {
                break;
            }
        }
        Ok(tokens)
    }

    /// `generate(num_beams=width, do_sample=False, length_penalty=1.0)`'s best sequence.
    /// The width is 1 to [`MAX_BEAM_WIDTH`](crate::model::limits::MAX_BEAM_WIDTH).
    pub fn beam_search(&self, src: &[u32], width: usize) -> MarianResult<Vec<u32>> {
        limits::count("--beam-width", width, limits::MAX_BEAM_WIDTH)?;
        let keep = 2 * width;
        let eos = self.config.eos_token_id;
        let max_length = self.generation.max_length;
        let enc = self.encode_source(src)?;

        struct Running {
            tokens: Vec<u32>,
            score: f32,
            cache: DecoderCache,
        }
        let mut running: Vec<Running> = (0..width)
            .map(|i| Running {
                tokens: vec![self.config.decoder_start_token_id],
                score: if i == 0 { 0.0 } else { VERY_NEGATIVE },
                cache: DecoderCache::default(),
            })
            .collect();
        // Finished hypotheses: (length-normalised score, tokens, really finished).
        let mut finished: Vec<(f32, Vec<u32>, bool)> =
            (0..width).map(|_| (VERY_NEGATIVE, vec![], false)).collect();
        let mut improvable = true;
        let mut cur_len = 1;
        loop {
            // Accumulated log-probabilities of every (beam, token) continuation.
            let mut caches = Vec::with_capacity(width);
            let mut scored: Vec<(f32, usize, u32)> = vec![];
            for (b, beam) in running.iter_mut().enumerate() {
                let mut cache = beam.cache.clone();
                let logits = self.next_logits(&enc, &mut cache, &beam.tokens)?;
                caches.push(cache);
                let mut log_probs = log_softmax(&logits);
                self.process(&mut log_probs, cur_len);
                scored.extend(
                    log_probs
                        .iter()
                        .enumerate()
                        .map(|(tok, lp)| (lp + beam.score, b, tok as u32)),
                );
            }
            let top = top_k(scored, keep);
            let candidates: Vec<(f32, Vec<u32>, usize, bool)> = top
                .into_iter()
                .map(|(score, b, tok)| {
                    let mut tokens = running[b].tokens.clone();
                    tokens.push(tok);
                    let stops = tok == eos || tokens.len() >= max_length;
                    (score, tokens, b, stops)
                })
                .collect();

            // The best `width` continuations that did not stop keep running.
            let mut order: Vec<usize> = (0..candidates.len()).collect();
            let running_score =
                |i: usize| candidates[i].0 + if candidates[i].3 { VERY_NEGATIVE } else { 0.0 };
            order.sort_by(|&a, &b| running_score(b).total_cmp(&running_score(a)));
            let next_running: Vec<Running> = order
                .iter()
                .take(width)
                .map(|&i| Running {
                    tokens: candidates[i].1.clone(),
                    score: running_score(i),
                    cache: caches[candidates[i].2].clone(),
                })
                .collect();

            // Stopped continuations among the top `width` join the finished set.
            let generated = (cur_len + 1 - 1) as f32;
            let mut merged = std::mem::take(&mut finished);
            for (rank, (score, tokens, _, stops)) in candidates.iter().enumerate() {
                let just_finished = *stops && rank < width;
                let mut s = score / generated;
                if !improvable {
                    s += VERY_NEGATIVE;
                }
                if !just_finished {
                    s += VERY_NEGATIVE;
                }
                merged.push((s, tokens.clone(), just_finished));
            }
            let mut order: Vec<usize> = (0..merged.len()).collect();
            order.sort_by(|&a, &b| merged[b].0.total_cmp(&merged[a].0));
            finished = order
                .iter()
                .take(width)
                .map(|&i| merged[i].clone())
                .collect();
            running = next_running;
            cur_len += 1;

            let best_running = running[0].score / (cur_len - 1) as f32;
            let worst_finished = finished.iter().map(|f| f.0).fold(f32::INFINITY, f32::min);
            improvable = improvable
                && finished
                    .iter()
                    .any(|f| best_running > if f.2 { worst_finished } else { VERY_NEGATIVE });
            let all_stop = candidates.iter().all(|c| c.3);
            if !improvable || all_stop {
                break;
            }
        }
        Ok(finished.swap_remove(0).1)
    }
}

/// The first index of the largest value (as `torch.argmax`).
fn first_argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln() + max;
    logits.iter().map(|l| l - log_sum).collect()
}

/// The `k` best entries, best first (ties keep the earlier entry first, as `torch.topk`
/// does on the CPU for these sizes).
fn top_k(mut scored: Vec<(f32, usize, u32)>, k: usize) -> Vec<(f32, usize, u32)> {
    let by_score_then_order = |a: &(f32, usize, u32), b: &(f32, usize, u32)| {
        b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2)))
    };
    if scored.len() > k {
        scored.select_nth_unstable_by(k, by_score_then_order);
    }
    scored.truncate(k);
    scored.sort_by(by_score_then_order);
    scored.truncate(k);
    scored
}

impl MarianModel {
    /// The logits the key/value-cached decoder gives after each prefix of `tokens` (which
    /// start with the decoder start token): row `i` predicts `tokens[i + 1]`.
    pub fn incremental_logits(&self, src: &[u32], tokens: &[u32]) -> MarianResult<Vec<Vec<f32>>> {
        let enc = self.encode_source(src)?;
        let mut cache = DecoderCache::default();
        (1..=tokens.len())
            .map(|len| self.next_logits(&enc, &mut cache, &tokens[..len]))
            .collect()
    }
}
