//! Liveness and readiness.

use std::sync::Arc;

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::app::App;
use crate::store::{checkout, db, StoreError};

/// The process is up. Cheap enough for a load balancer to call every second.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers and every migration this binary embeds has been applied.
#[get("/readyz")]
pub async fn readyz(app: web::Data<Arc<App>>) -> HttpResponse {
    let pool = app.pool.clone();
    let check = web::block(move || -> Result<bool, StoreError> {
        let mut conn = checkout(&pool)?;
        db::migrations_current(&mut conn)
    })
    .await;
    match check {
        Ok(Ok(true)) => HttpResponse::Ok()
            .json(json!({ "status": "ready", "database": "ok", "migrations": "current" })),
        Ok(Ok(false)) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not_ready", "database": "ok", "migrations": "pending" })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "not_ready", "database": "unreachable" }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not_ready", "database": "unknown" })),
    }
}
