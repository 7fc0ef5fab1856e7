//! The browser's side of the live stream (`GET /api/v1/live`): the newest snapshot of a view
//! as a signal. The stream is open only while the page is visible; a hidden tab closes it and
//! a visible one reopens it, resuming from the last frame it had.

use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// The newest frame of `view`, `None` until the first one arrives (and always on the server,
/// which renders from a resource instead). `params` are the view's further query parameters
/// (`&queue=…&grain=…`), already encoded.
pub fn use_live<T>(view: &'static str, params: String) -> ReadSignal<Option<T>>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let (frame, set_frame) = signal(None::<T>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::connect(view, params.clone(), set_frame));
    #[cfg(not(feature = "hydrate"))]
    let _ = (view, params, set_frame);
    frame
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use serde::de::DeserializeOwned;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    type OnFrame = Closure<dyn FnMut(web_sys::MessageEvent)>;

    struct Stream {
        view: &'static str,
        params: String,
        source: RefCell<Option<web_sys::EventSource>>,
        last_id: Cell<Option<u64>>,
        // Kept alive as long as the stream is.
        on_frame: RefCell<Option<OnFrame>>,
    }

    impl Stream {
        fn open(self: &Rc<Self>) {
            let view = self.view;
            let mut url = format!("/api/v1/live?view={view}{}", self.params);
            if let Some(id) = self.last_id.get() {
                url.push_str(&format!("&last_event_id={id}"));
            }
            let Ok(source) = web_sys::EventSource::new(&url) else {
                return;
            };
            if let Some(f) = self.on_frame.borrow().as_ref() {
                let _ = source.add_event_listener_with_callback(view, f.as_ref().unchecked_ref());
            }
            self.source.replace(Some(source));
        }

        fn close(&self) {
            if let Some(s) = self.source.take() {
                s.close();
            }
        }
    }

    pub fn connect<T>(view: &'static str, params: String, set: WriteSignal<Option<T>>)
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let stream = Rc::new(Stream {
            view,
            params,
            source: RefCell::new(None),
            last_id: Cell::new(None),
            on_frame: RefCell::new(None),
        });
        let weak = Rc::downgrade(&stream);
        let on_frame =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                if let Ok(value) = serde_json::from_str::<T>(&text) {
                    set.set(Some(value));
                }
                if let Some(s) = weak.upgrade() {
                    s.last_id.set(e.last_event_id().parse().ok());
                }
            });
        stream.on_frame.replace(Some(on_frame));
        let document = document();
        if !document.hidden() {
            stream.open();
        }
        let s = stream.clone();
        let on_visibility = Closure::<dyn FnMut()>::new(move || {
            if document.hidden() {
                s.close();
            } else if s.source.borrow().is_none() {
                s.open();
            }
        });
        let _ = leptos::prelude::document().add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
        let cleanup = send_wrapper::SendWrapper::new((stream, on_visibility));
        on_cleanup(move || {
            let (stream, on_visibility) = cleanup.take();
            stream.close();
            let _ = leptos::prelude::document().remove_event_listener_with_callback(
                "visibilitychange",
                on_visibility.as_ref().unchecked_ref(),
            );
        });
    }
}
