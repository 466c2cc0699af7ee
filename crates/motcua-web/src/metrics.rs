//! Prometheus metrics kept in process (per node; Prometheus scrapes every node).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One route's counters: requests by method and status (a handful per route), and latency.
#[derive(Default)]
struct RouteStats {
    requests: Vec<(&'static str, u16, u64)>,
    latency: Histogram,
}

/// The label of a request method: the standard methods by name, anything else `other`, so a
/// client sending made-up methods cannot add series without end.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Observed on every request, so one lock and no allocation once a route has been seen.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

impl Metrics {
    /// Records one finished request. `route` is the matched route template, never the raw
    /// path, so PIDs do not end up in metric labels; `method` is one of a fixed set.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        match stats
            .requests
            .iter_mut()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            Some((_, _, n)) => *n += 1,
            None => stats.requests.push((method, status, 1)),
        }
        let h = &mut stats.latency;
        h.count += 1;
        h.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self, extra: &[(String, f64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP motcua_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE motcua_http_requests_total counter");
        let Ok(routes) = self.routes.lock() else {
            return out;
        };
        for (route, stats) in routes.iter() {
            let mut requests: Vec<_> = stats.requests.iter().collect();
            requests.sort();
            for (method, status, n) in requests {
                let _ = writeln!(
                    out,
                    "motcua_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP motcua_http_request_duration_seconds Request latency by route."
        );
        let _ = writeln!(out, "# TYPE motcua_http_request_duration_seconds histogram");
        {
            for (route, stats) in routes.iter() {
                let h = &stats.latency;
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "motcua_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "motcua_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "motcua_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "motcua_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        for (line, value) in extra {
            let _ = writeln!(out, "{line} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::default();
        for method in ["GET", "FOO", "BAR", "get", "CONNECT"] {
            m.observe(method, "/healthz", 200, 0.001);
        }
        let text = m.render(&[]);
        assert!(text.contains("method=\"GET\",route=\"/healthz\",status=\"200\"} 1"));
        assert!(text.contains("method=\"other\",route=\"/healthz\",status=\"200\"} 4"));
        assert!(!text.contains("FOO") && !text.contains("CONNECT"), "{text}");
    }
}
