//! The seal classifier: a live image of a seal edge against its recipe's reference (DESIGN.md).
//!
//! With the encoder/head pair beside the full model, each recipe's reference is encoded once and a part
//! costs one encoder run plus one head run; otherwise each part runs the full pair graph. All parts of
//! a fixture cycle go through as one batch. Input buffers live as long as the classifier.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::RunOptions;
use ort::value::TensorRef;

use super::{companion, SealConfig, SealContract};
use crate::inspect::output_check::OutputError;
use crate::inspect::preprocess::Preprocessor;
use crate::inspect::{InspectError, ModelIdentity};
use crate::model::manifest::TensorSpec;
use crate::model::{GraphRole, LoadedModel};
use crate::runtime::Runtime;
use crate::sources::replay::read_rgb;
use crate::sources::{Frame, FrameInfo, PixelFormat};

/// A reference image file is read for its SHA-256 within the image decoder's file bound.
const REFERENCE_MAX_BYTES: u64 = 64 << 20;

// One engine per classifier, built once: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Full { model: LoadedModel, ref_inputs: HashMap<Arc<str>, Vec<f32>> },
    Split { encoder: LoadedModel, head: LoadedModel, emb_len: usize, ref_embeddings: HashMap<Arc<str>, Vec<f32>> },
}

/// The seal model (full graph, or encoder + head) with every recipe's reference prepared.
pub struct SealClassifier {
    engine: Engine,
    pre: Preprocessor,
    default_recipe: Arc<str>,
    threshold: f32,
    identity: ModelIdentity,
    /// SHA-256 of each recipe's reference image file, named in the record of every part judged against it.
    reference_sha: HashMap<Arc<str>, Arc<str>>,
    /// The default recipe's reference, for the self-test of a freshly loaded model.
    self_test_frame: Option<Frame>,
    /// Batch buffers, grown to the largest batch seen and then reused.
    image_buf: Vec<f32>,
    ref_buf: Vec<f32>,
    /// Every run goes through these: a load that overruns its deadline is terminated through them.
    run_options: Arc<RunOptions>,
}

impl SealClassifier {
    /// Loads the model (and its encoder/head pair when present and wanted) and encodes every recipe's
    /// reference. `references` maps recipe names to image paths.
    pub fn load(
        rt: &Runtime,
        cfg: &SealConfig,
        model_path: &Path,
        references: &BTreeMap<String, PathBuf>,
    ) -> Result<Self, InspectError> {
        let run_options = Arc::new(RunOptions::new()?);
        Self::load_with(rt, cfg, model_path, references, run_options)
    }

    /// `load`, with every model run (reference encoding, self-test, parts) under `run_options`, which
    /// another thread may terminate.
    pub fn load_with(
        rt: &Runtime,
        cfg: &SealConfig,
        model_path: &Path,
        references: &BTreeMap<String, PathBuf>,
        run_options: Arc<RunOptions>,
    ) -> Result<Self, InspectError> {
        let full = LoadedModel::load(rt, model_path, &SealContract, GraphRole::Full)?;
        let image_spec = full.manifest.input("image").ok_or(OutputError::NoInput("image"))?.clone();
        let pre = Preprocessor::new(&image_spec)?;
        let threshold = cfg.threshold.or(full.manifest.threshold("ng")).unwrap_or(0.5);
        let mut identity = ModelIdentity {
            name: full.manifest.name.clone(),
            version: full.manifest.version.clone(),
            sha256: full.sha256.clone(),
            provider: full.provider,
            graph: "full",
        };
        let engine = match Self::load_split(rt, &full, model_path, cfg.use_split) {
            Some((encoder, head)) => {
                let emb_len = encoder.manifest.output("embedding").and_then(TensorSpec::fixed_len).unwrap_or(0);
                if emb_len == 0 {
                    return Err(OutputError::EmbeddingNotFixed.into());
                }
                identity.graph = "split";
                identity.provider = encoder.provider;
                Engine::Split { encoder, head, emb_len, ref_embeddings: HashMap::new() }
            }
            None => Engine::Full { model: full, ref_inputs: HashMap::new() },
        };
        let mut me = Self {
            engine,
            pre,
            default_recipe: cfg.recipe.as_str().into(),
            threshold,
            identity,
            reference_sha: HashMap::new(),
            self_test_frame: None,
            image_buf: Vec::new(),
            ref_buf: Vec::new(),
            run_options,
        };
        for (name, path) in references {
            me.add_reference(name, path)?;
        }
        if !me.has_recipe(&me.default_recipe.clone()) {
            return Err(InspectError::UnknownRecipe(me.default_recipe.to_string()));
        }
        Ok(me)
    }

    /// The encoder/head pair when both are present, valid, and carry the full model's weights.
    fn load_split(rt: &Runtime, full: &LoadedModel, path: &Path, wanted: bool) -> Option<(LoadedModel, LoadedModel)> {
        if !wanted {
            return None;
        }
        let (enc_path, head_path) = (companion(path, "encoder"), companion(path, "head"));
        if !enc_path.is_file() || !head_path.is_file() {
            log::info!("{}: no encoder/head pair beside it; every part runs the full graph", path.display());
            return None;
        }
        let load = |p: &Path, role| LoadedModel::load(rt, p, &SealContract, role);
        match (load(&enc_path, GraphRole::Encoder), load(&head_path, GraphRole::Head)) {
            (Ok(e), Ok(h)) => {
                let same = |m: &LoadedModel| {
                    m.manifest.weights_sha256.is_some()
                        && m.manifest.weights_sha256 == full.manifest.weights_sha256
                        && m.manifest.version == full.manifest.version
                };
                if same(&e) && same(&h) {
                    Some((e, h))
                } else {
                    log::warn!(
                        "{}: encoder/head pair has other weights than the full model; using the full graph",
                        path.display()
                    );
                    None
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                log::warn!("encoder/head pair refused, using the full graph: {e}");
                None
            }
        }
    }

    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    fn has_recipe(&self, recipe: &str) -> bool {
        match &self.engine {
            Engine::Full { ref_inputs, .. } => ref_inputs.contains_key(recipe),
            Engine::Split { ref_embeddings, .. } => ref_embeddings.contains_key(recipe),
        }
    }

    /// Reads a recipe's reference image and prepares it (encodes it once in split mode).
    fn add_reference(&mut self, recipe: &str, path: &Path) -> Result<(), InspectError> {
        let (width, height, data) =
            read_rgb(path).map_err(|source| InspectError::Reference { recipe: recipe.into(), source })?;
        let frame = Frame::still(width, height, PixelFormat::Rgb8, data).named(path.display().to_string());
        let mut input = vec![0f32; self.pre.len()];
        self.pre.write(&frame, &mut input)?;
        let key: Arc<str> = recipe.into();
        let sha = crate::model::file_sha256(path, REFERENCE_MAX_BYTES)
            .map_err(|source| InspectError::ReferenceFile { recipe: recipe.into(), source })?;
        self.reference_sha.insert(key.clone(), sha.into());
        if key == self.default_recipe {
            let mut f = frame.clone();
            f.info = Arc::new(FrameInfo { recipe: Some(key.clone()), ..(*frame.info).clone() });
            self.self_test_frame = Some(f);
        }
        let shape = [1, self.pre.channels(), self.pre.height as usize, self.pre.width as usize];
        match &mut self.engine {
            Engine::Full { ref_inputs, .. } => {
                ref_inputs.insert(key, input);
            }
            Engine::Split { encoder, ref_embeddings, emb_len, .. } => {
                let t = TensorRef::from_array_view((shape, &input[..]))?;
                let out = encoder.session.run_with_options(ort::inputs!["image" => t], &*self.run_options)?;
                let (_, emb) = out["embedding"].try_extract_tensor::<f32>()?;
                if emb.len() != *emb_len {
                    return Err(OutputError::EmbeddingSize { got: emb.len(), expected: *emb_len }.into());
                }
                ref_embeddings.insert(key, emb.to_vec());
            }
        }
        Ok(())
    }

    /// SHA-256 of the reference `frame` is judged against (its recipe's, or the configured recipe's).
    pub fn reference_sha(&self, frame: &Frame) -> Option<Arc<str>> {
        let recipe = frame.info.recipe.as_ref().unwrap_or(&self.default_recipe);
        self.reference_sha.get(recipe).cloned()
    }

    /// The self-test (`self_test`) on the default recipe's reference: itself OK, with a drawn crack NG.
    /// Catches a file that loads but does not judge (a constant graph, wrong weights).
    pub fn self_test(&mut self) -> Result<(), InspectError> {
        let frame =
            self.self_test_frame.clone().ok_or_else(|| InspectError::UnknownRecipe(self.default_recipe.to_string()))?;
        let threshold = self.threshold;
        super::self_test::self_test(&frame, threshold, |frames| self.infer(frames))
    }

    /// Scores a batch of frames (one fixture cycle): `probs` per part, `[p_ok, p_ng]`. Each frame is
    /// judged against its own recipe's reference (the configured recipe when the frame names none).
    pub fn infer<F: AsRef<Frame>>(&mut self, frames: &[F]) -> Result<Vec<[f32; 2]>, InspectError> {
        let n = frames.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let len = self.pre.len();
        self.image_buf.resize(n * len, 0.0);
        for (f, chunk) in frames.iter().zip(self.image_buf.chunks_exact_mut(len)) {
            self.pre.write(f.as_ref(), chunk)?;
        }
        let shape = [n, self.pre.channels(), self.pre.height as usize, self.pre.width as usize];
        let default_recipe = &self.default_recipe;
        let run_options = &*self.run_options;
        let recipe_of = |f: &Frame| f.info.recipe.clone().unwrap_or_else(|| default_recipe.clone());
        let probs: Vec<f32> = match &mut self.engine {
            Engine::Full { model, ref_inputs } => {
                let reference_of = |f: &Frame| {
                    let r = recipe_of(f);
                    ref_inputs.get(&r).ok_or_else(|| InspectError::UnknownRecipe(r.to_string()))
                };
                // One part: its reference tensor is fed as it is, without a copy.
                let refs: &[f32] = if let [f] = frames {
                    reference_of(f.as_ref())?
                } else {
                    self.ref_buf.resize(n * len, 0.0);
                    for (f, chunk) in frames.iter().zip(self.ref_buf.chunks_exact_mut(len)) {
                        chunk.copy_from_slice(reference_of(f.as_ref())?);
                    }
                    &self.ref_buf
                };
                let img = TensorRef::from_array_view((shape, &self.image_buf[..]))?;
                let rf = TensorRef::from_array_view((shape, refs))?;
                let out =
                    model.session.run_with_options(ort::inputs!["image" => img, "reference" => rf], run_options)?;
                let (_, p) = out["probs"].try_extract_tensor::<f32>()?;
                p.to_vec()
            }
            Engine::Split { encoder, head, emb_len, ref_embeddings } => {
                let img = TensorRef::from_array_view((shape, &self.image_buf[..]))?;
                let enc_out = encoder.session.run_with_options(ort::inputs!["image" => img], run_options)?;
                let (emb_shape, emb) = enc_out["embedding"].try_extract_tensor::<f32>()?;
                if emb.len() != n * *emb_len {
                    return Err(OutputError::BatchSize { tensor: "embedding", got: emb.len(), parts: n }.into());
                }
                self.ref_buf.resize(n * *emb_len, 0.0);
                for (f, chunk) in frames.iter().zip(self.ref_buf.chunks_exact_mut(*emb_len)) {
                    let r = recipe_of(f.as_ref());
                    let src = ref_embeddings.get(&r).ok_or_else(|| InspectError::UnknownRecipe(r.to_string()))?;
                    chunk.copy_from_slice(src);
                }
                let dims: Vec<usize> = emb_shape.iter().map(|&d| d as usize).collect();
                let e = TensorRef::from_array_view((dims.clone(), emb))?;
                let r = TensorRef::from_array_view((dims, &self.ref_buf[..]))?;
                let out = head
                    .session
                    .run_with_options(ort::inputs!["embedding" => e, "reference_embedding" => r], run_options)?;
                let (_, p) = out["probs"].try_extract_tensor::<f32>()?;
                p.to_vec()
            }
        };
        if probs.len() != 2 * n {
            return Err(OutputError::BatchSize { tensor: "probs", got: probs.len(), parts: n }.into());
        }
        probs
            .chunks_exact(2)
            .map(|p| {
                if p.iter().all(|v| v.is_finite() && (-1e-3..=1.0 + 1e-3).contains(v)) {
                    Ok([p[0], p[1]])
                } else {
                    Err(OutputError::NotProbabilities([p[0], p[1]]).into())
                }
            })
            .collect()
    }
}
