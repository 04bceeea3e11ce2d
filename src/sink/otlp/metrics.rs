//! The run's counters as an OTLP `ExportMetricsServiceRequest`: each family of
//! [`crate::sink::metrics::expose`] one metric — counters as cumulative monotonic sums
//! from the start of the run, gauges as gauges — its Prometheus labels as attributes.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use prost::Message;

use crate::encode::otlp::Envelope;
use crate::sink::metrics::{Exposition, Kind, Sources, expose};

/// The request of `sources`' counters as of `now_ns`, counted since `start_ns`.
pub fn request(sources: &Sources<'_>, envelope: &Envelope, start_ns: u64, now_ns: u64) -> Vec<u8> {
    let mut metrics = Metrics {
        metrics: Vec::new(),
        start_ns,
        now_ns,
    };
    expose(sources, &mut metrics);
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(envelope.resource().clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(envelope.scope().clone()),
                metrics: metrics.metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The metrics being built.
struct Metrics {
    metrics: Vec<Metric>,
    start_ns: u64,
    now_ns: u64,
}

impl Exposition for Metrics {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let data = match kind {
            Kind::Counter => metric::Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: AggregationTemporality::Cumulative.into(),
                is_monotonic: true,
            }),
            Kind::Gauge => metric::Data::Gauge(Gauge {
                data_points: Vec::new(),
            }),
        };
        self.metrics.push(Metric {
            name: name.to_owned(),
            description: help.to_owned(),
            data: Some(data),
            ..Default::default()
        });
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let Some(metric) = self.metrics.last_mut().filter(|m| m.name == name) else {
            debug_assert!(false, "{name}: a sample outside its family");
            return;
        };
        let point = NumberDataPoint {
            attributes: labels
                .iter()
                .map(|(key, value)| KeyValue {
                    key: (*key).to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue((*value).to_owned())),
                    }),
                })
                .collect(),
            start_time_unix_nano: self.start_ns,
            time_unix_nano: self.now_ns,
            value: Some(number_data_point::Value::AsInt(
                value.min(i64::MAX as u64) as i64
            )),
            ..Default::default()
        };
        match &mut metric.data {
            Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
            _ => {}
        }
    }
}
