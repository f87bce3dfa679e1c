//! The HTTP API (`/v1`): JSON in and out, bearer tokens, and errors as
//! `application/problem+json` whose `detail` says what to do.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::principal::Principal;
use crate::service::{AnswerRequest, Service, ServiceError, SubmitRequest};
use crate::store::now_ms;

/// The router for `service`.
pub fn router(service: Service) -> Router {
    let limit = service.limits().max_body_bytes;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/ready", get(ready))
        .route("/v1/approvals", post(submit))
        .route("/v1/approvals/{id}", get(status))
        .route("/v1/approvals/{id}/slot", post(open_slot))
        .route("/v1/approvals/{id}/answer", post(answer))
        .route("/v1/approvals/{id}/cancel", post(cancel))
        .route("/v1/approvals/{id}/decision", get(decision))
        .route("/v1/public-key", get(public_key))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/inbox", get(inbox))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(service))
}

/// Serves the API on `listener` until `shutdown` completes, settling
/// expired approvals every second meanwhile.
pub async fn serve<S>(listener: TcpListener, service: Service, shutdown: S) -> std::io::Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    let sweeper = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                ticks.tick().await;
                if let Err(err) = service.sweep(now_ms()).await {
                    eprintln!("attesta serve: warning: settling expired approvals failed: {err}");
                }
            }
        })
    };
    let served = axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    served
}

type Shared = State<Arc<Service>>;

/// An error response in RFC 9457 form.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(err: ServiceError) -> Self {
        let status = match &err {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, err.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The principal behind the request's bearer token.
async fn principal(service: &Service, headers: &HeaderMap) -> Result<Principal, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "no Authorization header; send `Authorization: Bearer <token>` with a token from \
             `attesta server principals add`",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    Ok(service.authenticate(token).await?)
}

/// A JSON body of type `T`, with errors that name the problem.
fn body<T: DeserializeOwned>(
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    let bytes = bytes.map_err(|rejection| {
        let status = rejection.status();
        let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the body is larger than this server accepts; send less".to_owned()
        } else {
            format!("the body could not be read: {rejection}")
        };
        Problem::new(status, detail)
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not a valid request: {e}"),
        )
    })
}

async fn health() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn ready(State(service): Shared) -> Response {
    match service.store().ping().await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(e) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        )
        .into_response(),
    }
}

async fn submit(
    State(service): Shared,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    let request: SubmitRequest = body(&headers, bytes)?;
    let (view, created) = service.submit(&who, request, now_ms()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &view))
}

async fn status(
    State(service): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    Ok(json(StatusCode::OK, &service.status(&who, &id).await?))
}

async fn open_slot(
    State(service): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    Ok(json(
        StatusCode::OK,
        &service.open_slot(&who, &id, now_ms()).await?,
    ))
}

async fn answer(
    State(service): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    let request: AnswerRequest = body(&headers, bytes)?;
    Ok(json(
        StatusCode::OK,
        &service.answer(&who, &id, request, now_ms()).await?,
    ))
}

async fn cancel(
    State(service): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    Ok(json(
        StatusCode::OK,
        &service.cancel(&who, &id, now_ms()).await?,
    ))
}

/// `?wait=SECONDS` (at most 60): how long to wait for the decision.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    #[serde(default)]
    wait: Option<u64>,
}

async fn decision(
    State(service): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    let Query(query) = query.map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("bad query ({e}); use ?wait=SECONDS, at most 60"),
        )
    })?;
    let wait = query.wait.unwrap_or(0);
    if wait > crate::service::MAX_WAIT.as_secs() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!(
                "wait={wait} is too long; wait at most {} seconds, then ask again",
                crate::service::MAX_WAIT.as_secs()
            ),
        ));
    }
    let wait = std::time::Duration::from_secs(wait);
    let (view, signed) = service.decision(&who, &id, wait).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"approval": view, "signed_decision": signed}),
    ))
}

/// The API's OpenAPI 3.1 description (kept beside this module; a test
/// checks that it describes exactly the routes served).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    let mut response = (StatusCode::OK, OPENAPI).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Every route the router serves, as `METHOD /path` (for the check that
/// the OpenAPI document describes exactly these).
pub const ROUTES: &[&str] = &[
    "GET /v1/health",
    "GET /v1/ready",
    "POST /v1/approvals",
    "GET /v1/approvals/{id}",
    "POST /v1/approvals/{id}/slot",
    "POST /v1/approvals/{id}/answer",
    "POST /v1/approvals/{id}/cancel",
    "GET /v1/approvals/{id}/decision",
    "GET /v1/public-key",
    "GET /v1/openapi.json",
    "GET /v1/inbox",
];

async fn public_key(State(service): Shared) -> Response {
    let key = service.public_key();
    let mut response = (StatusCode::OK, key.to_file_text()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn inbox(State(service): Shared, headers: HeaderMap) -> Result<Response, Problem> {
    let who = principal(&service, &headers).await?;
    Ok(json(StatusCode::OK, &service.pending_for(&who).await?))
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no such endpoint; the API is under /v1 (see /v1/openapi.json once it is served)",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_openapi_document_describes_exactly_the_routes_served() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| format!("{} {path}", method.to_uppercase()))
            })
            .collect();
        documented.sort();
        let mut served: Vec<String> = ROUTES.iter().map(|r| (*r).to_owned()).collect();
        served.sort();
        assert_eq!(documented, served);
        // Every `$ref` resolves.
        let text = OPENAPI;
        for reference in text.split("\"$ref\": \"#/").skip(1) {
            let pointer = format!("/{}", reference.split('"').next().unwrap());
            assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
        }
    }
}
