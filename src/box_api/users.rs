//! The current user: the account's storage (`space_amount`, `space_used`), which `migrate` and
//! `audit --dest` check against the bytes to send before the first upload.
use super::BoxClient;
use super::error::ApiError;
use super::http::Req;
use super::model::{UNLIMITED_SPACE, User};
use super::pace::Bucket;

impl BoxClient {
    /// `GET /users/me` with the storage fields: the account's space and what it uses (the
    /// pre-check of `migrate` and `audit --dest`).
    pub async fn current_user(&self) -> Result<User, ApiError> {
        let url = self.api("/users/me");
        let mut ctx = self.retry_context();
        let req = Req {
            op: "get current user",
            path: "/users/me",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| {
            Ok(h.get(&url).query(&[(
                "fields",
                "name,login,space_amount,space_used,max_upload_size",
            )]))
        })
        .await?
        .json("get current user")
    }
}

impl User {
    /// Bytes the account can still store: `None` when Box gives no limit (unlimited, or the
    /// fields are missing).
    pub fn free_space(&self) -> Option<u64> {
        let amount = self
            .space_amount
            .filter(|a| (0..UNLIMITED_SPACE).contains(a))?;
        Some(
            amount
                .saturating_sub(self.space_used.unwrap_or(0).max(0))
                .max(0) as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(amount: Option<i64>, used: Option<i64>) -> User {
        User {
            kind: "user".into(),
            id: "1".into(),
            name: None,
            login: None,
            space_amount: amount,
            space_used: used,
            max_upload_size: None,
        }
    }

    #[test]
    fn free_space_is_the_limit_less_what_is_used_and_unlimited_is_none() {
        assert_eq!(user(Some(100), Some(30)).free_space(), Some(70));
        assert_eq!(user(Some(100), Some(130)).free_space(), Some(0));
        assert_eq!(user(Some(UNLIMITED_SPACE), Some(5)).free_space(), None);
        assert_eq!(user(Some(-1), Some(5)).free_space(), None);
        assert_eq!(user(None, Some(5)).free_space(), None);
        assert_eq!(user(Some(100), None).free_space(), Some(100));
    }
}
