//! A model for unit tests: it judges each batch with a closure, so that a test scripts what the
//! station's steps see of a model without loading one into ONNX Runtime.

use super::{InspectError, Inspection, Judgement, ModelIdentity, PartError, PartFrames};
use crate::runtime::Provider;

/// How the test model answers one batch.
pub(crate) type Answer =
    Box<dyn FnMut(&[PartFrames<'_>]) -> Result<Vec<Result<Judgement, PartError>>, InspectError> + Send>;

pub(crate) struct TestModel {
    id: ModelIdentity,
    answer: Answer,
}

impl TestModel {
    /// The model `name` (version 1, CPU, full graph, threshold 0.5) answering with `answer`.
    pub(crate) fn new(name: &str, answer: Answer) -> Self {
        TestModel { id: test_identity(name), answer }
    }
}

/// The identity of a test model `name`: version 1 on the CPU, full graph.
pub(crate) fn test_identity(name: &str) -> ModelIdentity {
    ModelIdentity {
        name: name.into(),
        version: "1".into(),
        sha256: String::new(),
        provider: Provider::Cpu,
        graph: "full",
    }
}

impl Inspection for TestModel {
    fn identity(&self) -> &ModelIdentity {
        &self.id
    }
    fn threshold(&self) -> f32 {
        0.5
    }
    fn self_test(&mut self) -> Result<(), InspectError> {
        Ok(())
    }
    fn judge(&mut self, parts: &[PartFrames<'_>]) -> Result<Vec<Result<Judgement, PartError>>, InspectError> {
        (self.answer)(parts)
    }
}
