//! Emit: the terraform artifact.

use super::EmittedFile;
use crate::model::Model;

pub fn emit(_model: &Model) -> Vec<EmittedFile> {
    Vec::new()
}
