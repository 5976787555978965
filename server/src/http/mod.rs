//! The HTTP service.

pub mod error;
pub mod health;
pub mod ledger_api;
pub mod metrics_api;
pub mod observe;
pub mod simulator;
pub mod sms_api;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App as ActixApp, HttpResponse, HttpServer};

use crate::app::App;
use crate::http::error::ApiError;

pub fn configure(app: Arc<App>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let body_max = app.config.server.request_body_max_bytes;
        let json = web::JsonConfig::default()
            .limit(body_max)
            .error_handler(|err, _req| {
                ApiError::InvalidRequest {
                    message: err.to_string(),
                }
                .into()
            });
        let form = web::FormConfig::default()
            .limit(body_max)
            .error_handler(|err, _req| {
                ApiError::InvalidRequest {
                    message: err.to_string(),
                }
                .into()
            });
        let path = web::PathConfig::default().error_handler(|err, _req| {
            ApiError::InvalidRequest {
                message: err.to_string(),
            }
            .into()
        });
        let query = web::QueryConfig::default().error_handler(|err, _req| {
            ApiError::InvalidRequest {
                message: err.to_string(),
            }
            .into()
        });
        cfg.app_data(web::Data::new(Arc::clone(&app)))
            .app_data(json)
            .app_data(form)
            .app_data(path)
            .app_data(query)
            .service(health::healthz)
            .service(health::readyz)
            .configure(ledger_api::routes)
            .configure(sms_api::routes)
            .configure(crate::ussd::routes)
            .configure(crate::merchant::routes)
            .configure(crate::gsma::routes)
            .configure(simulator::routes)
            .configure(crate::portal::routes)
            .service(metrics_api::metrics)
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .json(serde_json::json!({ "error": "not_found", "message": "No such route." }))
            }));
    }
}

/// Binds the listener and returns the running server (await it to serve until shutdown).
pub fn serve(app: Arc<App>, listener: TcpListener) -> std::io::Result<Server> {
    let server_config = app.config.server.clone();
    let routes = configure(app);
    let server = HttpServer::new(move || {
        ActixApp::new()
            .wrap(actix_web::middleware::from_fn(observe::observe))
            .configure(routes.clone())
    })
    .workers(server_config.workers)
    .worker_max_blocking_threads(server_config.blocking_threads_max)
    .max_connections(server_config.connections_max)
    .keep_alive(Duration::from_secs(server_config.keep_alive_seconds))
    .client_request_timeout(Duration::from_millis(server_config.request_timeout_ms))
    .listen(listener)?
    .run();
    Ok(server)
}
