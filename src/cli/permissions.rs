//! `boxlift permissions`'s arguments.
use std::path::PathBuf;

use clap::Args;

use crate::permissions::ProposeOptions;

/// Arguments of `boxlift permissions`.
#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// The directory tree whose permissions to read.
    pub src: PathBuf,
    /// Users map, CSV `local,box`: a local user name or uid → a Box login or user id.
    #[arg(long, value_name = "USERS.csv")]
    pub users: Option<PathBuf>,
    /// Groups map, CSV `local,box`: a local group name or gid → a Box group name or id.
    #[arg(long, value_name = "GROUPS.csv")]
    pub groups: Option<PathBuf>,
    /// The proposal to write (CSV `path,collaborator,role,status,reason`).
    #[arg(short, long, value_name = "PERMS.csv")]
    pub output: PathBuf,
}

impl PermissionsArgs {
    /// The proposal these arguments ask for.
    pub fn to_options(&self) -> ProposeOptions {
        ProposeOptions {
            users: self.users.clone(),
            groups: self.groups.clone(),
            ..ProposeOptions::new(&self.src, &self.output)
        }
    }
}
