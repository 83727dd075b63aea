//! `hookline migrate [up|down|status]`.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use common::config::Settings;
use migrations::Migrator;
use sea_orm_migration::MigratorTrait;

use crate::cli::{MigrateAction, MigrateArgs};

pub async fn run(config: Option<&Path>, args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let url = match args.database_url {
        Some(url) => url,
        None => Settings::load(config)?.database_url(),
    };
    if let Some(dir) = sqlite_parent_dir(&url) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    let db = common::db::connect(&url)
        .await
        .with_context(|| format!("connecting to the database at {}", redact(&url)))?;
    match args.action.unwrap_or(MigrateAction::Up) {
        MigrateAction::Up => {
            Migrator::up(&db, None)
                .await
                .context("applying migrations")?;
            println!("database is up to date");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(&db, Some(steps))
                .await
                .context("rolling back migrations")?;
            println!("rolled back {steps} migration(s)");
        }
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!(
                    "{:<10} {}",
                    format!("{:?}", migration.status()),
                    migration.name()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sqlite_parent_dir(url: &str) -> Option<&Path> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
