//! `Segmenter`: one loaded selfie-segmentation model on ONNX Runtime or tract.
//!
//! Only [`Segmenter::run`] needs the model; everything around it is pure
//! (`preprocess`, `postprocess`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::error::SegmentError;
use super::runtime::{ensure_onnxruntime, onnxruntime_environment};

/// Which inference engine runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum BackendKind {
    /// ONNX Runtime, loaded dynamically.
    Ort,
    /// tract, pure Rust.
    Tract,
}

impl BackendKind {
    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ort => "ort",
            Self::Tract => "tract",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the user asked for.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum BackendChoice {
    /// ONNX Runtime when its library is found, otherwise tract.
    #[default]
    Auto,
    /// ONNX Runtime only (an error if missing).
    Ort,
    /// tract only.
    Tract,
}

/// The two MediaPipe selfie-segmentation models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ModelKind {
    /// Square input 256x256, for 4:3 and square frames.
    General,
    /// 256x144 input, for 16:9 frames.
    Landscape,
}

impl ModelKind {
    /// Input (width, height).
    pub fn input_size(self) -> (u32, u32) {
        match self {
            Self::General => (256, 256),
            Self::Landscape => (256, 144),
        }
    }

    /// File name in `models/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::General => "selfie_segmentation.onnx",
            Self::Landscape => "selfie_segmentation_landscape.onnx",
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Landscape => "landscape",
        }
    }

    fn expected_input(self) -> String {
        let (w, h) = self.input_size();
        format!("[1,{h},{w},3]")
    }
}

/// Which model to use.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum ModelChoice {
    /// By the frame's aspect ratio: landscape for wide (16:9) frames, general otherwise.
    #[default]
    Auto,
    /// The square 256x256 model.
    General,
    /// The 144x256 model for 16:9.
    Landscape,
}

enum Engine {
    Ort(Box<ort::session::Session>),
    Tract(Arc<TypedRunnableModel>),
}

/// A loaded model with its reusable output buffer.
pub struct Segmenter {
    engine: Engine,
    kind: ModelKind,
    path: PathBuf,
    output: Vec<f32>,
}

impl Segmenter {
    /// Loads `kind` from `models_dir` with the chosen backend.
    pub fn load(
        models_dir: &Path,
        kind: ModelKind,
        choice: BackendChoice,
        threads: usize,
    ) -> Result<Self, SegmentError> {
        Self::load_path(&models_dir.join(kind.file_name()), kind, choice, threads)
    }

    /// Loads a model file, checking that it is the expected model.
    pub fn load_path(
        path: &Path,
        kind: ModelKind,
        choice: BackendChoice,
        threads: usize,
    ) -> Result<Self, SegmentError> {
        if !path.is_file() {
            return Err(SegmentError::ModelNotFound(path.to_path_buf()));
        }
        let engine = match choice {
            BackendChoice::Tract => Engine::Tract(load_tract(path, kind)?),
            BackendChoice::Ort => {
                ensure_onnxruntime().map_err(SegmentError::RuntimeUnavailable)?;
                Engine::Ort(Box::new(load_ort(path, kind, threads)?))
            }
            BackendChoice::Auto => match ensure_onnxruntime() {
                Ok(_) => Engine::Ort(Box::new(load_ort(path, kind, threads)?)),
                Err(why) => {
                    tracing::warn!(
                        "ONNX Runtime unavailable ({why}); using tract, which is several times slower"
                    );
                    Engine::Tract(load_tract(path, kind)?)
                }
            },
        };
        let (w, h) = kind.input_size();
        let mut seg = Self {
            engine,
            kind,
            path: path.to_path_buf(),
            output: Vec::with_capacity((w * h) as usize),
        };
        // A first run checks the output shape and warms the engine up.
        let zeros = vec![0.0f32; (w * h * 3) as usize];
        seg.run(&zeros)?;
        tracing::info!(backend = %seg.backend(), model = kind.name(), path = %path.display(), "segmentation model loaded");
        Ok(seg)
    }

    /// The engine in use.
    pub fn backend(&self) -> BackendKind {
        match self.engine {
            Engine::Ort(_) => BackendKind::Ort,
            Engine::Tract(_) => BackendKind::Tract,
        }
    }

    /// Which model this is.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Runs the model on an NHWC float32 RGB input in [0,1] of the model's input size;
    /// returns the person probability map (row-major, model input size).
    pub fn run(&mut self, input: &[f32]) -> Result<&[f32], SegmentError> {
        let (w, h) = self.kind.input_size();
        let n = (w * h) as usize;
        debug_assert_eq!(input.len(), n * 3);
        let backend = self.backend().name();
        let infer_err = |reason: String| SegmentError::Inference { backend, reason };
        self.output.clear();
        match &mut self.engine {
            Engine::Ort(session) => {
                let tensor = ort::value::TensorRef::from_array_view((
                    [1usize, h as usize, w as usize, 3],
                    input,
                ))
                .map_err(|e| infer_err(e.to_string()))?;
                let outputs = session
                    .run(ort::inputs![tensor])
                    .map_err(|e| infer_err(e.to_string()))?;
                let (_, data) = outputs[0]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| infer_err(e.to_string()))?;
                self.output.extend_from_slice(data);
            }
            Engine::Tract(plan) => {
                let tensor = Tensor::from_shape(&[1, h as usize, w as usize, 3], input)
                    .map_err(|e| infer_err(e.to_string()))?;
                let result = plan
                    .run(tvec!(tensor.into()))
                    .map_err(|e| infer_err(e.to_string()))?;
                let view = result[0]
                    .to_plain_array_view::<f32>()
                    .map_err(|e| infer_err(e.to_string()))?;
                self.output.extend(view.iter().copied());
            }
        }
        if self.output.len() != n {
            return Err(SegmentError::ModelShape {
                path: self.path.clone(),
                expected: format!("an output of {h}x{w} probabilities"),
                found: format!("{} output values", self.output.len()),
            });
        }
        Ok(&self.output)
    }
}

fn load_ort(
    path: &Path,
    kind: ModelKind,
    threads: usize,
) -> Result<ort::session::Session, SegmentError> {
    let invalid = |reason: String| SegmentError::ModelInvalid {
        path: path.to_path_buf(),
        backend: "ort",
        reason,
        expected: kind.expected_input(),
    };
    let (_, env) = onnxruntime_environment().map_err(SegmentError::RuntimeUnavailable)?;
    let builder = ort::session::Session::builder(&env).map_err(|e| invalid(e.to_string()))?;
    let builder = builder
        .with_intra_threads(threads.max(1))
        .map_err(|e| invalid(e.to_string()))?;
    let builder = builder
        .with_inter_threads(1)
        .map_err(|e| invalid(e.to_string()))?;
    let builder = builder
        .with_intra_op_spinning(false)
        .map_err(|e| invalid(e.to_string()))?;
    let mut builder = builder
        .with_inter_op_spinning(false)
        .map_err(|e| invalid(e.to_string()))?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| invalid(e.to_string()))?;
    let input = session
        .inputs()
        .first()
        .ok_or_else(|| invalid("the model has no inputs".into()))?;
    let shape: Vec<i64> = input
        .dtype()
        .tensor_shape()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    let (w, h) = kind.input_size();
    let ok = shape.len() == 4 && shape[1] == h as i64 && shape[2] == w as i64 && shape[3] == 3;
    if !ok {
        return Err(SegmentError::ModelShape {
            path: path.to_path_buf(),
            expected: format!("input float32 {}", kind.expected_input()),
            found: format!("input `{}` of shape {shape:?}", input.name()),
        });
    }
    Ok(session)
}

fn load_tract(path: &Path, kind: ModelKind) -> Result<Arc<TypedRunnableModel>, SegmentError> {
    let (w, h) = kind.input_size();
    let invalid = |reason: String| SegmentError::ModelInvalid {
        path: path.to_path_buf(),
        backend: "tract",
        reason,
        expected: kind.expected_input(),
    };
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(|e| invalid(format!("{e:#}")))?;
    let declared = model
        .input_fact(0)
        .map_err(|e| invalid(format!("{e:#}")))?
        .shape
        .as_concrete_finite()
        .ok()
        .flatten()
        .map(|s| s.to_vec());
    if let Some(shape) = declared
        && (shape.len() != 4 || shape[1] != h as usize || shape[2] != w as usize || shape[3] != 3)
    {
        return Err(SegmentError::ModelShape {
            path: path.to_path_buf(),
            expected: format!("input float32 {}", kind.expected_input()),
            found: format!("input of shape {shape:?}"),
        });
    }
    model
        .with_input_fact(0, f32::fact([1, h as usize, w as usize, 3]).into())
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| invalid(format!("{e:#}")))
}
