//! The audit log is complete: every state-changing admin route in the OpenAPI document (and
//! every console server function, which call the same `Admin` methods) writes exactly one
//! audit row, and where it changes something that existed, the row's "before" is what the
//! database held (read in the same transaction), not what the request implies.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The console's server functions, each either a read or the `Admin` method it calls (the same
/// as the JSON route's, audited there). A new one fails the test until it is listed here.
const SERVER_FUNCTIONS: &[(&str, Option<&str>)] = &[
    ("admin_audit", None),
    ("admin_campaigns", None),
    ("admin_flags", None),
    ("admin_imports", None),
    ("admin_model_detail", None),
    ("admin_models", None),
    ("admin_pairing", None),
    ("admin_quarantine", None),
    ("admin_users", None),
    ("admin_votes", None),
    ("admin_clear_throttle", Some("clear_throttle")),
    ("admin_delete_endpoint", Some("delete_endpoint")),
    ("admin_import_benchmarks", Some("import_benchmarks")),
    ("admin_moderate", Some("void_vote")),
    ("admin_save_campaign", Some("save_campaign")),
    ("admin_save_endpoint", Some("add_endpoint")),
    ("admin_save_model", Some("create_model")),
    ("admin_set_active", Some("retire")),
    ("admin_set_policy", Some("set_policy")),
    ("admin_set_role", Some("set_role")),
    ("admin_set_rule", Some("set_rule")),
    ("admin_set_version_of", Some("set_version_of")),
    ("admin_test_endpoint", Some("test_endpoint")),
];

#[test]
fn every_console_server_function_is_classified() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/src/admin");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split("endpoint = \"").skip(1) {
            found.insert(part.split('"').next().unwrap().to_owned());
        }
    }
    let listed: BTreeSet<String> = SERVER_FUNCTIONS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    assert_eq!(found, listed, "classify each console server function here");
}

struct Step {
    method: reqwest::Method,
    /// The route as the OpenAPI document names it.
    template: &'static str,
    path: String,
    body: Option<Body>,
    /// The audit action written, or None: the route changes nothing (no row).
    action: Option<&'static str>,
    /// SQL giving the value the row's "before" must hold (read before the call), and the key
    /// of "before" it is compared with.
    before: Option<(String, &'static str)>,
}

enum Body {
    Json(Value),
    Csv(&'static str),
}

fn step(
    method: reqwest::Method,
    template: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    action: Option<&'static str>,
) -> Step {
    Step {
        method,
        template,
        path: path.into(),
        body: body.map(Body::Json),
        action,
        before: None,
    }
}

fn reads(mut s: Step, sql: impl Into<String>, key: &'static str) -> Step {
    s.before = Some((sql.into(), key));
    s
}

#[tokio::test]
async fn every_state_changing_admin_route_writes_one_audit_row_with_a_read_before() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| s.secrets.key = Some(arena_core::config::Secret::new("ab".repeat(32))),
    )
    .await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let _vol = signed_in_as(&app, "vol", "volunteer").await;
    // Votes to moderate: three voters, a battle each.
    let mut voters = Vec::new();
    for prompt in ["one", "two", "three"] {
        let client = app.client();
        let id = app.create_battle(&client, prompt).await;
        app.read_stream(&client, &id).await;
        assert_eq!(app.vote(&client, &id, "model_a", None).await.0, 200);
        voters.push(client);
    }
    let ids: Vec<(i64, uuid::Uuid, uuid::Uuid)> =
        sqlx::query_as("select id, battle_id, voter_id from vote order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let (vote, _, voter) = ids[0];
    let (_, battle2, voter2) = ids[1];
    let reason = json!({"reason": "checked by hand"});
    let endpoint: uuid::Uuid = sqlx::query_scalar(
        "select e.id from model_endpoint e join model m on m.id = e.model_id
         where m.key = 'alpha' limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (_, m) = app.get_json(&admin, "/api/v1/admin/models/alpha").await;
    let mut alpha = json!({"key": "alpha", "display_name": "Alpha two", "organization": "Org",
                           "license": "MIT", "max_tokens": 16, "weight": 2.0,
                           "temperature": 0.5});
    alpha["version"] = m["version"].clone();
    let (_, p) = app.get_json(&admin, "/api/v1/admin/pairing").await;
    let policy = json!({"mode": "active", "uniform_floor": 0.3, "warmup_votes": 10,
                        "warmup_boost": 2, "version": p["version"]});
    let campaign = json!({
        "slug": "euskara", "name": "Euskarazko arena", "description": "Basque.",
        "starts_at": null, "ends_at": null, "languages": ["eu"], "models": ["alpha", "beta"],
        "pairing": "uniform", "sign_in_required": false, "questions": [], "version": null,
    });
    use reqwest::Method as M;
    let a = "/api/v1/admin";
    let mut steps = vec![
        step(
            M::POST,
            "/api/v1/admin/models",
            format!("{a}/models"),
            Some(
                json!({"key": "gamma", "display_name": "Gamma", "organization": "Org",
                         "license": "MIT", "max_tokens": 16, "weight": 1.0, "temperature": 0.5}),
            ),
            Some("model.create"),
        ),
        reads(
            step(
                M::PUT,
                "/api/v1/admin/models/{key}",
                format!("{a}/models/alpha"),
                Some(alpha),
                Some("model.update"),
            ),
            "select to_jsonb(display_name) from model where key = 'alpha'",
            "display_name",
        ),
        step(
            M::PUT,
            "/api/v1/admin/models/{key}/version-of",
            format!("{a}/models/gamma/version-of"),
            Some(json!({"base": "alpha"})),
            Some("model.version_of"),
        ),
        step(
            M::POST,
            "/api/v1/admin/models/{key}/endpoints",
            format!("{a}/models/gamma/endpoints"),
            Some(
                json!({"base_url": "http://10.0.0.1/v1", "upstream_model": "g",
                         "max_concurrency": 2}),
            ),
            Some("endpoint.create"),
        ),
        reads(
            step(
                M::PUT,
                "/api/v1/admin/endpoints/{id}",
                format!("{a}/endpoints/{endpoint}"),
                Some(
                    json!({"base_url": "http://10.0.0.2/v1", "upstream_model": "alpha-2",
                               "max_concurrency": 3}),
                ),
                Some("endpoint.update"),
            ),
            format!("select to_jsonb(upstream_model) from model_endpoint where id = '{endpoint}'"),
            "upstream_model",
        ),
        step(
            M::POST,
            "/api/v1/admin/endpoints/{id}/test",
            format!("{a}/endpoints/{endpoint}/test"),
            None,
            None,
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/models/{key}/retire",
                format!("{a}/models/gamma/retire"),
                None,
                Some("model.retire"),
            ),
            "select to_jsonb(active) from model where key = 'gamma'",
            "active",
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/models/{key}/reactivate",
                format!("{a}/models/gamma/reactivate"),
                None,
                Some("model.reactivate"),
            ),
            "select to_jsonb(active) from model where key = 'gamma'",
            "active",
        ),
        reads(
            step(
                M::PUT,
                "/api/v1/admin/pairing",
                format!("{a}/pairing"),
                Some(policy),
                Some("pairing.policy"),
            ),
            "select to_jsonb(mode) from pairing_policy",
            "mode",
        ),
        step(
            M::PUT,
            "/api/v1/admin/pairing/rules",
            format!("{a}/pairing/rules"),
            Some(json!({"model_a": "alpha", "model_b": "gamma", "boost": 0.5})),
            Some("pairing.rule"),
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/votes/{id}/{action}",
                format!("{a}/votes/{vote}/void"),
                Some(reason.clone()),
                Some("vote.void"),
            ),
            format!("select to_jsonb(count(*) filter (where voided)) from vote where id = {vote}"),
            "voided",
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/votes/{id}/{action}",
                format!("{a}/votes/{vote}/unvoid"),
                Some(reason.clone()),
                Some("vote.unvoid"),
            ),
            format!("select to_jsonb(count(*) filter (where voided)) from vote where id = {vote}"),
            "voided",
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/voters/{id}/{action}",
                format!("{a}/voters/{voter2}/void"),
                Some(reason.clone()),
                Some("voter.void_votes"),
            ),
            format!("select to_jsonb(count(*)) from vote where voter_id = '{voter2}'"),
            "votes",
        ),
        step(
            M::POST,
            "/api/v1/admin/voters/{id}/{action}",
            format!("{a}/voters/{voter2}/unvoid"),
            Some(reason.clone()),
            Some("voter.unvoid_votes"),
        ),
        step(
            M::POST,
            "/api/v1/admin/voters/{id}/{action}",
            format!("{a}/voters/{voter}/ban"),
            Some(reason.clone()),
            Some("voter.ban"),
        ),
        step(
            M::POST,
            "/api/v1/admin/voters/{id}/{action}",
            format!("{a}/voters/{voter}/unban"),
            Some(reason.clone()),
            Some("voter.unban"),
        ),
        reads(
            step(
                M::POST,
                "/api/v1/admin/battles/{id}/{action}",
                format!("{a}/battles/{battle2}/void"),
                Some(reason.clone()),
                Some("battle.void_votes"),
            ),
            format!(
                "select to_jsonb(count(*) filter (where voided)) from vote where battle_id = '{battle2}'"
            ),
            "voided",
        ),
        reads(
            step(
                M::PUT,
                "/api/v1/admin/users/{username}/role",
                format!("{a}/users/vol/role"),
                Some(json!({"role": "researcher"})),
                Some("user.role"),
            ),
            "select to_jsonb(role) from app_user where username = 'vol'",
            "role",
        ),
        step(
            M::POST,
            "/api/v1/admin/users/{username}/clear-throttle",
            format!("{a}/users/vol/clear-throttle"),
            None,
            Some("user.clear_throttle"),
        ),
        step(
            M::POST,
            "/api/v1/admin/campaigns",
            format!("{a}/campaigns"),
            Some(campaign.clone()),
            Some("campaign.create"),
        ),
        reads(
            step(
                M::DELETE,
                "/api/v1/admin/endpoints/{id}",
                format!("{a}/endpoints/{endpoint}"),
                None,
                Some("endpoint.delete"),
            ),
            format!("select to_jsonb(upstream_model) from model_endpoint where id = '{endpoint}'"),
            "upstream_model",
        ),
        Step {
            method: M::POST,
            template: "/api/v1/admin/benchmarks",
            path: format!("{a}/benchmarks"),
            body: Some(Body::Csv("model,agree\nalpha,80\nbeta,70\n")),
            action: Some("benchmarks.import"),
            before: None,
        },
        Step {
            method: M::POST,
            template: "/api/v1/admin/imports",
            path: format!("{a}/imports?source=kaggle&schema=kaggle-55k&format=csv"),
            body: Some(Body::Csv(
                "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n\
                 1,alpha,beta,\"[\"\"hi\"\"]\",\"[\"\"a\"\"]\",\"[\"\"b\"\"]\",1,0,0\n",
            )),
            action: Some("import"),
            before: None,
        },
    ];
    // The campaign's edit needs its version, read after it exists.
    let mut edit = campaign;
    edit["name"] = json!("Euskara");
    steps.push(reads(
        step(
            M::PUT,
            "/api/v1/admin/campaigns/{slug}",
            format!("{a}/campaigns/euskara"),
            Some(edit),
            Some("campaign.update"),
        ),
        "select to_jsonb(name) from campaign where slug = 'euskara'",
        "name",
    ));

    // Every state-changing admin operation of the OpenAPI document is in the list, and only those.
    let (s, doc) = app.get_json(&admin, "/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            if ["post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<(String, String)> = steps
        .iter()
        .map(|s| (s.method.to_string(), s.template.to_owned()))
        .collect();
    assert_eq!(
        documented, tested,
        "every state-changing admin route has a step here"
    );

    for s in steps {
        let before_value: Option<Value> = match &s.before {
            Some((sql, _)) => Some(
                sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_one(&app.pool)
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let rows_before = app.count("select count(*) from audit_log").await;
        let mut request = admin.request(s.method.clone(), format!("{}{}", app.url, s.path));
        match s.body {
            Some(Body::Json(mut v)) => {
                if s.template == "/api/v1/admin/campaigns/{slug}" {
                    let version: i64 = app
                        .count("select version::bigint from campaign where slug = 'euskara'")
                        .await;
                    v["version"] = json!(version);
                }
                request = request.json(&v);
            }
            Some(Body::Csv(text)) => {
                request = request.header("content-type", "text/csv").body(text);
            }
            None => {}
        }
        let r = request.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(
            status.is_success(),
            "{} {}: {status} {text}",
            s.method,
            s.path
        );
        let rows_after = app.count("select count(*) from audit_log").await;
        let Some(action) = s.action else {
            assert_eq!(
                rows_after, rows_before,
                "{} {} changes nothing",
                s.method, s.path
            );
            continue;
        };
        assert_eq!(
            rows_after,
            rows_before + 1,
            "{} {}: exactly one audit row",
            s.method,
            s.path
        );
        let (written, before): (String, Option<Value>) =
            sqlx::query_as("select action, before from audit_log order by id desc limit 1")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(written, action, "{} {}", s.method, s.path);
        if let (Some((_, key)), Some(expected)) = (&s.before, before_value) {
            let before = before.unwrap_or_else(|| panic!("{action}: no before"));
            assert_eq!(before[key], expected, "{action}: before.{key} in {before}");
        }
    }
}
