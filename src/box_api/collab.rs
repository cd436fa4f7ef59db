//! Enterprise users and groups, and collaborations: what `--map` (owners) and `--permissions`
//! (collaborators) resolve and grant.
//!
//! - `GET /users?filter_term=` (a login or name prefix, offset paging) and `GET /users/{id}`.
//! - `GET /groups?filter_term=` (offset paging), `GET /groups/{id}`,
//!   `GET /groups/{id}/memberships`.
//! - `POST /collaborations?notify=false` and `GET /folders/{id}/collaborations` (marker paging).
//!
//! A login Box does not know is not an error on `POST /collaborations`: Box creates a *pending
//! external invitation*. Callers must resolve every collaborator first ([`BoxClient::find_user`])
//! and never post an unresolved login; [`BoxClient::collaborate`] takes ids only.
use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::http::Req;
use super::model::{
    CollabItem, CollabRole, Collaboration, Collaborations, CreateCollaboration, GranteeRef,
    GroupMembership, GroupMini, OffsetPage, UserMini,
};
use super::pace::Bucket;

/// Page size of the offset-paged listings (Box's maximum for `/users` and `/groups` is 1000).
const PAGE: u64 = 1000;

/// A read-only API call (for [`BoxClient::execute`]).
fn get(op: &'static str, path: &'static str) -> Req<'static> {
    Req {
        op,
        path,
        bucket: Bucket::Api,
        idempotent: true,
        body_len: 0,
    }
}

/// Who a collaboration is for, resolved to a Box id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collaborator {
    /// A Box user id.
    User(String),
    /// A Box group id.
    Group(String),
}

impl Collaborator {
    /// `"user"` or `"group"` (Box's `accessible_by.type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Collaborator::User(_) => "user",
            Collaborator::Group(_) => "group",
        }
    }

    /// The Box id.
    pub fn id(&self) -> &str {
        match self {
            Collaborator::User(id) | Collaborator::Group(id) => id,
        }
    }
}

/// What [`BoxClient::collaborate`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Collaborated {
    /// Box made the collaboration (201).
    Created(Box<Collaboration>),
    /// The user or group already collaborates on the folder (400 `user_already_collaborator`):
    /// nothing to do.
    AlreadyCollaborator,
}

impl BoxClient {
    /// Every enterprise user whose login or name starts with `term` (`GET /users?filter_term=`),
    /// all pages.
    pub async fn find_users(&self, term: &str) -> Result<Vec<UserMini>, ApiError> {
        let query = [("filter_term", term), ("fields", "id,name,login")];
        self.offset_pages::<UserMini>(get("find users", "/users"), "/users", &query)
            .await
    }

    /// `GET /users/{id}`: `None` when Box does not know the id (404).
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserMini>, ApiError> {
        let url = self.api(&format!("/users/{}", urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        match self
            .execute(&mut ctx, get("get user", "/users/{id}"), |h| {
                Ok(h.get(&url).query(&[("fields", "id,name,login")]))
            })
            .await
        {
            Ok(reply) => reply.json("get user").map(Some),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The enterprise user `who` names: a numeric user id, or a login (matched whole, without
    /// regard to case, among `GET /users?filter_term=who`). `None`: Box knows no such user.
    pub async fn find_user(&self, who: &str) -> Result<Option<UserMini>, ApiError> {
        let who = who.trim();
        if !who.is_empty() && who.bytes().all(|b| b.is_ascii_digit()) {
            return self.user_by_id(who).await;
        }
        Ok(self.find_users(who).await?.into_iter().find(|u| {
            u.login
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(who))
        }))
    }

    /// Every group whose name starts with `term` (`GET /groups?filter_term=`), all pages.
    pub async fn find_groups(&self, term: &str) -> Result<Vec<GroupMini>, ApiError> {
        let query = [("filter_term", term), ("fields", "id,name,group_type")];
        self.offset_pages::<GroupMini>(get("find groups", "/groups"), "/groups", &query)
            .await
    }

    /// `GET /groups/{id}`: `None` when Box does not know the id (404).
    pub async fn group_by_id(&self, id: &str) -> Result<Option<GroupMini>, ApiError> {
        let url = self.api(&format!("/groups/{}", urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        match self
            .execute(&mut ctx, get("get group", "/groups/{id}"), |h| {
                Ok(h.get(&url).query(&[("fields", "id,name,group_type")]))
            })
            .await
        {
            Ok(reply) => reply.json("get group").map(Some),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The group `who` names: a numeric group id, or a name (matched whole, without regard to
    /// case, among `GET /groups?filter_term=who`). `None`: Box knows no such group.
    pub async fn find_group(&self, who: &str) -> Result<Option<GroupMini>, ApiError> {
        let who = who.trim();
        if !who.is_empty() && who.bytes().all(|b| b.is_ascii_digit()) {
            return self.group_by_id(who).await;
        }
        Ok(self.find_groups(who).await?.into_iter().find(|g| {
            g.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(who))
        }))
    }

    /// The members of group `id` (`GET /groups/{id}/memberships`), all pages.
    pub async fn group_members(&self, id: &str) -> Result<Vec<GroupMembership>, ApiError> {
        let path = format!("/groups/{}/memberships", urlencoding::encode(id));
        let req = get("list group members", "/groups/{id}/memberships");
        self.offset_pages::<GroupMembership>(req, &path, &[]).await
    }

    /// Every entry of an offset-paged listing at `path` (1000 a page), `query` on each page.
    async fn offset_pages<T: serde::de::DeserializeOwned>(
        &self,
        req: Req<'static>,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ApiError> {
        let url = self.api(path);
        let mut ctx = self.retry_context();
        let mut out = Vec::new();
        loop {
            let offset = out.len().to_string();
            let page: OffsetPage<T> = self
                .execute(&mut ctx, req, |h| {
                    Ok(h.get(&url)
                        .query(query)
                        .query(&[("limit", "1000"), ("offset", offset.as_str())]))
                })
                .await?
                .json(req.op)?;
            let (entries, total, limit) = (page.entries, page.total_count, page.limit);
            let n = entries.len() as u64;
            out.extend(entries);
            if n == 0
                || n < PAGE.min(limit.unwrap_or(PAGE))
                || out.len() as u64 >= total.unwrap_or(0)
            {
                return Ok(out);
            }
        }
    }

    /// Grant `who` `role` on folder `folder_id` (`POST /collaborations?notify=false`). Box's
    /// 400 `user_already_collaborator` is [`Collaborated::AlreadyCollaborator`], not an error:
    /// a repeated grant (a re-run, or a retry whose first reply was lost) changes nothing.
    pub async fn collaborate(
        &self,
        folder_id: &str,
        who: &Collaborator,
        role: CollabRole,
    ) -> Result<Collaborated, ApiError> {
        let url = self.api("/collaborations");
        let body = CreateCollaboration {
            item: CollabItem {
                kind: "folder".into(),
                id: folder_id.to_owned(),
                name: None,
            },
            accessible_by: GranteeRef {
                kind: who.kind().into(),
                id: Some(who.id().to_owned()),
                login: None,
            },
            role,
        };
        let mut ctx = self.retry_context();
        // Repeating the grant is safe (the second answers `user_already_collaborator`).
        let req = Req {
            op: "create collaboration",
            path: "/collaborations",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        match self
            .execute(&mut ctx, req, |h| {
                Ok(h.post(&url).query(&[("notify", "false")]).json(&body))
            })
            .await
        {
            Ok(reply) => Ok(Collaborated::Created(Box::new(
                reply.json("create collaboration")?,
            ))),
            Err(e) if e.code.as_deref() == Some("user_already_collaborator") => {
                Ok(Collaborated::AlreadyCollaborator)
            }
            Err(e) => Err(e),
        }
    }

    /// The collaborations on folder `folder_id` itself (`GET /folders/{id}/collaborations`, all
    /// pages): not those it inherits from its parents.
    pub async fn folder_collaborations(
        &self,
        folder_id: &str,
    ) -> Result<Vec<Collaboration>, ApiError> {
        let url = self.api(&format!(
            "/folders/{}/collaborations",
            urlencoding::encode(folder_id)
        ));
        let mut ctx = self.retry_context();
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page: Collaborations = self
                .execute(
                    &mut ctx,
                    get("list collaborations", "/folders/{id}/collaborations"),
                    |h| {
                        let mut q = vec![
                            ("limit", "1000"),
                            ("fields", "item,accessible_by,role,status,invite_email"),
                        ];
                        if let Some(m) = &marker {
                            q.push(("marker", m.as_str()));
                        }
                        Ok(h.get(&url).query(&q))
                    },
                )
                .await?
                .json("list collaborations")?;
            let n = page.entries.len();
            out.extend(page.entries);
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(m) if n > 0 => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }
}
