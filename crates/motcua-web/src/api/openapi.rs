//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. A test checks
//! that every API route is described here.

use axum::Json;
use serde_json::{Value, json};

pub fn spec() -> Value {
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    let problem_response = |description: &str| json!({ "description": description, "content": { "application/problem+json": { "schema": problem } } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "motcua API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "APIs of the national population registry for agency systems. Every call that reads a citizen's data is recorded with the calling client and the stated purpose (Decree 13/2023/NĐ-CP)."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basic": [] }],
        "paths": {
            "/api/v1/registry/verifications": {
                "post": {
                    "operationId": "verifyIdentity",
                    "summary": "Check a name and date of birth against a personal identification number",
                    "description": "Scope registry.verify. An unknown PID is reported as no match; the answer never reveals whether a PID exists. After a configured number of non-matching answers for one PID within a sliding window (default 5 in 24 hours), further verifications of that PID by the same client are refused with 429 and code verification.throttled until the oldest of them leaves the window; other PIDs are unaffected, and a match does not reset the count. Each client also has a daily quota (the day in Asia/Ho_Chi_Minh), refused with 429 and code verification.quota_exceeded. Refusals are recorded in the access log (outcome throttled or quota_exceeded).",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerificationRequest" } } } },
                    "responses": {
                        "200": { "description": "Result per field", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerificationResult" } } } },
                        "400": problem_response("Malformed JSON"),
                        "401": problem_response("Missing or wrong client credentials"),
                        "403": problem_response("The client lacks scope registry.verify"),
                        "415": problem_response("The body is not application/json"),
                        "422": problem_response("Invalid fields; errors[] names each"),
                        "429": {
                            "description": "Refused by a limit: code verification.throttled (too many non-matching answers for this PID by this client) or verification.quota_exceeded (the client's daily quota is used up)",
                            "headers": {
                                "Retry-After": { "description": "Seconds until the verification is allowed again", "schema": { "type": "integer", "minimum": 1 } }
                            },
                            "content": { "application/problem+json": { "schema": problem } }
                        }
                    }
                }
            },
            "/api/v1/registry/citizens/{pid}": {
                "get": {
                    "operationId": "lookupCitizen",
                    "summary": "Read a citizen's record",
                    "description": "Scope registry.lookup. The purpose is recorded in the access log the citizen can read.",
                    "parameters": [
                        { "name": "pid", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{12}$" } },
                        { "name": "purpose", "in": "query", "required": true, "schema": { "type": "string", "minLength": 1, "maxLength": 200 } }
                    ],
                    "responses": {
                        "200": { "description": "The record", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Citizen" } } } },
                        "401": problem_response("Missing or wrong client credentials"),
                        "403": problem_response("The client lacks scope registry.lookup"),
                        "404": problem_response("No citizen has this PID"),
                        "422": problem_response("Malformed PID or missing purpose")
                    }
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "OpenAPI 3.1 document" } }
                }
            }
        },
        "components": {
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic", "description": "client_id:client_secret issued by `motcua client create`" }
            },
            "schemas": {
                "VerificationRequest": {
                    "type": "object",
                    "required": ["pid", "full_name", "date_of_birth", "purpose"],
                    "properties": {
                        "pid": { "type": "string", "pattern": "^[0-9]{12}$", "description": "12-digit personal identification number" },
                        "full_name": { "type": "string", "maxLength": 100 },
                        "date_of_birth": { "type": "string", "description": "YYYY-MM-DD, YYYY-MM or YYYY" },
                        "purpose": { "type": "string", "maxLength": 200 }
                    }
                },
                "VerificationResult": {
                    "type": "object",
                    "required": ["match", "fields"],
                    "properties": {
                        "match": { "type": "boolean" },
                        "fields": {
                            "type": "object",
                            "properties": { "full_name": { "type": "boolean" }, "date_of_birth": { "type": "boolean" } }
                        }
                    }
                },
                "Citizen": {
                    "type": "object",
                    "properties": {
                        "pid": { "type": "string" }, "full_name": { "type": "string" },
                        "gender": { "type": "string", "enum": ["M", "F"] },
                        "date_of_birth": { "type": "string" }, "birth_year": { "type": "integer" },
                        "birth_province": { "type": "integer" }, "hometown_province": { "type": ["integer", "null"] },
                        "ethnicity_code": { "type": ["integer", "null"] }, "religion": { "type": ["string", "null"] },
                        "nationality": { "type": "string" },
                        "father_pid": { "type": ["string", "null"] }, "mother_pid": { "type": ["string", "null"] },
                        "spouse_pid": { "type": ["string", "null"] },
                        "status": { "type": "string", "enum": ["alive", "deceased"] },
                        "date_of_death": { "type": ["string", "null"] },
                        "phone": { "type": ["string", "null"] }, "email": { "type": ["string", "null"] },
                        "tax_code": { "type": ["string", "null"] }, "social_insurance_code": { "type": ["string", "null"] },
                        "household_id": { "type": ["integer", "null"] }, "relation_to_head": { "type": ["string", "null"] },
                        "residence_province": { "type": ["integer", "null"] }, "residence_address": { "type": ["string", "null"] },
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
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
