//! Runtime state of the autoregressive stepper: a decode session that follows the selected
//! source, the strategy and the model's weights.

use crate::i18n::trf;
use crate::model::Engine;
use crate::model::decoding::{DecodeSession, Strategy};
use crate::trace::StepTrace;

/// What a session was built from; a change rebuilds it.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    src_ids: Vec<u32>,
    strategy: Strategy,
    engine_generation: u64,
}

#[derive(Default)]
pub struct Stepper {
    session: Option<DecodeSession>,
    key: Option<Key>,
    pub playing: bool,
    /// `ctx` time of the last automatic step.
    pub last_tick: f64,
    pub error: Option<String>,
}

impl Stepper {
    /// Makes sure the session matches the inputs. After a weights change the same number of
    /// steps is replayed, so the view follows live training without jumping back.
    pub fn sync(
        &mut self,
        engine: &Engine,
        src_ids: &[u32],
        strategy: Strategy,
        engine_generation: u64,
    ) {
        let key = Key {
            src_ids: src_ids.to_vec(),
            strategy,
            engine_generation,
        };
        if self.key.as_ref() == Some(&key) && self.session.is_some() {
            return;
        }
        let replay = match &self.key {
            Some(old) if old.src_ids == key.src_ids && old.strategy == key.strategy => {
                self.steps().len()
            }
            _ => 0,
        };
        self.key = Some(key);
        self.error = None;
        match DecodeSession::new(engine, src_ids, strategy) {
            Ok(mut session) => {
                for _ in 0..replay {
                    if let Err(e) = session.step(engine) {
                        self.error = Some(e.to_string());
                        break;
                    }
                }
                self.session = Some(session);
            }
            Err(e) => {
                self.session = None;
                self.playing = false;
                self.error = Some(trf("could not start decoding: {}", &[&e]));
            }
        }
    }

    /// Takes one step; `false` when decoding had already finished (or failed).
    pub fn step(&mut self, engine: &Engine) -> bool {
        let Some(session) = &mut self.session else {
            return false;
        };
        match session.step(engine) {
            Ok(stepped) => {
                if !stepped {
                    self.playing = false;
                }
                stepped
            }
            Err(e) => {
                self.error = Some(e.to_string());
                self.playing = false;
                false
            }
        }
    }

    pub fn back(&mut self) -> bool {
        self.playing = false;
        self.session.as_mut().is_some_and(DecodeSession::back)
    }

    pub fn reset(&mut self) {
        self.playing = false;
        if let Some(s) = &mut self.session {
            s.reset();
        }
    }

    pub fn session(&self) -> Option<&DecodeSession> {
        self.session.as_ref()
    }

    pub fn steps(&self) -> &[StepTrace] {
        self.session.as_ref().map_or(&[], |s| s.steps.as_slice())
    }

    pub fn finished(&self) -> bool {
        self.session.as_ref().is_some_and(DecodeSession::finished)
    }

    /// Rows of the causal mask the decoder has used so far (one per step).
    pub fn mask_rows(&self) -> usize {
        self.steps().last().map_or(0, |s| s.input_ids.len())
    }
}
