//! # ror-search
//!
//! An offer search engine over the French ROR (Répertoire Opérationnel des Ressources): which
//! health and medico-social offers are near a place, accept a person, fit a budget and have a
//! free place now.
//!
//! The crate is layered; each module could become a crate:
//!
//! * [`model`]: the ROR domain (EJ, EG, offers, locations, capacities, tariffs), pure types, and
//!   the business rules ([`model::rules`]) in one place.
//! * [`ingest`]: the FHIR R4 feed (bundles, NDJSON, gzip, directories) → a linked dataset, with
//!   every record accounted for; the open-data importer and the synthetic feed generator.
//! * [`auth`]: who is calling (API keys, JWTs, client certificates, anonymous), with which access
//!   profiles and roles; rate limits and the audit log.
//! * [`live`]: live capacities between two snapshots: the bed-management PATCH (parser and ROR
//!   error answers), the durable write log, and the service that applies writes.
//! * [`fhir`]: the FHIR R4 facade: the ROR's search API, Bundles, includes, `$export`, over the
//!   engine and the live capacities, masked by profile.
//! * [`snapshot`]: immutable, checksummed snapshot directories, written atomically.
//! * [`util`]: dates, geodesy, a seeded generator, text folding.
//!
//! Units are explicit everywhere: `lat`/`lon` in WGS84 degrees, distances in metres (`_m`) or
//! kilometres (`_km`), money in euro cents (`_cents`), ages in years.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod fhir;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod ingest;
pub mod live;
pub mod model;
pub mod quality;
pub mod serve;
pub mod snapshot;
pub mod sync;
pub mod util;
