//! Prometheus metrics over HTTP (`GET /metrics`), built from a snapshot of the daemon's state at
//! each scrape so that they never disagree with `show` output.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// Label pairs of one sample, for example `[("peer", "10.0.0.201")]`.
pub type Labels = Vec<(String, String)>;

/// Whether a metric only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// One metric family with its samples.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Name without the `hna_` prefix, which the encoder adds.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    pub samples: Vec<(Labels, u64)>,
}

impl Metric {
    pub fn gauge(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            help,
            kind: MetricKind::Gauge,
            samples: Vec::new(),
        }
    }

    pub fn counter(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            help,
            kind: MetricKind::Counter,
            samples: Vec::new(),
        }
    }

    pub fn sample(&mut self, labels: &[(&str, &str)], value: u64) {
        let labels = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples.push((labels, value));
    }
}

/// A request from the HTTP task to the daemon's core for the current metrics.
pub type MetricsRequest = oneshot::Sender<Vec<Metric>>;

/// Encodes `metrics` in the Prometheus text exposition format.
pub fn encode_text(metrics: &[Metric]) -> String {
    let mut registry = Registry::with_prefix("hna");
    for metric in metrics {
        match metric.kind {
            MetricKind::Gauge => {
                let family = Family::<Labels, Gauge>::default();
                for (labels, value) in &metric.samples {
                    family
                        .get_or_create(labels)
                        .set(i64::try_from(*value).unwrap_or(i64::MAX));
                }
                registry.register(metric.name, metric.help, family);
            }
            MetricKind::Counter => {
                let family = Family::<Labels, Counter>::default();
                for (labels, value) in &metric.samples {
                    family.get_or_create(labels).inc_by(*value);
                }
                registry.register(metric.name, metric.help, family);
            }
        }
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

/// Serves `GET /metrics` on `address` until the task is dropped.
pub async fn serve(address: SocketAddr, core: mpsc::Sender<MetricsRequest>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    info!(%address, "metrics endpoint listening");
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(core);
    axum::serve(listener, app).await
}

async fn scrape(State(core): State<mpsc::Sender<MetricsRequest>>) -> impl IntoResponse {
    let (reply, metrics) = oneshot::channel();
    if core.send(reply).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "daemon shutting down\n".to_string(),
        );
    }
    match metrics.await {
        Ok(metrics) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            encode_text(&metrics),
        ),
        Err(_) => {
            warn!("metrics request dropped by the core");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain")],
                "no metrics\n".to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_metrics_carry_prefix_labels_and_values() {
        let mut sessions = Metric::gauge(
            "bgp_session_established",
            "1 when the BGP session is Established",
        );
        sessions.sample(&[("peer", "10.0.0.201")], 1);
        let mut updates = Metric::counter("bgp_updates_received", "UPDATE messages received");
        updates.sample(&[("peer", "10.0.0.201")], 42);
        let text = encode_text(&[sessions, updates]);
        assert!(
            text.contains("# TYPE hna_bgp_session_established gauge"),
            "{text}"
        );
        assert!(
            text.contains("hna_bgp_session_established{peer=\"10.0.0.201\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hna_bgp_updates_received_total{peer=\"10.0.0.201\"} 42"),
            "{text}"
        );
    }
}
