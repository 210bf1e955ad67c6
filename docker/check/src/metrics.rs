//! Metric names on both sides: the ones PromQL expressions (dashboard panels, alert rules)
//! read, and the ones a `/metrics` page exports; plus the names that come from elsewhere
//! (Prometheus itself, RabbitMQ's plugin, which does not run where the tests run).

use std::collections::BTreeSet;

use promql_parser::parser::{self, Expr};

use crate::Error;

/// Series Prometheus records itself for every scrape target.
pub const PROMETHEUS_SERIES: &[&str] = &["up"];

/// Metric names of RabbitMQ's `rabbitmq_prometheus` plugin (port 15692) the kit may use, as
/// documented by RabbitMQ (`deps/rabbitmq_prometheus/metrics.md` in rabbitmq-server: the
/// generic, connection, channel, queue and global counter metrics). The queue metrics carry
/// `vhost` and `queue` labels only on `/metrics/per-object` (or with
/// `prometheus.return_per_object_metrics = true`); on the default `/metrics` they are summed
/// over all queues.
pub const RABBITMQ_METRICS: &[&str] = &[
    "rabbitmq_build_info",
    "rabbitmq_identity_info",
    "rabbitmq_consumers",
    "rabbitmq_consumer_prefetch",
    "rabbitmq_disk_space_available_bytes",
    "rabbitmq_disk_space_available_limit_bytes",
    "rabbitmq_process_max_fds",
    "rabbitmq_process_open_fds",
    "rabbitmq_process_resident_memory_bytes",
    "rabbitmq_resident_memory_limit_bytes",
    "rabbitmq_connections",
    "rabbitmq_connections_opened_total",
    "rabbitmq_connections_closed_total",
    "rabbitmq_channels",
    "rabbitmq_channels_opened_total",
    "rabbitmq_channels_closed_total",
    "rabbitmq_channel_messages_unacked",
    "rabbitmq_channel_messages_published_total",
    "rabbitmq_channel_messages_acked_total",
    "rabbitmq_queue_consumers",
    "rabbitmq_queue_consumer_utilisation",
    "rabbitmq_queue_messages",
    "rabbitmq_queue_messages_bytes",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_ready_bytes",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_queue_messages_unacked_bytes",
    "rabbitmq_queue_messages_persistent",
    "rabbitmq_queue_messages_published_total",
    "rabbitmq_queues",
    "rabbitmq_queues_declared_total",
    "rabbitmq_queues_created_total",
    "rabbitmq_queues_deleted_total",
    "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_routed_total",
    "rabbitmq_global_messages_confirmed_total",
    "rabbitmq_global_messages_delivered_total",
    "rabbitmq_global_messages_acknowledged_total",
    "rabbitmq_global_messages_redelivered_total",
    "rabbitmq_global_messages_unroutable_dropped_total",
    "rabbitmq_global_messages_unroutable_returned_total",
    "rabbitmq_global_messages_dead_lettered_rejected_total",
    "rabbitmq_global_messages_dead_lettered_expired_total",
    "rabbitmq_global_messages_dead_lettered_maxlen_total",
    "rabbitmq_global_messages_dead_lettered_delivery_limit_total",
    "rabbitmq_global_messages_dead_lettered_confirmed_total",
    "rabbitmq_global_publishers",
    "rabbitmq_global_consumers",
];

/// Grafana's interval variables, replaced by a duration so the expression parses as PromQL.
const GRAFANA_INTERVALS: &[&str] =
    &["${__rate_interval}", "$__rate_interval", "${__interval}", "$__interval", "${__range}", "$__range"];

/// Parses `expr` (Grafana interval variables allowed) and returns the metric names it selects.
pub fn promql_metric_names(expr: &str) -> Result<BTreeSet<String>, Error> {
    let mut text = expr.to_owned();
    for variable in GRAFANA_INTERVALS {
        text = text.replace(variable, "5m");
    }
    let parsed = parser::parse(&text).map_err(|e| Error::parse(format!("PromQL `{expr}`"), e))?;
    let mut names = BTreeSet::new();
    collect_names(&parsed, &mut names);
    Ok(names)
}

fn collect_names(expr: &Expr, names: &mut BTreeSet<String>) {
    match expr {
        Expr::VectorSelector(selector) => names.extend(selector.name.clone()),
        Expr::MatrixSelector(matrix) => names.extend(matrix.vs.name.clone()),
        Expr::Aggregate(aggregate) => {
            collect_names(&aggregate.expr, names);
            if let Some(param) = &aggregate.param {
                collect_names(param, names);
            }
        }
        Expr::Unary(unary) => collect_names(&unary.expr, names),
        Expr::Binary(binary) => {
            collect_names(&binary.lhs, names);
            collect_names(&binary.rhs, names);
        }
        Expr::Paren(paren) => collect_names(&paren.expr, names),
        Expr::Subquery(subquery) => collect_names(&subquery.expr, names),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| collect_names(arg, names)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The metric names a Prometheus text exposition exports: every sample's name (so a histogram
/// gives `<name>_bucket`, `_sum` and `_count`) and every `# TYPE` line's name.
pub fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = sampled_names(exposition);
    names.extend(
        exposition
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split_whitespace().next().map(str::to_owned)),
    );
    names
}

/// The metric names that have at least one sample in a Prometheus text exposition (a `# TYPE`
/// line alone does not count): a histogram counts through its `_bucket`, `_sum` and `_count`.
pub fn sampled_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect())
        .filter(|name: &String| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        promql_metric_names(expr).unwrap().into_iter().collect()
    }

    #[test]
    fn selectors_are_found_through_functions_aggregations_and_operators() {
        assert_eq!(
            names("histogram_quantile(0.99, sum by (le) (rate(vote_end_to_end_latency_seconds_bucket[5m]))) > 0.05"),
            ["vote_end_to_end_latency_seconds_bucket"]
        );
        assert_eq!(
            names(r#"sum(rate(a_total[5m])) == 0 and sum(delta(b{queue="votes.aggregation"}[5m])) > 0"#),
            ["a_total", "b"]
        );
        assert_eq!(names("topk(10, sum by (law_id) (c)) or absent(up{job=\"x\"})"), ["c", "up"]);
        assert_eq!(names("sum(d_sum) / sum(d_count)"), ["d_count", "d_sum"]);
    }

    #[test]
    fn grafana_intervals_are_accepted() {
        assert_eq!(names("sum(rate(x_total[$__rate_interval]))"), ["x_total"]);
        assert_eq!(names("sum(increase(y_total[${__interval}]))"), ["y_total"]);
    }

    #[test]
    fn invalid_promql_is_an_error() {
        assert!(promql_metric_names("sum(rate(x_total[5m])").is_err());
        assert!(promql_metric_names("sum by (le (x)").is_err());
    }

    #[test]
    fn exported_names_come_from_samples_and_type_lines() {
        let text = "# HELP a A.\n# TYPE a counter\na 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_sum 0\nh_count 0\nb{x=\"1\"} 2\n";
        let names: Vec<String> = exported_names(text).into_iter().collect();
        assert_eq!(names, ["a", "b", "h", "h_bucket", "h_count", "h_sum"]);
    }

    #[test]
    fn sampled_names_ignore_type_lines_without_samples() {
        let text = "# HELP a A.\n# TYPE a counter\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_count 0\nb{x=\"1\"} 0\n";
        let names: Vec<String> = sampled_names(text).into_iter().collect();
        assert_eq!(names, ["b", "h_bucket", "h_count"]);
    }
}
