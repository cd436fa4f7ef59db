//! `Cancel`: how a caller stops a run gracefully (SIGINT in `cmd`, an observer in tests). The
//! pipeline starts nothing new once it is triggered and lets what is in flight finish, so every
//! row written is a finished row.
use tokio_util::sync::CancellationToken;

/// A cloneable stop switch: every clone sees the same trigger.
#[derive(Debug, Clone, Default)]
pub struct Cancel(CancellationToken);

impl Cancel {
    /// A switch not yet triggered.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Trigger it (idempotent).
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Has it been triggered?
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Wait until it is triggered.
    pub async fn cancelled(&self) {
        self.0.cancelled().await;
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
    }
}
