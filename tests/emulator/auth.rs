//! Tokens: 401s, Client Credentials Grant, JWT bearer grant, refresh.
use std::sync::OnceLock;
use std::time::Duration;

use boxlift::emulator::EmulatorConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::common::emu::{Emu, send};

/// (private PEM, public PEM) pairs, generated once per test binary (2048-bit, as Box).
fn keys() -> &'static [(String, String); 2] {
    static KEYS: OnceLock<[(String, String); 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let make = || {
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key");
            let private = key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string();
            let public = rsa::RsaPublicKey::from(&key)
                .to_public_key_pem(LineEnding::LF)
                .expect("pem");
            (private, public)
        };
        [make(), make()]
    })
}

fn jwt_emu() -> Emu {
    Emu::with(EmulatorConfig {
        jwt_public_keys: vec![("kid-1".into(), keys()[0].1.clone())],
        ..EmulatorConfig::default()
    })
}

fn assertion(private_pem: &str, alg: Algorithm, kid: &str, claims: serde_json::Value) -> String {
    let header = Header {
        alg,
        kid: Some(kid.into()),
        ..Header::default()
    };
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key");
    jsonwebtoken::encode(&header, &claims, &key).expect("jwt")
}

fn claims(aud: &str, exp_in: i64, jti: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": "emu-client",
        "sub": "12345",
        "box_sub_type": "enterprise",
        "aud": aud,
        "jti": jti,
        "exp": chrono::Utc::now().timestamp() + exp_in,
    })
}

async fn jwt_grant(emu: &Emu, assertion: &str) -> (u16, serde_json::Value) {
    send(emu.http.post(emu.handle.oauth_url()).form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
        ("client_id", "emu-client"),
        ("client_secret", "emu-secret"),
    ]))
    .await
}

// On a paused clock with the emulator on this runtime: the token TTL is measured on tokio's
// clock, moved by `advance`, not by sleeping past it.
#[tokio::test(start_paused = true)]
async fn missing_unknown_and_expired_tokens_get_a_bare_401() {
    let emu = Emu::here(EmulatorConfig {
        token_ttl: Duration::from_millis(300),
        ..EmulatorConfig::default()
    });
    for req in [
        emu.http.get(emu.url("/2.0/folders/0")),
        emu.http.get(emu.url("/2.0/folders/0")).bearer_auth("nope"),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.contains("error=\"invalid_token\""), "{www}");
        assert!(resp.headers().contains_key("box-request-id"));
        assert_eq!(resp.text().await.unwrap(), "");
    }
    let (status, tok) = send(emu.http.post(emu.handle.oauth_url()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "emu-client"),
        ("client_secret", "emu-secret"),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", "42"),
    ]))
    .await;
    assert_eq!(status, 200, "{tok}");
    let token = tok["access_token"].as_str().unwrap().to_string();
    let folder = || emu.http.get(emu.url("/2.0/folders/0")).bearer_auth(&token);
    assert_eq!(folder().send().await.unwrap().status(), 200);
    // Live until its TTL (300 ms), expired right after.
    tokio::time::advance(Duration::from_millis(290)).await;
    assert_eq!(folder().send().await.unwrap().status(), 200);
    tokio::time::advance(Duration::from_millis(20)).await;
    assert_eq!(folder().send().await.unwrap().status(), 401);
    let counts = &emu.handle.state().counters.requests["GET /2.0/folders/{id}"];
    assert_eq!(counts["401"], 3);
    assert_eq!(counts["200"], 2);
}

#[tokio::test]
async fn client_credentials_grant_checks_client_and_subject() {
    let emu = Emu::start();
    let grant = |secret: &'static str, subject_type: &'static str| {
        emu.http.post(emu.handle.oauth_url()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "emu-client"),
            ("client_secret", secret),
            ("box_subject_type", subject_type),
            ("box_subject_id", "42"),
        ])
    };
    let (status, body) = send(grant("emu-secret", "user")).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    let (status, body) = send(grant("wrong", "user")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let (status, body) = send(grant("emu-secret", "group")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = send(
        emu.http
            .post(emu.handle.oauth_url())
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn jwt_grant_checks_signature_and_claims() {
    let emu = jwt_emu();
    let box_aud = "https://api.box.com/oauth2/token";
    let good = assertion(
        &keys()[0].0,
        Algorithm::RS256,
        "kid-1",
        claims(box_aud, 30, "jti-0000000000000001"),
    );
    let (status, body) = jwt_grant(&emu, &good).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let resp = emu
        .http
        .get(emu.url("/2.0/folders/0"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The emulator's own token URL is accepted as aud too; RS512 works.
    let own = assertion(
        &keys()[0].0,
        Algorithm::RS512,
        "kid-1",
        claims(&emu.handle.oauth_url(), 30, "jti-0000000000000002"),
    );
    assert_eq!(jwt_grant(&emu, &own).await.0, 200);

    let bad_cases = [
        ("reused jti", good.clone()),
        (
            "other key",
            assertion(
                &keys()[1].0,
                Algorithm::RS256,
                "kid-1",
                claims(box_aud, 30, "jti-0000000000000003"),
            ),
        ),
        (
            "unknown kid",
            assertion(
                &keys()[0].0,
                Algorithm::RS256,
                "kid-9",
                claims(box_aud, 30, "jti-0000000000000004"),
            ),
        ),
        (
            "bad aud",
            assertion(
                &keys()[0].0,
                Algorithm::RS256,
                "kid-1",
                claims("https://example.com/token", 30, "jti-0000000000000005"),
            ),
        ),
        (
            "exp too far",
            assertion(
                &keys()[0].0,
                Algorithm::RS256,
                "kid-1",
                claims(box_aud, 120, "jti-0000000000000006"),
            ),
        ),
        (
            "expired",
            assertion(
                &keys()[0].0,
                Algorithm::RS256,
                "kid-1",
                claims(box_aud, -5, "jti-0000000000000007"),
            ),
        ),
        (
            "short jti",
            assertion(
                &keys()[0].0,
                Algorithm::RS256,
                "kid-1",
                claims(box_aud, 30, "short"),
            ),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, jwt) in bad_cases {
        let (status, body) = jwt_grant(&emu, &jwt).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
    }
    let mut wrong_iss = claims(box_aud, 30, "jti-0000000000000008");
    wrong_iss["iss"] = "someone-else".into();
    let jwt = assertion(&keys()[0].0, Algorithm::RS256, "kid-1", wrong_iss);
    assert_eq!(jwt_grant(&emu, &jwt).await.0, 400);
}

#[tokio::test]
async fn refresh_token_is_single_use_and_issues_a_new_pair() {
    let emu = Emu::start();
    let (_, first) = send(emu.http.post(emu.handle.oauth_url()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "emu-client"),
        ("client_secret", "emu-secret"),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", "1"),
    ]))
    .await;
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    let grant = || {
        emu.http.post(emu.handle.oauth_url()).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "emu-client"),
            ("client_secret", "emu-secret"),
        ])
    };
    let (status, second) = send(grant()).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    let token = second["access_token"].as_str().unwrap();
    let resp = emu
        .http
        .get(emu.url("/2.0/folders/0"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = send(grant()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// `/_emulator/auth`: revoking makes every access token issued so far (developer and granted)
/// answer as Box answers a revoked token (401, empty body, `WWW-Authenticate` invalid_token);
/// refusing grants answers every token request 400 `invalid_grant` with an OAuth 2 error body
/// (Box's OpenAPI `post_oauth2_token`), until switched back; a new developer token works.
#[tokio::test]
async fn revoked_tokens_get_a_bare_401_and_refused_grants_invalid_grant() {
    let emu = Emu::start();
    let ccg = || {
        emu.http.post(emu.handle.oauth_url()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "emu-client"),
            ("client_secret", "emu-secret"),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", "42"),
        ])
    };
    let (status, tok) = send(ccg()).await;
    assert_eq!(status, 200, "{tok}");
    let granted = tok["access_token"].as_str().unwrap().to_string();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let folder = |token: &str| emu.http.get(emu.url("/2.0/folders/0")).bearer_auth(token);
    assert_eq!(folder("dev-token").send().await.unwrap().status(), 200);
    assert_eq!(folder(&granted).send().await.unwrap().status(), 200);

    let (status, body) = send(emu.http.post(emu.url("/_emulator/auth/revoke"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["revoked"], 2, "{body}");
    for token in ["dev-token", granted.as_str()] {
        let resp = folder(token).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{token}");
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            www.starts_with("Bearer realm=\"Service\"") && www.contains("error=\"invalid_token\""),
            "{www}"
        );
        assert_eq!(resp.text().await.unwrap(), "");
    }
    // Revoked access tokens do not stop new grants.
    let (status, tok) = send(ccg()).await;
    assert_eq!(status, 200, "{tok}");
    let fresh = tok["access_token"].as_str().unwrap().to_string();
    assert_eq!(folder(&fresh).send().await.unwrap().status(), 200);

    let (status, body) = send(
        emu.http
            .put(emu.url("/_emulator/auth"))
            .json(&serde_json::json!({"refuse_grants": true})),
    )
    .await;
    assert_eq!(
        (status, &body["refuse_grants"]),
        (200, &serde_json::json!(true))
    );
    let (status, body) = send(ccg()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let (status, body) = send(emu.http.post(emu.handle.oauth_url()).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ]))
    .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_grant"), Some("Invalid refresh token"))
    );
    // Issued tokens are not touched by refusing grants.
    assert_eq!(folder(&fresh).send().await.unwrap().status(), 200);
    let (status, body) = send(emu.http.get(emu.url("/_emulator/auth"))).await;
    assert_eq!(
        (status, &body["refuse_grants"]),
        (200, &serde_json::json!(true))
    );
    emu.http
        .put(emu.url("/_emulator/auth"))
        .json(&serde_json::json!({"refuse_grants": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(send(ccg()).await.0, 200);

    // A new developer token from the console.
    assert_eq!(folder("dev-token-2").send().await.unwrap().status(), 401);
    let resp = emu
        .http
        .post(emu.url("/_emulator/auth/developer_tokens"))
        .json(&serde_json::json!({"token": "dev-token-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(folder("dev-token-2").send().await.unwrap().status(), 200);
    let counts = &emu.handle.state().counters.requests["POST /oauth2/token"];
    assert_eq!((counts["200"], counts["400"]), (3, 2), "{counts:?}");
}
