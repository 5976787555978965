//! The merchant API's OpenAPI document, generated from the handlers and types themselves.

use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::merchant::{account, api, records};

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("mk_<key id>_<secret>")
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mkoba merchant API",
        version = "1.0.0",
        description = "Ask customers to pay, charge allowances without a PIN, refund, and receive signed webhooks. Amounts are decimal strings in major units with a currency. Customers appear only as per-merchant pseudonyms."
    ),
    paths(
        api::create_payment_request,
        api::get_payment_request,
        api::create_allowance,
        api::get_allowance,
        api::create_charge,
        account::get_payment,
        account::create_refund,
        account::get_balance,
        account::get_webhook,
        account::put_webhook,
        records::get_statement,
        records::get_settlements,
        records::list_keys,
        records::revoke_key,
        records::list_products,
        records::put_product,
    ),
    modifiers(&ApiKeyAuth)
)]
pub struct MerchantApiDoc;

#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(MerchantApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_operation_and_the_error_body() {
        let doc = serde_json::to_value(MerchantApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/payment-requests",
            "/api/v1/allowances/{id}/charges",
            "/api/v1/payments/{code}/refunds",
            "/api/v1/webhook",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    }
}
