//! The queue page's chart options, built from a series: finished tasks stacked by final state,
//! and run and wait time quantiles. Plain data in, charming options out, so they are tested
//! natively; the browser only draws them.

use crate::format::Zone;
use crate::i18n::Strings;
use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::{Bar, Line};
use charming::Chart;
use protocol::series::{Latency, Series, SeriesPoint};

/// Colours that read on both themes' backgrounds.
#[derive(Clone, Copy)]
pub struct Palette {
    ok: &'static str,
    bad: &'static str,
    other: &'static str,
    quantiles: [&'static str; 3],
}

impl Palette {
    pub fn of(dark: bool) -> Palette {
        if dark {
            Palette {
                ok: "#3ecf8e",
                bad: "#ff6b7d",
                other: "#f0b429",
                quantiles: ["#8b85ff", "#f0b429", "#ff6b7d"],
            }
        } else {
            Palette {
                ok: "#12805c",
                bad: "#c8273a",
                other: "#b7791f",
                quantiles: ["#4f46e5", "#d97706", "#c8273a"],
            }
        }
    }
}

fn frame(series: &Series, zone: &Zone) -> Chart {
    let labels: Vec<String> = series
        .points
        .iter()
        .map(|p| zone.tick(p.t as f64, series.grain))
        .collect();
    Chart::new()
        .background_color("transparent")
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top(0).left("center"))
        .grid(
            Grid::new()
                .left(8)
                .right(16)
                .top(36)
                .bottom(8)
                .contain_label(true),
        )
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .name(zone.name.clone())
                .data(labels),
        )
}

/// Finished tasks per bucket: successes, failures and the rest (killed, revoked, expired)
/// stacked.
pub fn finished(series: &Series, zone: &Zone, s: &Strings, colors: Palette) -> Chart {
    let column = |f: fn(&SeriesPoint) -> i64| -> Vec<i64> { series.points.iter().map(f).collect() };
    let bar = |name: &str, color: &str, data: Vec<i64>| {
        Bar::new()
            .name(name)
            .stack("finished")
            .item_style(charming::element::ItemStyle::new().color(color))
            .data(data)
    };
    frame(series, zone)
        .y_axis(Axis::new().type_(AxisType::Value).min_interval(1))
        .series(bar(s.q_success, colors.ok, column(|p| p.success)))
        .series(bar(s.q_failed, colors.bad, column(|p| p.failed)))
        .series(bar(
            s.q_other,
            colors.other,
            column(|p| p.killed + p.revoked + p.expired),
        ))
}

/// p50, p95 and p99 of one latency per bucket, in milliseconds, or in seconds when the
/// slowest bucket takes over 10 s; buckets without finished tasks are gaps.
pub fn latency(
    series: &Series,
    zone: &Zone,
    pick: fn(&SeriesPoint) -> &Latency,
    colors: Palette,
) -> Chart {
    let slowest = series
        .points
        .iter()
        .filter_map(|p| pick(p).p99)
        .fold(0.0_f64, f64::max);
    let (unit, scale) = if slowest > 10.0 {
        ("s", 1.0)
    } else {
        ("ms", 1000.0)
    };
    type Quantile = fn(&Latency) -> Option<f64>;
    let quantiles: [(&str, Quantile); 3] =
        [("p50", |l| l.p50), ("p95", |l| l.p95), ("p99", |l| l.p99)];
    let mut chart = frame(series, zone).y_axis(Axis::new().type_(AxisType::Value).name(unit));
    for ((name, q), color) in quantiles.into_iter().zip(colors.quantiles) {
        let data: Vec<Option<f64>> = series
            .points
            .iter()
            .map(|p| q(pick(p)).map(|v| (v * scale * 10.0).round() / 10.0))
            .collect();
        chart = chart.series(
            Line::new()
                .name(name)
                .show_symbol(false)
                // Seconds without a finished task would otherwise break the line into dashes.
                .connect_nulls(true)
                .item_style(charming::element::ItemStyle::new().color(color))
                .data(data),
        );
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::series::Grain;
    use serde_json::Value;

    fn series() -> Series {
        let point = |t, success, failed, killed, p95: Option<f64>| SeriesPoint {
            t,
            success,
            failed,
            killed,
            run: Latency {
                p50: p95.map(|v| v / 2.0),
                p95,
                p99: p95,
                avg: p95,
            },
            ..Default::default()
        };
        Series {
            queue: "mail".into(),
            grain: Grain::Minute,
            from: 1_795_423_320,
            to: 1_795_423_500,
            points: vec![
                point(1_795_423_320, 5, 1, 0, Some(0.25)),
                point(1_795_423_380, 0, 0, 0, None),
                point(1_795_423_440, 3, 0, 2, Some(0.0123)),
            ],
        }
    }

    fn json(chart: &Chart) -> Value {
        serde_json::from_str(&chart.to_string()).unwrap()
    }

    #[test]
    fn finished_tasks_stack_by_final_state_on_zone_labelled_buckets() {
        let c = json(&finished(
            &series(),
            &Zone::utc(),
            crate::i18n::Locale::En.strings(),
            Palette::of(false),
        ));
        assert_eq!(
            c["xAxis"]["data"],
            serde_json::json!(["08:42", "08:43", "08:44"])
        );
        assert_eq!(c["xAxis"]["name"], "UTC");
        let s = c["series"].as_array().unwrap();
        assert_eq!(s.len(), 3);
        assert!(s
            .iter()
            .all(|s| s["type"] == "bar" && s["stack"] == "finished"));
        assert_eq!(s[0]["data"], serde_json::json!([5, 0, 3]));
        assert_eq!(s[1]["data"], serde_json::json!([1, 0, 0]));
        assert_eq!(s[2]["data"], serde_json::json!([0, 0, 2]));
    }

    #[test]
    fn latency_quantiles_in_milliseconds_with_gaps() {
        let c = json(&latency(
            &series(),
            &Zone::utc(),
            |p| &p.run,
            Palette::of(true),
        ));
        assert_eq!(c["yAxis"]["name"], "ms");
        let s = c["series"].as_array().unwrap();
        assert_eq!(
            s.iter().map(|s| &s["name"]).collect::<Vec<_>>(),
            ["p50", "p95", "p99"]
        );
        assert_eq!(s[1]["data"], serde_json::json!([250.0, null, 12.3]));
    }
}
