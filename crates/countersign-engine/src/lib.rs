//! The countersign evaluator.
//!
//! Given a validated policy and a [`change::Change`] with its evidence, classify the change
//! (category, risk, areas) and decide, requirement by requirement, whether it is met, missing
//! or waived, and by which evidence. Pure: no IO and no clock; "now" is passed in through
//! [`EvalOptions`]. Evidence readers (git, forge JSON, the evidence store) live in other
//! crates and build [`change::Change`] values.

pub mod change;
pub mod deploy;
pub mod directory;
pub mod drift;
pub mod evaluate;
pub mod lifecycle;
pub mod metrics;
pub mod obligations;
pub mod report;
pub mod summary;
pub mod text;

pub use evaluate::{Engine, EvalOptions};
pub use report::{Evaluation, Status, Verdict};
