//! The load script's yardstick: a bare axum server answering every badge URL with a fixed 302,
//! the fastest kube-shields could possibly be on the same machine.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let app = Router::new().route(
        "/_/{service}/{check}/",
        get(|| async {
            (
                StatusCode::FOUND,
                [
                    (
                        header::LOCATION,
                        "https://img.shields.io/badge/health-3%2F3-green.svg",
                    ),
                    (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
                ],
            )
                .into_response()
        }),
    );
    axum::serve(tokio::net::TcpListener::bind(&address).await?, app).await
}
