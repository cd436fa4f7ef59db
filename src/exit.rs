//! Process exit codes, one documented enum (as fd's `ExitCode` and nextest's `NextestExitCode`).

/// What a boxlift process tells its caller (cron, Kubernetes, a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every row succeeded (or, for `verify`, the destination matches the manifest).
    Success,
    /// The job ran, but some rows failed (see the report), or `verify` found differences.
    SomeFailed,
    /// The job could not run: bad arguments, unreadable input, no credentials, Box unreachable.
    CouldNotRun,
    /// Interrupted by SIGINT/SIGTERM; state was saved and a re-run resumes.
    Interrupted,
    /// `--max-duration` ran out: nothing new was started after it, the files in flight
    /// finished, and a re-run (the next night) carries on. 75 is sysexits' `EX_TEMPFAIL`
    /// ("try again later").
    MoreToDo,
}

impl ExitCode {
    /// The numeric process exit status.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::SomeFailed => 1,
            ExitCode::CouldNotRun => 2,
            ExitCode::Interrupted => 130,
            ExitCode::MoreToDo => 75,
        }
    }

    /// Combine the outcome of two parts of one job: the worse one wins.
    pub fn merge(self, other: ExitCode) -> ExitCode {
        fn rank(c: ExitCode) -> u8 {
            match c {
                ExitCode::Success => 0,
                ExitCode::SomeFailed => 1,
                ExitCode::MoreToDo => 2,
                ExitCode::Interrupted => 3,
                ExitCode::CouldNotRun => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_worse_outcome() {
        assert_eq!(
            ExitCode::Success.merge(ExitCode::SomeFailed),
            ExitCode::SomeFailed
        );
        assert_eq!(
            ExitCode::SomeFailed.merge(ExitCode::Success),
            ExitCode::SomeFailed
        );
        assert_eq!(
            ExitCode::SomeFailed.merge(ExitCode::CouldNotRun),
            ExitCode::CouldNotRun
        );
        assert_eq!(
            ExitCode::Success.merge(ExitCode::Success),
            ExitCode::Success
        );
        assert_eq!(ExitCode::CouldNotRun.code(), 2);
        assert_eq!(ExitCode::MoreToDo.code(), 75);
        assert_eq!(
            ExitCode::SomeFailed.merge(ExitCode::MoreToDo),
            ExitCode::MoreToDo
        );
    }
}
