//! A small line of counts per bucket, oldest on the left: the trend without axes.

use leptos::prelude::*;

/// `values` scaled to the peak; `title` is what a pointer hovering it reads (and the label).
/// `tone` adds a class (`bad` draws it in the failure colour).
#[component]
pub fn Sparkline(
    values: Vec<i64>,
    title: String,
    #[prop(optional)] tone: &'static str,
) -> impl IntoView {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    let peak = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = W / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                H - 2.0 - (*v as f64 / peak) * (H - 4.0)
            )
        })
        .collect();
    let line = points.join(" ");
    let area = format!("0,{H} {line} {W},{H}");
    let label = title.clone();
    view! {
        <svg class=format!("spark {tone}") viewBox=format!("0 0 {W} {H}") width=W height=H role="img" aria-label=label>
            <title>{title}</title>
            <polygon class="spark-area" points=area/>
            <polyline class="spark-line" points=line/>
        </svg>
    }
}
