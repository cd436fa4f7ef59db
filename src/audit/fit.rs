//! Whether a plan fits, as one verdict a pipeline can gate on (`audit`'s exit code 1 and the
//! `fit` object of `--json`): the bytes to upload within the account's free space, the
//! estimated time within `--deadline`/`--within`, and every identity able to upload into
//! `--dest`. A check with nothing to judge by (no `--dest`, no deadline) is `None`, not a pass.
use serde::Serialize;

use super::{AuditSummary, Deadline};
use crate::plan::estimate::Limits;

/// The three checks; `None` where the audit had nothing to check with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fit {
    /// The bytes to upload fit the account's free space (read with `--dest`; an unlimited
    /// account always fits; `None` without a live destination or when Box did not say).
    pub space: Option<bool>,
    /// The estimated time is within the deadline with the identities given.
    pub deadline: Option<bool>,
    /// Every identity can upload into the destination (`--dest`).
    pub access: Option<bool>,
}

impl Fit {
    /// Judge `summary` under `limits` against `deadline`.
    pub fn check(summary: &AuditSummary, limits: &Limits, deadline: Option<&Deadline>) -> Fit {
        let e = &summary.estimate;
        let to_send = e.direct_bytes + e.chunked_bytes;
        Fit {
            space: summary
                .space
                .map(|s| s.free.is_none_or(|free| to_send <= free)),
            deadline: deadline.map(|d| e.timing(limits).total().0 <= d.secs),
            access: (!summary.access.is_empty())
                .then(|| summary.access.iter().all(|a| a.can_upload())),
        }
    }

    /// No check failed.
    pub fn fits(&self) -> bool {
        ![self.space, self.deadline, self.access].contains(&Some(false))
    }

    /// The failed checks, in words.
    pub fn reasons(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.space == Some(false) {
            out.push("the bytes to upload exceed the account's free space");
        }
        if self.deadline == Some(false) {
            out.push("the estimated time is past the deadline with the identities given");
        }
        if self.access == Some(false) {
            out.push("identities lacking upload access to the destination");
        }
        out
    }

    /// The verdict line that ends the printed summary.
    pub fn render(&self) -> String {
        if self.fits() {
            "plan: fits\n".to_string()
        } else {
            format!("plan: DO NOT FIT ({}): exit 1\n", self.reasons().join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AccountSpace;
    use crate::audit::access::{Access, IdentityAccess};
    use crate::plan::estimate::Estimate;

    fn summary(bytes: u64, uploads: u64) -> AuditSummary {
        let mut estimate = Estimate::default();
        estimate.direct_files = uploads;
        estimate.direct_bytes = bytes;
        AuditSummary {
            estimate,
            compared: false,
            access: Vec::new(),
            space: None,
        }
    }

    fn deadline(secs: f64) -> Deadline {
        Deadline {
            at: chrono::Utc::now(),
            secs,
        }
    }

    #[test]
    fn nothing_to_check_fits_and_each_failed_check_says_why() {
        let l = Limits::default();
        let s = summary(1_000, 2_400);
        let fit = Fit::check(&s, &l, None);
        assert_eq!((fit.space, fit.deadline, fit.access), (None, None, None));
        assert!(fit.fits() && fit.render() == "plan: fits\n");
        // 2,400 uploads at 240/min: 10 minutes; 11 fit, 9 do not.
        assert_eq!(
            Fit::check(&s, &l, Some(&deadline(660.0))).deadline,
            Some(true)
        );
        let late = Fit::check(&s, &l, Some(&deadline(540.0)));
        assert!(!late.fits());
        assert!(late.render().contains("DO NOT FIT"), "{}", late.render());
        assert!(late.render().contains("deadline"), "{}", late.render());

        let mut s = summary(1_000, 1);
        s.space = Some(AccountSpace {
            free: Some(999),
            used: 0,
        });
        s.access = vec![IdentityAccess {
            as_user: Some("7".into()),
            access: Access::NotFound,
        }];
        let fit = Fit::check(&s, &l, None);
        assert_eq!((fit.space, fit.access), (Some(false), Some(false)));
        assert_eq!(fit.reasons().len(), 2);
        s.space = Some(AccountSpace {
            free: None,
            used: 5,
        });
        assert_eq!(Fit::check(&s, &l, None).space, Some(true));
    }
}
