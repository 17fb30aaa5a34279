//! The registry in the Prometheus text format (version 0.0.4), for `GET /metrics` of the station page:
//! each counter as `cellgate_<name>_total` with its documentation as HELP, times in seconds, the
//! trigger->verdict latency as a histogram in seconds (fixed buckets, so stations add up), the alarm and ready outputs, and the model in use as
//! an info metric whose labels name it.

use std::fmt::Write;

use super::histogram::BUCKETS_MS;
use super::{LiveSnapshot, StationMetrics};

/// Registry counters that hold a time: exposed in seconds (Prometheus' base unit) under these names,
/// with their kind and the factor to seconds.
const TIMES: [(&str, &str, &str, f64); 3] = [
    ("reject_timing_error_us_sum", "cellgate_reject_timing_error_seconds_total", "counter", 1e-6),
    ("reject_timing_error_us_max", "cellgate_reject_timing_error_max_seconds", "gauge", 1e-6),
    ("last_takeover_ms", "cellgate_last_takeover_seconds", "gauge", 1e-3),
];

/// The model an info metric names.
#[derive(Debug, Clone, Default)]
pub struct ModelLabels {
    pub name: String,
    pub version: String,
    pub provider: String,
    pub sha256: String,
}

/// The exposition of `live` for station `station`.
pub fn render(station: &str, live: &LiveSnapshot, model: Option<&ModelLabels>) -> String {
    let mut out = String::new();
    let st = format!("station=\"{}\"", escape(station));
    for (name, value) in live.counters.pairs() {
        let help = StationMetrics::HELP.iter().find(|(n, _)| *n == name).map_or("", |(_, h)| h.trim());
        let help = if help.is_empty() { name.replace('_', " ") } else { help.to_string() };
        match TIMES.iter().find(|t| t.0 == name) {
            Some(&(_, metric, kind, to_s)) => {
                family(&mut out, metric, kind, &help);
                let _ = writeln!(out, "{metric}{{{st}}} {}", value as f64 * to_s);
            }
            None => {
                let metric = format!("cellgate_{name}_total");
                family(&mut out, &metric, "counter", &help);
                let _ = writeln!(out, "{metric}{{{st}}} {value}");
            }
        }
    }
    let l = &live.latency;
    family(
        &mut out,
        "cellgate_part_latency_seconds",
        "histogram",
        "Trigger to verdict of every part that got a score.",
    );
    for (le, n) in BUCKETS_MS.iter().zip(&l.buckets) {
        let _ = writeln!(out, "cellgate_part_latency_seconds_bucket{{{st},le=\"{}\"}} {n}", le / 1e3);
    }
    let _ = writeln!(out, "cellgate_part_latency_seconds_bucket{{{st},le=\"+Inf\"}} {}", l.count);
    let _ = writeln!(out, "cellgate_part_latency_seconds_sum{{{st}}} {}", l.sum_ms / 1e3);
    let _ = writeln!(out, "cellgate_part_latency_seconds_count{{{st}}} {}", l.count);
    for (name, on, help) in [
        ("cellgate_alarm", live.alarm, "The alarm output as last written (1: on)."),
        ("cellgate_ready", live.ready, "The ready output as last written (1: the station inspects)."),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name}{{{st}}} {}", on as u8);
    }
    if let Some(m) = model {
        family(&mut out, "cellgate_model_info", "gauge", "The model judging parts (always 1; its labels name it).");
        let _ = writeln!(
            out,
            "cellgate_model_info{{{st},name=\"{}\",version=\"{}\",provider=\"{}\",sha256=\"{}\"}} 1",
            escape(&m.name),
            escape(&m.version),
            escape(&m.provider),
            escape(&m.sha256)
        );
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the format wants it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_have_their_docs_gauges_and_labels_are_escaped() {
        let m = StationMetrics::default();
        m.inc(&m.triggers);
        for ms in [0.5, 4.0, 30.0, 7000.0] {
            m.record_latency(ms);
        }
        m.outputs_written(Some(true), None);
        let model = ModelLabels { name: "seal \"x\"".into(), version: "2.1.0".into(), ..Default::default() };
        let text = render("line\\1", &m.live(), Some(&model));
        assert!(text.contains("# HELP cellgate_triggers_total Trigger events that started an inspection.\n"));
        assert!(
            text.contains("# TYPE cellgate_triggers_total counter\ncellgate_triggers_total{station=\"line\\\\1\"} 1\n")
        );
        assert!(text.contains(
            "# TYPE cellgate_last_takeover_seconds gauge\ncellgate_last_takeover_seconds{station=\"line\\\\1\"} 0\n"
        ));
        // Cumulative buckets in seconds, the last one every part.
        let buckets: Vec<&str> =
            text.lines().filter(|l| l.starts_with("cellgate_part_latency_seconds_bucket")).collect();
        assert_eq!(buckets.len(), 13, "{text}");
        assert!(buckets[0].ends_with("le=\"0.001\"} 1"), "{buckets:?}");
        assert!(buckets[2].ends_with("le=\"0.005\"} 2"), "{buckets:?}");
        assert!(buckets[5].ends_with("le=\"0.05\"} 3"), "{buckets:?}");
        assert!(buckets[11].ends_with("le=\"5\"} 3"), "7 s is past every bound: {buckets:?}");
        assert!(buckets[12].ends_with("le=\"+Inf\"} 4"), "{buckets:?}");
        assert!(text.contains("cellgate_part_latency_seconds_count{station=\"line\\\\1\"} 4\n"));
        assert!(text.contains("cellgate_alarm{station=\"line\\\\1\"} 1\n"));
        assert!(text.contains("name=\"seal \\\"x\\\"\",version=\"2.1.0\""), "{text}");
        // Every counter documented in the registry gets its own words, not its name.
        assert!(text.contains("# HELP cellgate_parts_late_total Parts whose verdict was not ready"));
    }
}
