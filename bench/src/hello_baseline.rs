//! The baseline for the verification benchmark: axum on the same runtime, parsing the same JSON
//! request and answering the same JSON shape, with no authentication, storage or logging.
//! `hello-baseline ADDR` (default 127.0.0.1:8090).

use axum::Json;
use axum::routing::post;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    pid: String,
    full_name: String,
    date_of_birth: String,
    #[allow(dead_code)]
    purpose: String,
}

#[derive(Serialize)]
struct Fields {
    full_name: bool,
    date_of_birth: bool,
}

#[derive(Serialize)]
struct Answer {
    #[serde(rename = "match")]
    matched: bool,
    fields: Fields,
}

async fn verify(Json(r): Json<Request>) -> Json<Answer> {
    let ok = r.pid.len() == 12 && !r.full_name.is_empty() && !r.date_of_birth.is_empty();
    Json(Answer {
        matched: ok,
        fields: Fields {
            full_name: ok,
            date_of_birth: ok,
        },
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let app = axum::Router::new().route("/api/v1/registry/verifications", post(verify));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("hello-baseline on http://{addr}");
    axum::serve(listener, app).await
}
