//! Where the model's named parameters come from: seeded random initialisation, tensors read
//! from a checkpoint, or shape-only placeholders used to list what a config needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, var_builder::SimpleBackend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Normal};

/// The model's trainable variables by checkpoint name, in name order.
pub type VarStore = Arc<Mutex<BTreeMap<String, Var>>>;

enum Source {
    /// Fresh values from a seeded generator, following each parameter's `Init` hint.
    Random(Box<Mutex<StdRng>>),
    /// Values read from a checkpoint (already validated by name and shape).
    Loaded(HashMap<String, Tensor>),
    /// Zero-cost placeholders: only names and shapes are recorded.
    ShapesOnly(Arc<Mutex<BTreeMap<String, Vec<usize>>>>),
}

struct Backend {
    vars: VarStore,
    source: Source,
}

impl Backend {
    fn values(&self, shape: &Shape, name: &str, init: Init, dev: &Device) -> Result<Tensor> {
        let n = shape.elem_count();
        let values: Vec<f32> = match &self.source {
            Source::Loaded(tensors) => {
                let t = tensors.get(name).ok_or_else(|| {
                    candle_core::Error::CannotFindTensor {
                        path: name.to_string(),
                    }
                    .bt()
                })?;
                if t.shape() != shape {
                    candle_core::bail!(
                        "tensor {name} has shape {:?}, expected {:?}",
                        t.shape(),
                        shape
                    )
                }
                return t.to_dtype(DType::F32)?.to_device(dev);
            }
            Source::ShapesOnly(_) => {
                return Tensor::zeros((), DType::F32, dev)?.broadcast_as(shape);
            }
            Source::Random(rng) => {
                let mut rng = rng.lock().expect("rng lock");
                match init {
                    Init::Const(c) => vec![c as f32; n],
                    Init::Uniform { lo, up } => (0..n)
                        .map(|_| rng.random_range(lo as f32..=up as f32))
                        .collect(),
                    Init::Randn { mean, stdev } => {
                        let normal = Normal::new(mean as f32, stdev as f32)
                            .map_err(candle_core::Error::wrap)?;
                        (0..n).map(|_| normal.sample(&mut *rng)).collect()
                    }
                    Init::Kaiming { .. } => {
                        candle_core::bail!("kaiming init is not used by this model")
                    }
                }
            }
        };
        Tensor::from_vec(values, shape, dev)
    }
}

impl SimpleBackend for Backend {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        _dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        if let Some(var) = self.vars.lock().expect("vars lock").get(name) {
            return Ok(var.as_tensor().clone());
        }
        let value = self.values(&shape, name, init, dev)?;
        if let Source::ShapesOnly(shapes) = &self.source {
            shapes
                .lock()
                .expect("shapes lock")
                .insert(name.to_string(), shape.dims().to_vec());
            return Ok(value);
        }
        let var = Var::from_tensor(&value)?;
        let tensor = var.as_tensor().clone();
        self.vars
            .lock()
            .expect("vars lock")
            .insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("parameter {name} must be requested with its shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars.lock().expect("vars lock").contains_key(name)
    }
}

fn builder<'a>(source: Source, device: &Device) -> (VarBuilder<'a>, VarStore) {
    let vars: VarStore = Arc::default();
    let backend = Backend {
        vars: vars.clone(),
        source,
    };
    (
        VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone()),
        vars,
    )
}

/// A builder whose parameters are initialised from `seed`.
pub fn random<'a>(seed: u64, device: &Device) -> (VarBuilder<'a>, VarStore) {
    builder(
        Source::Random(Box::new(Mutex::new(StdRng::seed_from_u64(seed)))),
        device,
    )
}

/// A builder serving the given checkpoint tensors.
pub fn loaded<'a>(tensors: HashMap<String, Tensor>, device: &Device) -> (VarBuilder<'a>, VarStore) {
    builder(Source::Loaded(tensors), device)
}

/// Runs `build` on placeholders and returns every parameter's name and shape.
pub fn shapes_of(
    build: impl FnOnce(VarBuilder) -> Result<()>,
) -> Result<BTreeMap<String, Vec<usize>>> {
    let shapes: Arc<Mutex<BTreeMap<String, Vec<usize>>>> = Arc::default();
    let (vb, _) = builder(Source::ShapesOnly(shapes.clone()), &Device::Cpu);
    build(vb)?;
    Ok(std::mem::take(&mut *shapes.lock().expect("shapes lock")))
}

/// Serves existing tensors by name (some of them detached), to build a second view of a
/// model over the same storage: frozen parameters detached means the backward pass never
/// computes their gradients (candle has no `requires_grad`).
struct Existing(HashMap<String, Tensor>);

impl SimpleBackend for Existing {
    fn get(&self, shape: Shape, name: &str, _: Init, _: DType, dev: &Device) -> Result<Tensor> {
        let t = self.get_unchecked(name, DType::F32, dev)?;
        if t.shape() != &shape {
            candle_core::bail!("{name}: shape {:?}, expected {shape:?}", t.shape());
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| candle_core::Error::CannotFindTensor { path: name.into() })
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A builder over `tensors` as they are (see [`Existing`]).
pub(crate) fn view_of<'a>(tensors: HashMap<String, Tensor>) -> VarBuilder<'a> {
    VarBuilder::from_backend(Box::new(Existing(tensors)), DType::F32, Device::Cpu)
}
