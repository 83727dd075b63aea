//! Every error the ingress answers with: a status and a short JSON body `{code, message}`.
use common::connect::JwtError;
use common::queue::PublishError;
use serde::Serialize;
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::body::BodyError;
use crate::caller::Refused;

/// Seconds Jira should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// An error answered to the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// A short human-readable message (never a token, secret or payload).
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 403 with `code`.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 503 (with `Retry-After`) with `code`.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 500 for a failure of ours; the cause is logged, not answered.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            context.to_owned(),
        )
    }
}

impl From<JwtError> for ApiError {
    fn from(error: JwtError) -> Self {
        if error.is_internal() {
            tracing::error!(error = %error, code = error.code(), "token verification failed on our side");
            return Self::unavailable(error.code(), "the tenant store is unavailable; retry later");
        }
        Self::new(StatusCode::UNAUTHORIZED, error.code(), error.to_string())
    }
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> Self {
        Self::unavailable(error.code(), error.to_string())
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = warp::reply::json(&Body {
            code: self.code,
            message: &self.message,
        });
        let mut response = warp::reply::with_status(body, self.status).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
        }
        response
    }
}

/// Maps warp's own rejections (no route, body too large, ...) to JSON errors.
pub async fn handle_rejection(rejection: Rejection) -> Result<Response, std::convert::Infallible> {
    let error = if let Some(Refused(error)) = rejection.find::<Refused>() {
        error.clone()
    } else if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    } else if let Some(error) = rejection.find::<BodyError>() {
        ApiError::from(*error)
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json",
        )
    } else {
        tracing::debug!(?rejection, "unhandled rejection");
        ApiError::bad_request("bad_request", "the request could not be read")
    };
    Ok(error.into_response())
}
