//! How each subscribed event reaches hookline: by a Forge trigger or, with `--connect`, by its
//! Connect webhook; never both, since the ledger cannot tell a Connect webhook and a Forge
//! event of the same change apart (docs/forge.md §1). `forge.triggers` moves events to the
//! trigger, one `app.webhooks` entry at a time.
use std::collections::BTreeSet;

use anyhow::bail;
use common::config::Settings;
use common::forge::events::{forge_event_types, EVENTS};
use common::tenant::ProductType;

/// The `forge.triggers` entry that moves every event Forge can send.
pub const ALL: &str = "all";

/// Which `app.webhooks` entries (`product:event`) a Forge trigger delivers.
#[derive(Debug)]
pub struct Delivery<'a> {
    settings: &'a Settings,
    products: Vec<ProductType>,
    /// Delivered by a trigger; every other entry of `products` by its Connect webhook.
    triggered: BTreeSet<&'a str>,
    connect: bool,
}

/// `entry`'s product and event, and the Forge event types that deliver it (none when Forge
/// sends no such event, or the entry is malformed).
fn forge_types(entry: &str) -> Option<(ProductType, &str, Vec<&'static str>)> {
    let (product, event) = entry.split_once(':')?;
    let product = ProductType::parse(product).ok()?;
    Some((product, event, forge_event_types(product, event)))
}

impl<'a> Delivery<'a> {
    /// The plan for `products`: without `connect` every event is a trigger's; with it, those
    /// `forge.triggers` lists. Refuses an entry that is not in `app.webhooks`, that Forge cannot
    /// send, or that shares its Forge event with an entry left behind.
    pub fn plan(
        settings: &'a Settings,
        products: &[ProductType],
        connect: bool,
    ) -> anyhow::Result<Self> {
        let moved = moved_entries(settings)?;
        let entries = settings.app.webhooks.iter().map(String::as_str);
        let in_products = |entry: &&str| {
            forge_types(entry)
                .is_some_and(|(product, _, types)| products.contains(&product) && !types.is_empty())
        };
        let triggered = entries
            .filter(in_products)
            .filter(|entry| !connect || moved.contains(entry))
            .collect();
        Ok(Self {
            settings,
            products: products.to_vec(),
            triggered,
            connect,
        })
    }

    /// Whether `event` of `product` comes by its Connect webhook (only with `--connect`).
    pub fn by_connect(&self, product: ProductType, event: &str) -> bool {
        self.connect
            && !self
                .triggered
                .contains(format!("{product}:{event}").as_str())
    }

    /// The Forge event types `product`'s trigger names, in the order of [`EVENTS`], each once.
    pub fn trigger_events(&self, product: ProductType) -> Vec<&'static str> {
        let types: BTreeSet<&str> = self
            .triggered
            .iter()
            .filter_map(|entry| forge_types(entry))
            .filter(|(of, _, _)| *of == product)
            .flat_map(|(_, _, types)| types)
            .collect();
        EVENTS
            .iter()
            .map(|(forge, _, _)| *forge)
            .filter(|forge| types.contains(forge))
            .collect()
    }

    /// The `app.webhooks` entries of the manifest's products that no trigger and no Connect
    /// webhook delivers (Forge has no such event, and there is no Connect app).
    pub fn warnings(&self) -> Vec<String> {
        self.settings
            .app
            .webhooks
            .iter()
            .filter(|entry| match forge_types(entry) {
                Some((product, _, types)) => {
                    !self.connect && types.is_empty() && self.products.contains(&product)
                }
                None => true,
            })
            .map(|entry| {
                format!("app.webhooks entry {entry:?} has no Forge event; no trigger sends it")
            })
            .collect()
    }
}

/// The entries `forge.triggers` moves (every one Forge can send for `all`), checked.
fn moved_entries(settings: &Settings) -> anyhow::Result<BTreeSet<&str>> {
    let webhooks = &settings.app.webhooks;
    let can_move = |entry: &&str| forge_types(entry).is_some_and(|(_, _, t)| !t.is_empty());
    let mut moved = BTreeSet::new();
    for entry in settings.forge.triggers.iter().map(|entry| entry.trim()) {
        if entry == ALL {
            moved.extend(webhooks.iter().map(String::as_str).filter(can_move));
        } else if !webhooks.iter().any(|webhook| webhook == entry) {
            bail!(
                "forge.triggers entry {entry:?} is not an app.webhooks entry: list events as \
                 app.webhooks does ({}), or \"{ALL}\"",
                webhooks.join(", ")
            );
        } else if !can_move(&entry) {
            bail!(
                "forge.triggers entry {entry:?} has no Forge event (docs/forge.md §4 lists \
                 them): it can only come by its Connect webhook"
            );
        } else {
            moved.insert(entry);
        }
    }
    check_shared_events(webhooks, &moved)?;
    Ok(moved)
}

/// Refuses to move one of two entries that Forge sends as one event type (Jira's
/// `comment_created` and `comment_updated` are both `avi:jira:commented:issue`): the trigger
/// would deliver the other too, beside its Connect webhook.
fn check_shared_events(webhooks: &[String], moved: &BTreeSet<&str>) -> anyhow::Result<()> {
    let left = webhooks
        .iter()
        .filter(|entry| !moved.contains(entry.as_str()));
    for left in left {
        let Some((product, _, left_types)) = forge_types(left) else {
            continue;
        };
        for entry in moved {
            let shared = forge_types(entry)
                .filter(|(of, _, _)| *of == product)
                .and_then(|(_, _, types)| types.into_iter().find(|t| left_types.contains(t)));
            if let Some(shared) = shared {
                bail!(
                    "forge.triggers moves {entry:?} but not {left:?}: Forge sends both as \
                     {shared}, so its trigger would deliver {left:?} too, beside the Connect \
                     webhook; list both or neither"
                );
            }
        }
    }
    Ok(())
}
