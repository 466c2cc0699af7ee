//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. A test checks
//! that every API route is described here.

use axum::Json;
use serde_json::{Value, json};

/// Every 4xx/5xx a route can answer besides its own: the layers around every API route
/// (body limit, timeout, wrong method) and the server's own fault.
fn common_errors(responses: &mut serde_json::Map<String, Value>) {
    for (status, description) in [
        (
            "405",
            "The route does not accept this method; Allow lists those it does",
        ),
        ("408", "The request took too long"),
        (
            "500",
            "A fault of the server; the request id is in the answer and the server's log",
        ),
        (
            "503",
            "The server is overloaded or stopping; retry after Retry-After seconds",
        ),
    ] {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// A 429 with the `Retry-After` header the server always sends with it.
fn throttled_response(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {
            "Retry-After": {
                "description": "Seconds until the request may succeed",
                "required": true,
                "schema": { "type": "string", "pattern": "^[0-9]+$" }
            }
        },
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

fn responses(pairs: Vec<(&str, Value)>) -> Value {
    let mut map: serde_json::Map<String, Value> =
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    common_errors(&mut map);
    Value::Object(map)
}

/// A PID as [`motcua_domain::Pid::parse`] accepts it: 12 digits whose first three are one of
/// the province codes.
pub fn pid_pattern() -> String {
    let codes: Vec<String> = motcua_domain::provinces::provinces()
        .iter()
        .map(|p| format!("{:03}", p.code))
        .collect();
    format!("^({})[0-9]{{9}}$", codes.join("|"))
}

/// A date of birth as [`motcua_domain::BirthDate::parse`] accepts it: `YYYY`, `YYYY-MM` or a
/// real calendar date `YYYY-MM-DD`, years 1850–2399 (29 February only in leap years).
pub const BIRTH_DATE_PATTERN: &str = concat!(
    "^(?:(?:18[5-9][0-9]|19[0-9]{2}|2[0-3][0-9]{2})",
    "(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|1[0-9]|2[0-8]))?",
    "|-(?:0[13-9]|1[0-2])-(?:29|30)|-(?:0[13578]|1[02])-31)?",
    "|(?:18(?:5[26]|[68][048]|[79][26])|19(?:0[48]|[2468][048]|[13579][26])",
    "|20(?:0[048]|[2468][048]|[13579][26])|2[1-3](?:0[48]|[2468][048]|[13579][26]))-02-29)$"
);

/// Text with no control character (Unicode category Cc) and at least one character that is
/// neither a control nor white space (Rust's `char::is_whitespace`, spelt out, since a
/// regular expression's `\s` is a slightly different set).
pub const STATED_TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// At least one character that is not white space.
pub const NOT_BLANK_PATTERN: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

pub fn spec() -> Value {
    let pid = pid_pattern();
    let max_purpose = motcua_registry::verify::MAX_PURPOSE_CHARS;
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "motcua API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "APIs of the national population registry for agency systems. Every call that reads a citizen's data is recorded with the calling client and the stated purpose (Decree 13/2023/NĐ-CP)."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basic": [] }, { "bearer": [] }],
        "paths": {
            "/api/v1/registry/verifications": {
                "post": {
                    "operationId": "verifyIdentity",
                    "summary": "Check a name and date of birth against a personal identification number",
                    "description": "Scope registry.verify. An unknown PID is reported as no match; the answer never reveals whether a PID exists. After a configured number of non-matching answers for one PID within a sliding window (default 5 in 24 hours), further verifications of that PID by the same client are refused with 429 and code verification.throttled until the oldest of them leaves the window; other PIDs are unaffected, and a match does not reset the count. Each client also has a daily quota (the day in Asia/Ho_Chi_Minh), refused with 429 and code verification.quota_exceeded. Refusals are recorded in the access log (outcome throttled or quota_exceeded).",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerificationRequest" } } } },
                    "responses": responses(vec![
                        ("200", json!({ "description": "Result per field", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerificationResult" } } } })),
                        ("400", problem_response("Malformed JSON, or JSON of the wrong shape")),
                        ("401", problem_response("Missing or wrong client credentials")),
                        ("403", problem_response("The client lacks scope registry.verify")),
                        ("413", problem_response("The body is larger than 64 KiB")),
                        ("415", problem_response("The body is not application/json")),
                        ("422", problem_response("Invalid fields; errors[] names each")),
                        ("429", throttled_response("Too many non-matching answers for this PID (verification.throttled), or the client's daily quota is used (verification.quota_exceeded)")),
                    ])
                }
            },
            "/api/v1/registry/citizens/{pid}": {
                "get": {
                    "operationId": "lookupCitizen",
                    "summary": "Read a citizen's record",
                    "description": "Scope registry.lookup. The purpose is recorded in the access log the citizen can read.",
                    "parameters": [
                        { "name": "pid", "in": "path", "required": true, "schema": { "type": "string", "pattern": pid }, "example": "001095012345" },
                        { "name": "purpose", "in": "query", "required": true, "schema": { "type": "string", "maxLength": max_purpose, "pattern": STATED_TEXT_PATTERN }, "example": "tax registration" }
                    ],
                    "responses": responses(vec![
                        ("200", json!({ "description": "The record", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Citizen" } } } })),
                        ("400", problem_response("Malformed query string")),
                        ("401", problem_response("Missing or wrong client credentials")),
                        ("403", problem_response("The client lacks scope registry.lookup")),
                        ("404", problem_response("No citizen has this PID")),
                        ("422", problem_response("Malformed PID, a missing purpose, or a query parameter other than one purpose; errors[] names each")),
                    ])
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": responses(vec![
                        ("200", json!({ "description": "OpenAPI 3.1 document", "content": { "application/json": { "schema": { "type": "object" } } } })),
                    ])
                }
            }
        },
        "components": components(&pid)
    })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}

/// The security schemes and schemas the paths refer to.
fn components(pid: &str) -> Value {
    let max_name = motcua_domain::text_limits::MAX_NAME_CHARS;
    let max_purpose = motcua_registry::verify::MAX_PURPOSE_CHARS;
    let code = |pattern: &str| json!({ "type": ["string", "null"], "pattern": pattern });
    json!({
        "securitySchemes": {
            "basic": { "type": "http", "scheme": "basic", "description": "client_id:client_secret issued by `motcua client create`" },
            "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "an access token of the OpenID Connect provider's client_credentials grant (POST /oidc/token), with the same scopes" }
        },
        "schemas": {
            "VerificationRequest": {
                "type": "object",
                "required": ["pid", "full_name", "date_of_birth", "purpose"],
                "examples": [{ "pid": "001095012345", "full_name": "Nguyễn Văn An", "date_of_birth": "1995-03-14", "purpose": "tax registration" }],
                "properties": {
                    "pid": { "type": "string", "pattern": pid, "description": "12-digit personal identification number; the first three digits are a province code" },
                    "full_name": { "type": "string", "maxLength": max_name, "pattern": NOT_BLANK_PATTERN, "description": "Compared case-insensitively with white space collapsed, but with its diacritics" },
                    "date_of_birth": { "type": "string", "pattern": BIRTH_DATE_PATTERN, "description": "YYYY-MM-DD, YYYY-MM or YYYY; years 1850–2399" },
                    "purpose": { "type": "string", "maxLength": max_purpose, "pattern": STATED_TEXT_PATTERN, "description": "Why the data is needed; recorded in the access log" }
                }
            },
            "VerificationResult": {
                "type": "object",
                "required": ["match", "fields"],
                "additionalProperties": false,
                "properties": {
                    "match": { "type": "boolean" },
                    "fields": {
                        "type": "object",
                        "required": ["full_name", "date_of_birth"],
                        "additionalProperties": false,
                        "properties": { "full_name": { "type": "boolean" }, "date_of_birth": { "type": "boolean" } }
                    }
                }
            },
            "Citizen": {
                "type": "object",
                "required": ["pid", "full_name", "gender", "date_of_birth", "birth_year", "birth_province", "nationality", "status", "version"],
                "additionalProperties": false,
                "properties": {
                    "pid": { "type": "string", "pattern": "^[0-9]{12}$" }, "full_name": { "type": "string" },
                    "gender": { "type": "string", "enum": ["M", "F"] },
                    "date_of_birth": { "type": "string" }, "birth_year": { "type": "integer" },
                    "birth_province": { "type": "string", "pattern": "^[0-9]{3}$", "description": "Province code, three digits as in the PID (001 = Hà Nội)" },
                    "hometown_province": code("^[0-9]{3}$"),
                    "ethnicity_code": code("^[0-9]{2}$"),
                    "religion": { "type": ["string", "null"] },
                    "nationality": { "type": "string" },
                    "father_pid": { "type": ["string", "null"] }, "mother_pid": { "type": ["string", "null"] },
                    "spouse_pid": { "type": ["string", "null"] },
                    "status": { "type": "string", "enum": ["alive", "deceased"] },
                    "date_of_death": { "type": ["string", "null"] },
                    "phone": { "type": ["string", "null"] }, "email": { "type": ["string", "null"] },
                    "tax_code": { "type": ["string", "null"] }, "social_insurance_code": { "type": ["string", "null"] },
                    "household_id": { "type": ["integer", "null"] }, "relation_to_head": { "type": ["string", "null"] },
                    "residence_province": code("^[0-9]{3}$"),
                    "residence_address": { "type": ["string", "null"] },
                    "version": { "type": "integer" }
                }
            },
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "code"],
                "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "code": { "type": "string", "description": "stable machine code, e.g. validation_failed, verification.throttled, verification.quota_exceeded" },
                    "detail": { "type": "string" },
                    "request_id": { "type": "string" },
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "code", "message"],
                            "properties": { "field": { "type": "string" }, "code": { "type": "string" }, "message": { "type": "string" } }
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use motcua_domain::{BirthDate, Pid};

    #[test]
    fn the_pid_pattern_accepts_what_the_server_accepts() {
        let pattern = regex::Regex::new(&pid_pattern()).unwrap();
        for prefix in 0..1000 {
            for rest in ["000000000", "095012345", "999999999"] {
                let pid = format!("{prefix:03}{rest}");
                assert_eq!(pattern.is_match(&pid), Pid::parse(&pid).is_ok(), "{pid}");
            }
        }
        assert!(!pattern.is_match("00109501234"));
        assert!(!pattern.is_match("0010950123456"));
    }

    #[test]
    fn the_birth_date_pattern_accepts_what_the_server_accepts() {
        let pattern = regex::Regex::new(BIRTH_DATE_PATTERN).unwrap();
        for year in (1840..2410).step_by(1) {
            let y = format!("{year:04}");
            assert_eq!(pattern.is_match(&y), BirthDate::parse(&y).is_ok(), "{y}");
            for month in 0..=13 {
                let ym = format!("{year:04}-{month:02}");
                assert_eq!(pattern.is_match(&ym), BirthDate::parse(&ym).is_ok(), "{ym}");
                for day in [0, 1, 9, 10, 19, 20, 28, 29, 30, 31, 32] {
                    let d = format!("{year:04}-{month:02}-{day:02}");
                    assert_eq!(pattern.is_match(&d), BirthDate::parse(&d).is_ok(), "{d}");
                }
            }
        }
        for odd in [
            "1995-3-14",
            "1995/03/14",
            "95",
            "19950314",
            " 1995",
            "1995-03-14T00",
        ] {
            assert!(!pattern.is_match(odd), "{odd}");
            assert!(BirthDate::parse(odd).is_err(), "{odd}");
        }
    }

    #[test]
    fn the_stated_text_pattern_agrees_with_the_purpose_check() {
        let pattern = regex::Regex::new(STATED_TEXT_PATTERN).unwrap();
        let mut samples: Vec<String> = [
            "tax audit",
            " x ",
            "",
            "   ",
            "\u{3000}",
            "\u{feff}",
            "a\u{0085}b",
            "a\tb",
            "\u{a0}",
            "Kiểm tra hồ sơ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        samples.extend(
            (0u32..0x3100)
                .filter_map(char::from_u32)
                .map(|c| c.to_string()),
        );
        for s in samples {
            let server = motcua_registry::verify::check_purpose(Some(&s)).is_ok();
            assert_eq!(pattern.is_match(&s), server, "{s:?}");
        }
    }

    #[test]
    fn the_not_blank_pattern_agrees_with_trimming() {
        let pattern = regex::Regex::new(NOT_BLANK_PATTERN).unwrap();
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            let s = format!(" {c} ");
            assert_eq!(pattern.is_match(&s), !s.trim().is_empty(), "{c:?}");
        }
    }
}
