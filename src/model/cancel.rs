//! `Cancel`: how a caller stops a run gracefully (SIGINT in `cmd`, an observer in tests). The
//! pipeline starts nothing new once it is triggered and lets what is in flight finish, so every
//! row written is a finished row.
//!
//! The pipeline itself pulls the same switch, with a [`Halt`] reason, when it meets what no
//! retry can heal (a full account, an unwritable journal): the run then ends as "could not
//! run" (exit 2), not "interrupted".
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// A cloneable stop switch: every clone sees the same trigger.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    token: CancellationToken,
    halt: Arc<OnceLock<Halt>>,
}

/// Why the pipeline stopped itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// Box refused an upload because the account's storage is full (`storage_limit_exceeded`).
    Quota {
        /// The file whose upload was refused.
        path: String,
        /// Box's message.
        message: String,
    },
    /// The run's own journal or report could not be written (the error is the sink's).
    LocalWrite,
    /// Box answered in a way that dooms every other file too (a failure of class
    /// `FailureClass::Job`: credentials refused and not refreshable, destination gone).
    Job {
        /// The row whose request met it.
        path: String,
        /// What Box (or the token endpoint) said, as the report shows it.
        message: String,
        /// What the operator should do before running the same command again.
        remedy: String,
    },
}

impl Cancel {
    /// A switch not yet triggered.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Trigger it (idempotent).
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Trigger it because of `why`; the first reason given is kept.
    pub fn halt(&self, why: Halt) {
        let _ = self.halt.set(why);
        self.token.cancel();
    }

    /// The reason the pipeline stopped itself, if it did.
    pub fn halted(&self) -> Option<&Halt> {
        self.halt.get()
    }

    /// Has it been triggered?
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Wait until it is triggered.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_trigger() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        a.cancel();
        assert!(b.is_cancelled());
        assert_eq!(b.halted(), None);
    }

    #[test]
    fn the_first_halt_reason_is_kept() {
        let a = Cancel::new();
        let b = a.clone();
        a.halt(Halt::LocalWrite);
        b.halt(Halt::Quota {
            path: "x".into(),
            message: "full".into(),
        });
        assert!(b.is_cancelled());
        assert_eq!(b.halted(), Some(&Halt::LocalWrite));
    }
}
