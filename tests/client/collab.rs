//! Users, groups and collaborations (`box_api::collab`) against the emulator's enterprise:
//! lookups by login, id and name; a grant made twice is one collaboration; the root is
//! refused; an unknown login is a pending invitation; access waterfalls down a collaborated
//! folder and nowhere else; a user's own root is theirs alone.
use boxlift::box_api::collab::{Collaborated, Collaborator};
use boxlift::box_api::model::CollabRole;
use boxlift::emulator::EnterpriseSpec;
use serde_json::{Value, json};

use super::*;

const ALICE: &str = "101";
const SERVICE: &str = "11446498";

fn enterprise() -> EnterpriseSpec {
    EnterpriseSpec::from_json(
        r#"{"users":[{"id":"101","login":"alice@corp.example","name":"Alice Archer"},
                     {"login":"bob@corp.example","name":"Bob Baker"}],
            "groups":[{"id":"501","name":"Engineering","members":["alice@corp.example","bob@corp.example"]}]}"#,
    )
    .expect("enterprise JSON")
}

fn emulator() -> EmulatorHandle {
    start(EmulatorConfig {
        enterprise: enterprise(),
        ..Default::default()
    })
}

/// A raw request to the emulator, as `as_user` (or the service account with `None`).
async fn raw(
    emu: &EmulatorHandle,
    method: reqwest::Method,
    path: &str,
    as_user: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .bearer_auth("dev-token");
    if let Some(u) = as_user {
        req = req.header("as-user", u);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn users_and_groups_resolve_by_login_id_and_name() {
    let emu = emulator();
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let alice = client.find_user("ALICE@corp.example").await.unwrap();
    assert_eq!(alice.as_ref().map(|u| u.id.as_str()), Some(ALICE));
    let by_id = client.find_user(ALICE).await.unwrap().expect("by id");
    assert_eq!(by_id.login.as_deref(), Some("alice@corp.example"));
    assert_eq!(client.find_user("nobody@corp.example").await.unwrap(), None);
    assert_eq!(client.find_user("999999").await.unwrap(), None);
    // A prefix of a login or a name; the service account (an app user) is not listed.
    let b: Vec<_> = client.find_users("b").await.unwrap();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].name.as_deref(), Some("Bob Baker"));
    assert_eq!(client.find_users("").await.unwrap().len(), 2);
    let eng = client
        .find_group("engineering")
        .await
        .unwrap()
        .expect("group");
    assert_eq!(eng.id, "501");
    assert!(client.find_group("501").await.unwrap().is_some());
    assert_eq!(client.find_group("Nope").await.unwrap(), None);
    let members = client.group_members("501").await.unwrap();
    let logins: Vec<_> = members
        .iter()
        .filter_map(|m| m.user.as_ref()?.login.clone())
        .collect();
    assert_eq!(logins, ["alice@corp.example", "bob@corp.example"]);
    // As-User: /users/me is that user.
    let (status, me) = raw(
        &emu,
        reqwest::Method::GET,
        "/2.0/users/me",
        Some(ALICE),
        None,
    )
    .await;
    assert_eq!((status, me["id"].as_str()), (200, Some(ALICE)), "{me}");
    let (_, me) = raw(&emu, reqwest::Method::GET, "/2.0/users/me", None, None).await;
    assert_eq!(me["id"], SERVICE);
}

#[tokio::test]
async fn a_grant_made_twice_is_one_collaboration_and_the_root_is_refused() {
    let emu = emulator();
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let share = client.ensure_path("0", "share").await.unwrap();
    let alice = Collaborator::User(ALICE.into());
    let first = client
        .collaborate(&share, &alice, CollabRole::Viewer)
        .await
        .unwrap();
    let Collaborated::Created(c) = first else {
        panic!("first grant: {first:?}")
    };
    assert_eq!(c.status.as_deref(), Some("accepted"));
    assert_eq!(c.accessible_by.as_ref().map(|a| a.id.as_str()), Some(ALICE));
    let again = client
        .collaborate(&share, &alice, CollabRole::Editor)
        .await
        .unwrap();
    assert_eq!(again, Collaborated::AlreadyCollaborator);
    let listed = client.folder_collaborations(&share).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].role, Some(CollabRole::Viewer));

    let root = client.collaborate("0", &alice, CollabRole::Viewer).await;
    let err = root.expect_err("root refused");
    assert_eq!(
        err.code.as_deref(),
        Some("collaborations_not_available_on_root_folder")
    );
    let ghost = Collaborator::User("999999".into());
    let err = client
        .collaborate(&share, &ghost, CollabRole::Viewer)
        .await
        .expect_err("unknown user id");
    assert_eq!(err.kind, ErrorKind::NotFound);

    // The emulator's answer to a login Box does not know (the client never sends logins): a
    // pending invitation, listed with the folder's collaborations, granting nothing.
    let invite = json!({"item": {"type": "folder", "id": share},
        "accessible_by": {"type": "user", "login": "stranger@elsewhere.example"}, "role": "editor"});
    let (status, body) = raw(
        &emu,
        reqwest::Method::POST,
        "/2.0/collaborations?notify=false",
        None,
        Some(invite),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    assert!(body["item"].is_null(), "{body}");
    // Box redacts a pending invitation made by login: the invitee's login, an empty name.
    assert_eq!(body["accessible_by"]["login"], "stranger@elsewhere.example");
    assert_eq!(body["accessible_by"]["name"], "");
    assert_eq!(body["invite_email"], "stranger@elsewhere.example");
    assert_eq!(client.folder_collaborations(&share).await.unwrap().len(), 2);
    let bad_role = json!({"item": {"type": "folder", "id": share},
        "accessible_by": {"type": "user", "id": ALICE}, "role": "owner"});
    let (status, body) = raw(
        &emu,
        reqwest::Method::POST,
        "/2.0/collaborations",
        None,
        Some(bad_role),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
}

#[tokio::test]
async fn a_viewer_sees_the_collaborated_subtree_only_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let share = client.ensure_path("0", "share").await.unwrap();
    let sub = client.ensure_path("0", "share/sub").await.unwrap();
    let other = client.ensure_path("0", "other").await.unwrap();
    let src = make_file(dir.path(), "f.txt", 100, 1);
    let file = upload(&client, &src, new_file(&sub, "f.txt"))
        .await
        .unwrap()
        .file;
    client
        .collaborate(
            &share,
            &Collaborator::User(ALICE.into()),
            CollabRole::Viewer,
        )
        .await
        .unwrap();

    let alice = client.as_user(ALICE);
    let seen = alice.get_file(&file.id).await.expect("file under /share");
    assert_eq!(seen.sha1.as_deref(), Some(src.sha1_hex.as_str()));
    assert_eq!(alice.list_folder(&sub, &[]).await.unwrap().len(), 1);
    let err = alice.get_folder(&other).await.expect_err("sibling hidden");
    assert_eq!(
        (err.status, err.code.as_deref()),
        (Some(404), Some("not_found"))
    );
    let err = upload(&alice, &src, new_file(&share, "mine.txt"))
        .await
        .expect_err("a viewer cannot upload");
    assert_eq!(err.status, Some(403), "{err}");
    assert_eq!(
        err.code.as_deref(),
        Some("access_denied_insufficient_permissions")
    );
    let perms = alice.folder_permissions(&sub).await.unwrap();
    assert!(!perms.permissions.expect("permissions").can_upload);
    let err = alice
        .collaborate(&sub, &Collaborator::Group("501".into()), CollabRole::Editor)
        .await
        .expect_err("a viewer cannot invite");
    assert_eq!(err.status, Some(403));
    // A collaborator sees the path from their own "All Files": 0, then /share.
    let (_, folder) = raw(
        &emu,
        reqwest::Method::GET,
        &format!("/2.0/folders/{sub}"),
        Some(ALICE),
        None,
    )
    .await;
    let path: Vec<_> = folder["path_collection"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(path, ["0".to_string(), share.clone()]);
    assert_eq!(folder["owned_by"]["id"], SERVICE);

    // Through a group, an editor may upload; the file is the folder owner's, created by Bob.
    client
        .collaborate(
            &other,
            &Collaborator::Group("501".into()),
            CollabRole::Editor,
        )
        .await
        .unwrap();
    let bob = client
        .find_user("bob@corp.example")
        .await
        .unwrap()
        .expect("bob");
    let up = upload(&client.as_user(&bob.id), &src, new_file(&other, "b.txt"))
        .await
        .expect("an editor through a group uploads")
        .file;
    let (_, f) = raw(
        &emu,
        reqwest::Method::GET,
        &format!("/2.0/files/{}", up.id),
        None,
        None,
    )
    .await;
    assert_eq!(
        (f["owned_by"]["id"].as_str(), f["created_by"]["id"].as_str()),
        (Some(SERVICE), Some(bob.id.as_str()))
    );
    assert!(
        perms_upload(&alice, &other).await,
        "Alice is in the group too"
    );
}

async fn perms_upload(client: &BoxClient, folder: &str) -> bool {
    client
        .folder_permissions(folder)
        .await
        .unwrap()
        .permissions
        .is_some_and(|p| p.can_upload)
}

#[tokio::test]
async fn a_users_own_root_is_theirs_and_hidden_from_the_service_account() {
    let emu = emulator();
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let (status, made) = raw(
        &emu,
        reqwest::Method::POST,
        "/2.0/folders",
        Some(ALICE),
        Some(json!({"name": "mine", "parent": {"id": "0"}})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let mine = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["owned_by"]["id"], ALICE);
    assert_eq!(made["created_by"]["login"], "alice@corp.example");
    assert_eq!(made["parent"]["id"], "0");
    let err = client.get_folder(&mine).await.expect_err("hidden");
    assert_eq!(err.status, Some(404));
    assert!(client.list_folder("0", &[]).await.unwrap().is_empty());
    let (_, root) = raw(
        &emu,
        reqwest::Method::GET,
        "/2.0/folders/0/items?fields=owned_by",
        Some(ALICE),
        None,
    )
    .await;
    assert_eq!(root["entries"][0]["id"], mine.as_str(), "{root}");
    assert_eq!(root["entries"][0]["owned_by"]["id"], ALICE);
    let state = emu.state();
    let entry = state.tree.iter().find(|e| e.id == mine).expect("in state");
    assert_eq!(
        (entry.path.as_str(), entry.owner.as_str()),
        ("@101/mine", ALICE)
    );

    // An As-User id that is not a declared user keeps the old behaviour: the service
    // account's tree, as a co-owner would see it.
    let legacy = client.as_user("13");
    let made = legacy.ensure_folder("0", "legacy").await.unwrap();
    let (_, f) = raw(
        &emu,
        reqwest::Method::GET,
        &format!("/2.0/folders/{made}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (f["owned_by"]["id"].as_str(), f["created_by"]["id"].as_str()),
        (Some(SERVICE), Some("13"))
    );
}

#[tokio::test]
async fn owners_and_collaborations_survive_a_restart_over_a_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let config = || EmulatorConfig {
        enterprise: enterprise(),
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    };
    let (share, mine) = {
        let emu = start(config());
        let client = BoxClient::new(dev_config(&emu)).unwrap();
        let share = client.ensure_path("0", "share").await.unwrap();
        client
            .collaborate(
                &share,
                &Collaborator::User(ALICE.into()),
                CollabRole::Editor,
            )
            .await
            .unwrap();
        let (status, made) = raw(
            &emu,
            reqwest::Method::POST,
            "/2.0/folders",
            Some(ALICE),
            Some(json!({"name": "mine", "parent": {"id": "0"}})),
        )
        .await;
        assert_eq!(status, 201, "{made}");
        (share, made["id"].as_str().unwrap().to_string())
    };
    // The same enterprise declared again on restart adds nothing and changes no root.
    let emu = start(config());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let listed = client.folder_collaborations(&share).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(perms_upload(&client.as_user(ALICE), &share).await);
    let (status, f) = raw(
        &emu,
        reqwest::Method::GET,
        &format!("/2.0/folders/{mine}"),
        Some(ALICE),
        None,
    )
    .await;
    assert_eq!(
        (status, f["owned_by"]["id"].as_str()),
        (200, Some(ALICE)),
        "{f}"
    );
    assert_eq!(f["parent"]["id"], "0");
    assert_eq!(
        client.get_folder(&mine).await.unwrap_err().status,
        Some(404)
    );
}

#[tokio::test]
async fn users_and_groups_can_be_added_at_run_time() {
    let emu = emulator();
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/_emulator/enterprise", emu.base_url());
    let more = json!({"users": [{"id": "103", "login": "carol@corp.example"}],
        "groups": [{"name": "Finance", "members": ["103", "alice@corp.example"]}]});
    let resp = http.post(&url).json(&more).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let carol = client.find_user("carol@corp.example").await.unwrap();
    assert_eq!(carol.map(|u| u.id), Some("103".to_string()));
    let finance = client.find_group("finance").await.unwrap().expect("group");
    assert_eq!(client.group_members(&finance.id).await.unwrap().len(), 2);
    // Carol has a root of her own at once.
    let (status, made) = raw(
        &emu,
        reqwest::Method::POST,
        "/2.0/folders",
        Some("103"),
        Some(json!({"name": "c", "parent": {"id": "0"}})),
    )
    .await;
    assert_eq!(
        (status, made["owned_by"]["id"].as_str()),
        (201, Some("103")),
        "{made}"
    );
    // Refused as a whole, with the reason: the login is taken under another id.
    let clash = json!({"users": [{"id": "104", "login": "carol@corp.example"}]});
    let resp = http.post(&url).json(&clash).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("carol@corp.example"),
        "{body}"
    );
    assert_eq!(client.find_user("104").await.unwrap(), None);
    // In process, the same.
    let dave = EnterpriseSpec::from_json(r#"{"users":[{"id":"105","login":"dave@corp.example"}]}"#)
        .unwrap();
    emu.declare(&dave).unwrap();
    assert!(client.find_user("105").await.unwrap().is_some());
    assert!(
        emu.declare(&dave.clone()).is_ok(),
        "the same user again adds nothing"
    );
}
