//! `hookline keys rotate` on PostgreSQL: every secret moves to a new key, the key file ends
//! with that key alone (mode 0600), and an interrupted rotation finishes when run again.
mod admin_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use admin_support::{ck, secret_of, AdminEnv};
use base64::Engine;
use common::connect::SharedSecret;
use common::crypto::Keyring;
use common::entities::tenants;
use common::tenant::{ProductType, TenantStore};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const SITES: [&str; 3] = ["site-a", "site-b", "site-c"];

async fn seeded() -> AdminEnv {
    let env = AdminEnv::postgres().await;
    for site in SITES {
        env.install(site, ProductType::Jira).await;
    }
    env
}

/// The key ids the stored secrets are encrypted under, one per tenant.
async fn stored_key_ids(env: &AdminEnv) -> Vec<String> {
    tenants::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.shared_secret.split(':').next().unwrap().to_owned())
        .collect()
}

/// Overwrites a tenant's stored (encrypted) secret.
async fn set_stored_secret(env: &AdminEnv, client_key: &str, stored: String) {
    tenants::Entity::update_many()
        .col_expr(tenants::Column::SharedSecret, Expr::value(stored))
        .filter(tenants::Column::ClientKey.eq(client_key))
        .exec(&env.db)
        .await
        .unwrap();
}

fn key_file_ids(path: &Path) -> Vec<String> {
    let ring = Keyring::load_key_file(path).expect("the key file loads (so its mode is 0600)");
    ring.key_ids().into_iter().map(str::to_owned).collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every tenant decrypts with the key file as it is now, to its original secret.
async fn every_tenant_decrypts(env: &AdminEnv) {
    let store = env.tenants();
    for site in SITES {
        let tenant = store.find_by_client_key(&ck(site)).await.unwrap().unwrap();
        assert_eq!(
            tenant.shared_secret,
            Some(SharedSecret::new(secret_of(site)))
        );
    }
}

#[tokio::test]
async fn rotate_moves_every_secret_to_a_new_key_and_retires_the_old_one() {
    let env = seeded().await;
    let path = env.key_file();
    let old = key_file_ids(&path);
    assert_eq!(old.len(), 1);
    assert!(stored_key_ids(&env).await.iter().all(|kid| *kid == old[0]));

    let out = env.ok(&["keys", "rotate"]);
    let new = key_file_ids(&path);
    assert_eq!(new.len(), 1, "only the new key is left");
    assert_ne!(new[0], old[0]);
    assert!(stored_key_ids(&env).await.iter().all(|kid| *kid == new[0]));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    every_tenant_decrypts(&env).await;
    for expected in [
        "1/4",
        "re-encrypted 3 tenant secret(s)",
        "all 3 tenant secret(s)",
        "4/4",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    assert!(out.contains(&format!("retired: {}", old[0])), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no progress bar when stdout is not a terminal"
    );

    // A second rotation moves on to a third key.
    env.ok(&["keys", "rotate"]);
    let third = key_file_ids(&path);
    assert!(third.len() == 1 && third[0] != new[0] && third[0] != old[0]);
    assert!(stored_key_ids(&env)
        .await
        .iter()
        .all(|kid| *kid == third[0]));
    every_tenant_decrypts(&env).await;
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_with_the_key_it_had_written() {
    let env = seeded().await;
    let path = env.key_file();
    let old = Keyring::load_key_file(&path).unwrap();
    // Step 1 as an interrupted run leaves it: the new key first, the old one kept, and one
    // secret already re-encrypted.
    let interrupted = old.with_new_active_key();
    interrupted.write_key_file(&path).unwrap();
    let new_kid = interrupted.active_key_id().to_owned();
    let secret = interrupted.encrypt(&secret_of("site-b"), b"site-b");
    set_stored_secret(&env, "site-b", secret).await;

    let out = env.ok(&["keys", "rotate"]);
    assert!(
        out.contains(&format!("resuming a rotation to key {new_kid}")),
        "{out}"
    );
    assert!(out.contains("re-encrypted 2 tenant secret(s)"), "{out}");
    assert_eq!(key_file_ids(&path), [new_kid.as_str()]);
    assert!(stored_key_ids(&env).await.iter().all(|kid| *kid == new_kid));
    every_tenant_decrypts(&env).await;
}

#[tokio::test]
async fn a_secret_the_new_key_cannot_read_keeps_the_old_keys_in_the_file() {
    let env = seeded().await;
    let path = env.key_file();
    // A row under a key the file never had: re-encryption cannot read it.
    let stranger = Keyring::from_spec(&format!(
        "kstranger={}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    ))
    .unwrap();
    set_stored_secret(&env, "site-c", stranger.encrypt("x", b"site-c")).await;

    let (_, err) = env.fails(&["keys", "rotate"]);
    assert!(err.contains("kstranger"), "{err}");
    assert_eq!(
        key_file_ids(&path).len(),
        2,
        "the old key is kept for a re-run"
    );
}

#[tokio::test]
async fn one_inline_key_gets_a_new_key_to_put_first_and_nothing_changes() {
    let mut env = seeded().await;
    let spec = format!(
        "kinline={}",
        base64::engine::general_purpose::STANDARD.encode([1u8; 32])
    );
    env.set_var("HOOKLINE_SECURITY__ENCRYPTION_KEYS", &spec);
    let (out, err) = env.fails(&["keys", "rotate"]);
    assert!(
        err.contains("security.encryption_keys needs a new first key"),
        "{err}"
    );
    let new_entry = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('k') && l.contains('='))
        .expect("a new key spec entry");
    Keyring::from_spec(new_entry).expect("the printed entry is a valid key spec");
    assert!(
        !out.contains(&spec[8..]) && !err.contains(&spec[8..]),
        "the key is never echoed"
    );
}

#[tokio::test]
async fn several_inline_keys_are_rotated_to_the_first() {
    let mut env = seeded().await;
    // The key file's key becomes the old inline key, behind a new first one.
    let text = std::fs::read_to_string(env.key_file()).unwrap();
    let old = text
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .to_owned();
    let old_kid = old.split('=').next().unwrap().to_owned();
    std::fs::remove_file(env.key_file()).unwrap();
    let new = Keyring::new_key_spec();
    let new_kid = new.split('=').next().unwrap().to_owned();
    env.set_var(
        "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
        &format!("{new},{old}"),
    );

    let out = env.ok(&["keys", "rotate"]);
    assert!(out.contains("re-encrypted 3 tenant secret(s)"), "{out}");
    assert!(
        out.contains(&format!("remove {old_kid} from security.encryption_keys")),
        "{out}"
    );
    assert!(stored_key_ids(&env).await.iter().all(|kid| *kid == new_kid));
    assert!(
        !env.key_file().exists(),
        "no key file is written for inline keys"
    );
    let store = TenantStore::new(
        env.db.clone(),
        Arc::new(Keyring::from_spec(&new).unwrap()),
        Duration::ZERO,
    );
    for site in SITES {
        let tenant = store.find_by_client_key(&ck(site)).await.unwrap().unwrap();
        assert_eq!(
            tenant.shared_secret,
            Some(SharedSecret::new(secret_of(site)))
        );
    }
}

#[tokio::test]
async fn rotate_uses_the_configured_key_file() {
    let mut env = seeded().await;
    let elsewhere = env.dir.path().join("keys/hookline-keys");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    std::fs::rename(env.key_file(), &elsewhere).unwrap();
    env.set_var("HOOKLINE_SECURITY__KEY_FILE", elsewhere.to_str().unwrap());
    let before = key_file_ids(&elsewhere);
    env.ok(&["keys", "rotate"]);
    let after = key_file_ids(&elsewhere);
    assert!(after.len() == 1 && after != before);
    assert!(stored_key_ids(&env)
        .await
        .iter()
        .all(|kid| *kid == after[0]));
    assert!(
        !env.key_file().exists(),
        "no key file is created at the default path"
    );
}
