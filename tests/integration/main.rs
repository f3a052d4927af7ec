//! Integration tests, compiled into one binary (one link, shared helpers).

mod access;
mod auth;
mod capacity_crash;
mod capacity_http;
mod capacity_log;
mod common;
mod communes;
mod crisis;
mod dates;
mod engine;
mod engine_data;
mod fhir;
mod fhir_clients;
mod fhir_round_trip;
mod hostile;
mod http;
mod ig_examples;
mod ingest_formats;
mod live_property;
mod malformed;
mod old_snapshot;
mod quality;
mod query_params;
mod sample_data;
mod snapshot;
mod tls;
