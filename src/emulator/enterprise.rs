//! The emulated enterprise: users, groups, each user's own root folder, collaborations, and
//! who may do what to an item (Box's access "waterfalls" down a folder tree).
//!
//! Box's rules modelled here (shared/box-api.md, "Users, groups, ownership, collaborations"):
//! every item belongs to the owner of the root it is under; `As-User: U` acts as U, whose
//! folder "0" is U's own root; a collaboration on a folder grants its whole subtree, and the
//! strongest grant on the item or any folder above it wins (a subfolder cannot be more
//! restricted than its parent); a login Box does not know becomes a pending invitation that
//! grants nothing. An `As-User` id that is not a declared user keeps the emulator's older
//! behaviour: it acts on the service account's tree as if an admin had made it a co-owner.
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::box_api::model::{CollabRole, GroupMini, UserMini};

/// The token's own user: the service account every emulator token stands for.
pub(crate) const SERVICE_USER: &str = "11446498";
/// The service account's login.
pub(crate) const SERVICE_LOGIN: &str = "emulator@example.com";
/// The service account's name.
pub(crate) const SERVICE_NAME: &str = "Emulator User";

/// Users and groups to declare: `EmulatorConfig::enterprise`, `boxlift emulator --enterprise
/// FILE.json` and `POST /_emulator/enterprise` all take this JSON:
/// `{"users":[{"id":"..","login":"..","name":".."}],"groups":[{"id":"..","name":"..","members":["login or id"]}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseSpec {
    /// Managed users (each gets its own root folder).
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Groups of those users.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

/// One managed user; the id is generated when omitted, the name defaults to the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Box user id (decimal).
    #[serde(default)]
    pub id: Option<String>,
    /// Login (an email address).
    pub login: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One group; members are user logins or ids (declared users, or the service account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Box group id (decimal); generated when omitted.
    #[serde(default)]
    pub id: Option<String>,
    /// Group name.
    pub name: String,
    /// Member logins or ids.
    #[serde(default)]
    pub members: Vec<String>,
}

impl EnterpriseSpec {
    /// Parse the JSON form, naming what is wrong.
    pub fn from_json(text: &str) -> Result<EnterpriseSpec, String> {
        serde_json::from_str(text).map_err(|e| format!("not an enterprise description: {e}"))
    }

    /// Whether it can be declared (on an emulator with no users yet): each login and id once,
    /// every group member a declared user or the service account.
    pub fn check(&self) -> Result<(), String> {
        Enterprise::default().declare(self).map(|_| ())
    }
}

/// A declared user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub id: String,
    pub login: String,
    pub name: String,
}

/// A declared group with its members' user ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Who a collaboration is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Grantee {
    User(String),
    Group(String),
    /// A pending invitation to a login Box does not know: grants nothing.
    Invite(String),
}

/// One collaboration on an item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Collab {
    pub id: u64,
    pub item: u64,
    /// `"folder"` or `"file"`.
    pub item_type: String,
    pub grantee: Grantee,
    pub role: CollabRole,
    pub created_by: String,
    pub created_at: String,
}

impl Collab {
    /// `accepted` for enterprise users and groups, `pending` for an invitation.
    pub fn status(&self) -> &'static str {
        match self.grantee {
            Grantee::Invite(_) => "pending",
            _ => "accepted",
        }
    }
}

/// What an actor may do to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The item is under the actor's own root.
    Owner,
    /// The strongest collaboration on the item or a folder above it.
    Role(CollabRole),
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// List a folder, read a file.
    Read,
    /// Upload, create a folder, add a version.
    Upload,
    /// Rename, move, delete.
    Edit,
    /// Invite collaborators (owner, co-owner, editor).
    Invite,
}

impl Access {
    /// Whether this access allows `need`.
    pub fn allows(self, need: Need) -> bool {
        let role = match self {
            Access::Owner => return true,
            Access::Role(r) => r,
        };
        match need {
            Need::Read => role.can_read(),
            Need::Upload => role.can_upload(),
            Need::Edit | Need::Invite => {
                matches!(
                    role,
                    CollabRole::Editor | CollabRole::CoOwner | CollabRole::Owner
                )
            }
        }
    }

    /// Strength order: the strongest grant on the way up wins.
    fn rank(self) -> u8 {
        match self {
            Access::Owner | Access::Role(CollabRole::Owner) => 9,
            Access::Role(CollabRole::CoOwner) => 8,
            Access::Role(CollabRole::Editor) => 7,
            Access::Role(CollabRole::ViewerUploader) => 6,
            Access::Role(CollabRole::PreviewerUploader) => 5,
            Access::Role(CollabRole::Viewer) => 4,
            Access::Role(CollabRole::Previewer) => 3,
            Access::Role(CollabRole::Uploader) => 2,
        }
    }

    /// The stronger of two.
    pub fn max(self, other: Access) -> Access {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Who is making the request: the service account, a declared user (`As-User`), or an
/// undeclared `As-User` id (which acts on the service account's tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    /// The user id (`created_by`, grants, trash).
    pub user: String,
    /// The folder "0" means for this actor; everything under it is the actor's own.
    pub root: u64,
}

tokio::task_local! {
    /// The actor of the request being handled (set by `layer::handle` for Box routes).
    pub(crate) static ACTOR: Actor;
}

/// The current request's actor; `None` outside a Box request (`/_emulator/*`, unit tests),
/// where nothing is hidden.
pub(crate) fn actor() -> Option<Actor> {
    ACTOR.try_with(|a| a.clone()).ok()
}

/// Users, groups, roots and collaborations (kept with the tree; persisted as JSON with it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Enterprise {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub collabs: Vec<Collab>,
    /// Each declared user's root folder id.
    pub roots: BTreeMap<String, u64>,
    next_id: u64,
}

impl Enterprise {
    /// A declared user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A declared user by login (case-insensitive).
    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// `owned_by`/`created_by`/`accessible_by` for a user id (the service account, a declared
    /// user, or an undeclared `As-User` id, shown by id alone).
    pub fn mini(&self, id: &str) -> UserMini {
        let (name, login) = if id == SERVICE_USER {
            (Some(SERVICE_NAME.into()), Some(SERVICE_LOGIN.into()))
        } else {
            match self.user(id) {
                Some(u) => (Some(u.name.clone()), Some(u.login.clone())),
                None => (None, None),
            }
        };
        UserMini {
            kind: "user".into(),
            id: id.into(),
            name,
            login,
        }
    }

    /// A group's mini representation.
    pub fn group_mini(g: &Group) -> GroupMini {
        GroupMini {
            kind: "group".into(),
            id: g.id.clone(),
            name: Some(g.name.clone()),
            group_type: Some("managed_group".into()),
        }
    }

    /// The user that owns root folder `root` (the service account for the first root).
    pub fn owner_of_root(&self, root: u64) -> &str {
        self.roots
            .iter()
            .find(|(_, r)| **r == root)
            .map_or(SERVICE_USER, |(u, _)| u.as_str())
    }

    /// The actor an `As-User` header value (or its absence) stands for.
    pub fn actor(&self, as_user: Option<&str>) -> Actor {
        match as_user {
            Some(u) if u != SERVICE_USER => Actor {
                user: u.into(),
                root: self.roots.get(u).copied().unwrap_or(super::store::ROOT),
            },
            _ => Actor {
                user: SERVICE_USER.into(),
                root: super::store::ROOT,
            },
        }
    }

    /// The strongest accepted grant to `user` (directly or through a group) on `item` itself.
    pub fn grant(&self, item: u64, user: &str) -> Option<Access> {
        let mut best: Option<Access> = None;
        for c in self.collabs.iter().filter(|c| c.item == item) {
            let applies = match &c.grantee {
                Grantee::User(u) => u == user,
                Grantee::Group(g) => self
                    .group(g)
                    .is_some_and(|g| g.members.iter().any(|m| m == user)),
                Grantee::Invite(_) => false,
            };
            if applies {
                let a = Access::Role(c.role);
                best = Some(best.map_or(a, |b| b.max(a)));
            }
        }
        best
    }

    /// A fresh id for a collaboration, user or group.
    pub fn next_id(&mut self, base: u64) -> u64 {
        self.next_id = self.next_id.max(base) + 1;
        self.next_id
    }

    /// Add users and groups; returns the ids of the new users (which need a root folder).
    /// Refused, changing nothing: a login or id used twice, a group member nobody declared.
    pub fn declare(&mut self, spec: &EnterpriseSpec) -> Result<Vec<String>, String> {
        let mut next = self.clone();
        let mut new_users = Vec::new();
        for u in &spec.users {
            let login = u.login.trim();
            if login.is_empty() {
                return Err("a user without a login".into());
            }
            // The same user again (a restart over a data dir): nothing new.
            if let Some(known) = next.user_by_login(login)
                && u.id.as_deref().is_none_or(|id| id.trim() == known.id)
                && spec
                    .users
                    .iter()
                    .filter(|o| o.login.trim().eq_ignore_ascii_case(login))
                    .nth(1)
                    .is_none()
            {
                continue;
            }
            if next.user_by_login(login).is_some() || login.eq_ignore_ascii_case(SERVICE_LOGIN) {
                return Err(format!("login {login:?} is declared twice"));
            }
            let id = match &u.id {
                Some(id) => check_id(id, "user")?,
                None => next.next_id(20_000_000).to_string(),
            };
            if next.user(&id).is_some() || id == SERVICE_USER {
                return Err(format!("user id {id} is declared twice"));
            }
            let name = u.name.clone().unwrap_or_else(|| login.to_string());
            next.users.push(User {
                id: id.clone(),
                login: login.into(),
                name,
            });
            new_users.push(id);
        }
        for g in &spec.groups {
            next.declare_group(g)?;
        }
        *self = next;
        Ok(new_users)
    }

    fn declare_group(&mut self, g: &GroupSpec) -> Result<(), String> {
        let name = g.name.trim();
        if name.is_empty() {
            return Err("a group without a name".into());
        }
        if let Some(at) = self
            .groups
            .iter()
            .position(|o| o.name.eq_ignore_ascii_case(name))
        {
            // The same group again (a restart over a data dir): its members are updated.
            if g.id
                .as_deref()
                .is_some_and(|id| id.trim() != self.groups[at].id)
            {
                return Err(format!("group {name:?} is declared twice"));
            }
            let old = self.groups.remove(at);
            let again = GroupSpec {
                id: Some(old.id.clone()),
                ..g.clone()
            };
            return self
                .declare_group(&again)
                .inspect_err(|_| self.groups.insert(at, old));
        }
        let id = match &g.id {
            Some(id) => check_id(id, "group")?,
            None => self.next_id(30_000_000).to_string(),
        };
        if self.group(&id).is_some() {
            return Err(format!("group id {id} is declared twice"));
        }
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        for m in &g.members {
            let id = if m == SERVICE_USER || m.eq_ignore_ascii_case(SERVICE_LOGIN) {
                SERVICE_USER.to_string()
            } else {
                self.user(m)
                    .or_else(|| self.user_by_login(m))
                    .map(|u| u.id.clone())
                    .ok_or_else(|| format!("group {name:?}: member {m:?} is not a declared user"))?
            };
            if seen.insert(id.clone()) {
                members.push(id);
            }
        }
        self.groups.push(Group {
            id,
            name: name.into(),
            members,
        });
        Ok(())
    }
}

/// Box ids are decimal.
fn check_id(id: &str, what: &str) -> Result<String, String> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} id {id:?} is not a decimal Box id"));
    }
    Ok(id.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> EnterpriseSpec {
        EnterpriseSpec::from_json(json).unwrap()
    }

    #[test]
    fn users_and_groups_are_declared_with_generated_ids_and_checked() {
        let mut e = Enterprise::default();
        let new = e
            .declare(&spec(
                r#"{"users":[{"login":"a@x.com"},{"id":"77","login":"b@x.com","name":"B"}],
                    "groups":[{"name":"Team","members":["a@x.com","77"]}]}"#,
            ))
            .unwrap();
        assert_eq!(new.len(), 2);
        assert_eq!(e.user("77").unwrap().name, "B");
        assert_eq!(e.user_by_login("A@X.COM").unwrap().name, "a@x.com");
        assert_eq!(e.groups[0].members.len(), 2);
        // Refused as a whole: nothing changes.
        let before = e.users.len();
        let err = e
            .declare(&spec(
                r#"{"users":[{"login":"c@x.com"},{"id":"78","login":"b@x.com"}]}"#,
            ))
            .unwrap_err();
        assert!(err.contains("b@x.com"), "{err}");
        assert_eq!(e.users.len(), before);
        let err = e
            .declare(&spec(r#"{"groups":[{"name":"G","members":["nobody"]}]}"#))
            .unwrap_err();
        assert!(err.contains("nobody"), "{err}");
        assert!(EnterpriseSpec::from_json(r#"{"user":[]}"#).is_err());
        assert!(
            e.declare(&spec(r#"{"users":[{"id":"x1","login":"d@x.com"}]}"#))
                .is_err()
        );
        // The same description again (a restart over a data dir) adds nothing.
        let again = e.declare(&spec(
            r#"{"users":[{"login":"a@x.com"},{"id":"77","login":"b@x.com"}]}"#,
        ));
        assert_eq!(again, Ok(Vec::new()));
        assert_eq!(e.users.len(), before);
    }

    #[test]
    fn the_strongest_grant_wins_and_invitations_grant_nothing() {
        let mut e = Enterprise::default();
        e.declare(&spec(
            r#"{"users":[{"id":"5","login":"u@x.com"}],"groups":[{"id":"9","name":"G","members":["5"]}]}"#,
        ))
        .unwrap();
        let collab = |id, grantee, role| Collab {
            id,
            item: 100,
            item_type: "folder".into(),
            grantee,
            role,
            created_by: SERVICE_USER.into(),
            created_at: String::new(),
        };
        e.collabs
            .push(collab(1, Grantee::User("5".into()), CollabRole::Viewer));
        assert_eq!(e.grant(100, "5"), Some(Access::Role(CollabRole::Viewer)));
        e.collabs
            .push(collab(2, Grantee::Group("9".into()), CollabRole::Editor));
        e.collabs
            .push(collab(3, Grantee::Invite("5".into()), CollabRole::CoOwner));
        assert_eq!(e.grant(100, "5"), Some(Access::Role(CollabRole::Editor)));
        assert_eq!(e.grant(100, "6"), None);
        assert!(!Access::Role(CollabRole::Viewer).allows(Need::Upload));
        assert!(Access::Role(CollabRole::Editor).allows(Need::Invite));
        assert!(!Access::Role(CollabRole::Uploader).allows(Need::Read));
    }
}
