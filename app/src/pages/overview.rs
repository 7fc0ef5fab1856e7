use crate::api::{queue_list, system_status};
use crate::components::empty_state::EmptyState;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use protocol::{BusKind, Check, Health};

#[component]
pub fn Overview() -> impl IntoView {
    let t = use_strings();
    view! {
        <Title text=move || t().overview_title/>
        <div class="page-head">
            <h1>{move || t().overview_title}</h1>
            <p class="lead">{move || t().overview_lead}</p>
        </div>
        <SystemCard/>
        <QueueCount/>
    }
}

/// How many queues the store knows, or what to do while there are none.
#[component]
fn QueueCount() -> impl IntoView {
    let t = use_strings();
    let queues = Resource::new(|| (), |_| queue_list());
    view! {
        <Transition fallback=|| ()>
            {move || queues.get().map(|result| match result {
                Ok(list) if !list.is_empty() => view! {
                    <section class="card queue-count" data-testid="queue-count">
                        <span class="big">{list.len()}</span>
                        " "
                        <span>{move || t().queues_count}</span>
                        <A href="/queues" attr:class="button">{move || t().see_queues}</A>
                    </section>
                }.into_any(),
                _ => view! {
                    <EmptyState title=move || t().queues_empty_title body=move || t().queues_empty_body/>
                }.into_any(),
            })}
        </Transition>
    }
}

/// Reachability of this instance's dependencies, checked by a real round trip on demand.
#[component]
fn SystemCard() -> impl IntoView {
    let t = use_strings();
    let checks = RwSignal::new(0u32);
    let checking = RwSignal::new(false);
    let status = Resource::new(move || checks.get(), |_| system_status());
    view! {
        <section class="card system-card" data-testid="system-card">
            <header class="card-head">
                <h2>{move || t().system_title}</h2>
                <button
                    class="button"
                    type="button"
                    data-testid="recheck"
                    disabled=move || checking.get()
                    on:click=move |_| checks.update(|n| *n += 1)
                >
                    {move || if checking.get() { t().status_loading } else { t().refresh }}
                </button>
            </header>
            <Transition
                fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }
                set_pending=checking.write_only()
            >
                {move || {
                    status
                        .get()
                        .map(|result| match result {
                            Ok(health) => view! { <SystemFacts health/> }.into_any(),
                            Err(_) => {
                                view! { <p class="error">{move || t().status_unreachable}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn SystemFacts(health: Health) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    let bus_name = move || match health.bus {
        BusKind::Memory => t().bus_memory,
        BusKind::Redis => t().bus_redis,
    };
    let Health {
        store,
        checks,
        version,
        uptime_s,
        ..
    } = health;
    view! {
        <dl class="facts">
            <Fact label=move || t().store name=store.as_str() check=checks.store/>
            <Fact label=move || t().bus name=bus_name check=checks.bus/>
            <div class="fact">
                <dt>{move || t().version}</dt>
                <dd>{version}</dd>
            </div>
            <div class="fact">
                <dt>{move || t().uptime}</dt>
                <dd data-testid="uptime">{move || locale.get().duration(uptime_s)}</dd>
            </div>
        </dl>
    }
}

#[component]
fn Fact(
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    #[prop(into)] name: Signal<&'static str>,
    check: Check,
) -> impl IntoView {
    let t = use_strings();
    let ok = check.is_ok();
    let latency = format!("{:.1} ms", check.latency_ms);
    let error = check.error;
    view! {
        <div class="fact">
            <dt>{label}</dt>
            <dd>
                <span class="kind">{name}</span>
                <span class=if ok { "badge ok" } else { "badge down" }>
                    {move || if ok { t().status_ok } else { t().status_down }}
                </span>
                <span class="muted small">{latency}</span>
                {error.map(|e| view! { <span class="error small">{e}</span> })}
            </dd>
        </div>
    }
}
