//! Prometheus metrics in the text exposition format, without a metrics framework: request
//! counts and latency histograms per route and status, reloads, and the loaded snapshot.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, seconds.
pub(crate) const LATENCY_BUCKETS: [f64; 14] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Keyed by route template (one of the router's, `&'static`: no allocation per request).
    requests: RwLock<BTreeMap<(&'static str, u16), Histogram>>,
    pub(crate) reload_success: AtomicU64,
    pub(crate) reload_failure: AtomicU64,
    pub(crate) rollbacks: AtomicU64,
}

/// What `/metrics` reports about the snapshot being served.
#[derive(Debug, Clone, Default)]
pub(crate) struct SnapshotGauges {
    pub(crate) snapshot_id: Option<String>,
    pub(crate) built_at_unix: i64,
    pub(crate) loaded_at_unix: i64,
    pub(crate) offers: u64,
    /// (resource type, outcome) → records, from the manifest.
    pub(crate) records: Vec<(String, &'static str, u64)>,
    /// Bytes of the offers' pre-rendered results kept by the engine.
    pub(crate) result_fragment_bytes: u64,
}

impl Metrics {
    /// Records one request.
    pub(crate) fn observe(&self, route: &'static str, status: u16, seconds: f64) {
        if let Some(histogram) = self.requests.read().ok().as_ref().and_then(|map| map.get(&(route, status))) {
            histogram.observe(seconds);
            return;
        }
        if let Ok(mut map) = self.requests.write() {
            map.entry((route, status)).or_default().observe(seconds);
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self, gauges: &SnapshotGauges, now_unix: i64) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(out, "# HELP ror_search_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE ror_search_http_requests_total counter");
        let map = self.requests.read().map(|map| {
            map.iter()
                .map(|(key, histogram)| {
                    let buckets: Vec<u64> =
                        histogram.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).collect();
                    (
                        *key,
                        buckets,
                        histogram.count.load(Ordering::Relaxed),
                        histogram.sum_nanos.load(Ordering::Relaxed),
                    )
                })
                .collect::<Vec<_>>()
        });
        let entries = map.unwrap_or_default();
        for ((route, status), _, count, _) in &entries {
            let _ = writeln!(out, "ror_search_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP ror_search_http_request_duration_seconds Latency of HTTP requests.");
        let _ = writeln!(out, "# TYPE ror_search_http_request_duration_seconds histogram");
        for ((route, status), buckets, count, sum_nanos) in &entries {
            let mut cumulative = 0;
            for (bound, bucket) in LATENCY_BUCKETS.iter().zip(buckets) {
                cumulative += bucket;
                let _ = writeln!(
                    out,
                    "ror_search_http_request_duration_seconds_bucket{{route=\"{route}\",status=\"{status}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "ror_search_http_request_duration_seconds_bucket{{route=\"{route}\",status=\"{status}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "ror_search_http_request_duration_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {}",
                *sum_nanos as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "ror_search_http_request_duration_seconds_count{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(out, "# HELP ror_search_reloads_total Snapshot reloads by result.");
        let _ = writeln!(out, "# TYPE ror_search_reloads_total counter");
        let _ = writeln!(
            out,
            "ror_search_reloads_total{{result=\"success\"}} {}",
            self.reload_success.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "ror_search_reloads_total{{result=\"failure\"}} {}",
            self.reload_failure.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP ror_search_rollbacks_total Rollbacks to the previous snapshot.");
        let _ = writeln!(out, "# TYPE ror_search_rollbacks_total counter");
        let _ = writeln!(out, "ror_search_rollbacks_total {}", self.rollbacks.load(Ordering::Relaxed));
        if let Some(snapshot_id) = &gauges.snapshot_id {
            let _ = writeln!(out, "# HELP ror_search_snapshot_info The snapshot being served.");
            let _ = writeln!(out, "# TYPE ror_search_snapshot_info gauge");
            let _ = writeln!(out, "ror_search_snapshot_info{{snapshot_id=\"{snapshot_id}\"}} 1");
            let _ = writeln!(out, "# HELP ror_search_snapshot_age_seconds Seconds since the snapshot was built.");
            let _ = writeln!(out, "# TYPE ror_search_snapshot_age_seconds gauge");
            let _ = writeln!(out, "ror_search_snapshot_age_seconds {}", now_unix - gauges.built_at_unix);
            let _ = writeln!(out, "# HELP ror_search_snapshot_loaded_seconds Seconds since the snapshot was loaded.");
            let _ = writeln!(out, "# TYPE ror_search_snapshot_loaded_seconds gauge");
            let _ = writeln!(out, "ror_search_snapshot_loaded_seconds {}", now_unix - gauges.loaded_at_unix);
            let _ = writeln!(out, "# HELP ror_search_snapshot_offers Offers in the snapshot.");
            let _ = writeln!(out, "# TYPE ror_search_snapshot_offers gauge");
            let _ = writeln!(out, "ror_search_snapshot_offers {}", gauges.offers);
            let _ = writeln!(
                out,
                "# HELP ror_search_result_fragment_bytes Bytes of the offers' results rendered once and kept for the snapshot's answers."
            );
            let _ = writeln!(out, "# TYPE ror_search_result_fragment_bytes gauge");
            let _ = writeln!(out, "ror_search_result_fragment_bytes {}", gauges.result_fragment_bytes);
            let _ = writeln!(
                out,
                "# HELP ror_search_snapshot_records Feed records of the snapshot by resource type and outcome."
            );
            let _ = writeln!(out, "# TYPE ror_search_snapshot_records gauge");
            for (resource_type, outcome, count) in &gauges.records {
                let _ = writeln!(
                    out,
                    "ror_search_snapshot_records{{resource_type=\"{resource_type}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe("/v1/offers", 200, 0.000_03);
        metrics.observe("/v1/offers", 200, 0.003);
        metrics.observe("/v1/offers", 400, 0.000_2);
        let text = metrics.render(&SnapshotGauges::default(), 0);
        assert!(text.contains("ror_search_http_requests_total{route=\"/v1/offers\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.00005\"} 1"));
        assert!(text.contains("route=\"/v1/offers\",status=\"200\",le=\"0.005\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
