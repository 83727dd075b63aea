//! The descriptors: `GET /jira/atlassian-connect.json` and `/confluence/atlassian-connect.json`,
//! one per product this deployment serves, and `GET /atlassian-connect.json` for a deployment
//! that serves one product only (with two, it names both).
use common::tenant::ProductType;
use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::descriptor::render_descriptor;
use crate::errors::ApiError;
use crate::state::AppState;

/// The rendered descriptor of each product served, rendered once from the settings.
#[derive(Debug, Default)]
pub struct Descriptors(Vec<(ProductType, Value)>);

impl Descriptors {
    /// Renders one descriptor per product `app.webhooks` subscribes for.
    pub fn render(app: &common::config::AppSettings) -> Self {
        Self(
            app.products()
                .into_iter()
                .map(|product| (product, render_descriptor(app, product)))
                .collect(),
        )
    }

    /// `product`'s descriptor, if it is served.
    pub fn of(&self, product: ProductType) -> Option<&Value> {
        self.0
            .iter()
            .find(|(served, _)| *served == product)
            .map(|(_, descriptor)| descriptor)
    }

    /// The only descriptor, when one product is served.
    fn only(&self) -> Option<&Value> {
        match self.0.as_slice() {
            [(_, descriptor)] => Some(descriptor),
            _ => None,
        }
    }
}

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let per_product = {
        let state = state.clone();
        warp::path!(String / "atlassian-connect.json")
            .and(warp::get())
            .map(move |product: String| {
                let served = ProductType::parse(&product)
                    .ok()
                    .and_then(|product| state.descriptors.of(product));
                match served {
                    Some(descriptor) => warp::reply::json(descriptor).into_response(),
                    None => ApiError::new(
                        StatusCode::NOT_FOUND,
                        "product_not_served",
                        "this app serves no descriptor for that product",
                    )
                    .into_response(),
                }
            })
    };
    let only = warp::path!("atlassian-connect.json")
        .and(warp::get())
        .map(move || match state.descriptors.only() {
            Some(descriptor) => warp::reply::json(descriptor).into_response(),
            None => ApiError::new(
                StatusCode::NOT_FOUND,
                "descriptor_per_product",
                "this app serves Jira and Confluence: register /jira/atlassian-connect.json in Jira and /confluence/atlassian-connect.json in Confluence",
            )
            .into_response(),
        });
    per_product.or(only).unify()
}
