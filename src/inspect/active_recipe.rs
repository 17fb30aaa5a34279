//! The active recipe: what a part whose frame names no recipe (every camera's) is judged against. It can
//! change at run time (the station page, MQTT `recipe/set`; later a control socket) and takes effect at
//! the next trigger: each cycle reads it once and stamps it on its frames, so the inspection, the frame checks
//! and the results log all see the same recipe for a part, never half a switch.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecipeError {
    #[error("unknown recipe {name:?}; this station has: {known}")]
    Unknown { name: String, known: String },
}

#[derive(Debug)]
pub struct ActiveRecipe {
    current: RwLock<Arc<str>>,
    /// The recipes the inspection has references for (seal); none for a kind without recipes.
    known: BTreeSet<String>,
}

impl ActiveRecipe {
    pub fn new(initial: &str, known: impl IntoIterator<Item = String>) -> Self {
        Self { current: RwLock::new(initial.into()), known: known.into_iter().collect() }
    }

    pub fn get(&self) -> Arc<str> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn known(&self) -> &BTreeSet<String> {
        &self.known
    }

    /// Makes `name` the active recipe from the next trigger on; returns the one it replaces.
    pub fn switch(&self, name: &str) -> Result<Arc<str>, RecipeError> {
        if !self.known.contains(name) {
            let known = if self.known.is_empty() {
                "none (this inspection has no recipes)".to_string()
            } else {
                self.known.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            };
            return Err(RecipeError::Unknown { name: name.to_string(), known });
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let previous = std::mem::replace(&mut *current, name.into());
        log::info!("recipe {previous} -> {name}: from the next part on");
        Ok(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_recipe_is_switched_to() {
        let r = ActiveRecipe::new("a", ["a".to_string(), "b".to_string()]);
        assert_eq!(r.switch("b").as_deref(), Ok("a"));
        assert_eq!(&*r.get(), "b");
        let e = r.switch("../x").expect_err("unknown");
        assert_eq!(e.to_string(), "unknown recipe \"../x\"; this station has: a, b");
        assert_eq!(&*r.get(), "b");
        let none = ActiveRecipe::new("electrode", []);
        assert!(none.switch("electrode").is_err());
    }
}
