//! An ECharts chart (through charming) drawn in the browser. The server renders the empty
//! container; the browser draws into it once interactive and redraws in place when the chart
//! changes, so live updates do not re-create the canvas.

use charming::Chart;
use leptos::prelude::*;

#[component]
pub fn EChart(
    /// The container's element id, unique on the page.
    id: &'static str,
    #[prop(into)] chart: Signal<Chart>,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::draw(id, chart);
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! { <div class="chart" id=id data-testid=id></div> }
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::prefs::{effective_dark, use_prefs};
    use charming::theme::Theme;
    use charming::{Chart, Echarts, WasmRenderer};
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `echarts.dispose(chart)`: frees the chart's canvas and listeners.
        #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
        fn dispose(chart: &JsValue);
    }

    pub fn draw(id: &'static str, chart: Signal<Chart>) {
        let theme = use_prefs().theme;
        let handle = StoredValue::new_local(None::<Echarts>);
        Effect::new(move |was_dark: Option<bool>| {
            let chart = chart.get();
            let dark = effective_dark(theme.get());
            handle.update_value(|h| {
                // ECharts takes its theme only when a chart is created.
                if was_dark.is_some_and(|d| d != dark) {
                    if let Some(old) = h.take() {
                        dispose(&old);
                    }
                }
                match h {
                    Some(e) => WasmRenderer::update(e, &chart),
                    None => {
                        let renderer = WasmRenderer::new_opt(None, None).theme(if dark {
                            Theme::Dark
                        } else {
                            Theme::Default
                        });
                        *h = renderer.render(id, &chart).ok();
                    }
                }
            });
            dark
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            handle.with_value(|h| {
                if let Some(e) = h {
                    e.resize(JsValue::UNDEFINED);
                }
            })
        });
        on_cleanup(move || {
            resize.remove();
            handle.update_value(|h| {
                if let Some(e) = h.take() {
                    dispose(&e);
                }
            });
        });
    }
}
