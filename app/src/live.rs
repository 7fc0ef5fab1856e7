//! The browser's side of the live stream (`GET /api/v1/live`): the newest snapshot of a view
//! as a signal. The stream is open only while the page is visible; a hidden tab closes it and
//! a visible one reopens it, resuming from the last frame it had.

use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// Why the figures on a page stopped following the live stream (only the browser finds out).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Trouble {
    /// The server could not compute the view (its store or broker does not answer): its
    /// message.
    Unavailable(String),
    /// The connection to the server is lost; the browser reconnects by itself.
    Disconnected,
}

/// A view followed live: its newest frame and, while there is one, why it is not current.
pub struct Live<T: Send + Sync + 'static> {
    /// The newest frame, `None` until the first one arrives (and always on the server, which
    /// renders from a resource instead).
    pub frame: ReadSignal<Option<T>>,
    pub trouble: ReadSignal<Option<Trouble>>,
}

impl<T: Send + Sync + 'static> Clone for Live<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Live<T> {}

impl<T: Clone + Send + Sync + 'static> Live<T> {
    pub fn get(&self) -> Option<T> {
        self.frame.get()
    }
}

/// Follows `view` live. `params` are the view's further query parameters
/// (`&queue=…&grain=…`), already encoded.
pub fn use_live<T>(view: &'static str, params: String) -> Live<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let (frame, set_frame) = signal(None::<T>);
    let (trouble, set_trouble) = signal(None::<Trouble>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::connect(view, params.clone(), set_frame, set_trouble));
    #[cfg(not(feature = "hydrate"))]
    let _ = (view, params, set_frame, set_trouble);
    Live { frame, trouble }
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
    type OnEvent = Closure<dyn FnMut(web_sys::Event)>;

    struct Stream {
        view: &'static str,
        params: String,
        source: RefCell<Option<web_sys::EventSource>>,
        last_id: Cell<Option<u64>>,
        // Kept alive as long as the stream is.
        on_frame: RefCell<Option<OnFrame>>,
        on_unavailable: RefCell<Option<OnFrame>>,
        on_error: RefCell<Option<OnEvent>>,
        on_open: RefCell<Option<OnEvent>>,
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
            if let Some(f) = self.on_unavailable.borrow().as_ref() {
                let _ = source
                    .add_event_listener_with_callback("unavailable", f.as_ref().unchecked_ref());
            }
            if let Some(f) = self.on_error.borrow().as_ref() {
                let _ =
                    source.add_event_listener_with_callback("error", f.as_ref().unchecked_ref());
            }
            if let Some(f) = self.on_open.borrow().as_ref() {
                let _ = source.add_event_listener_with_callback("open", f.as_ref().unchecked_ref());
            }
            self.source.replace(Some(source));
        }

        fn close(&self) {
            if let Some(s) = self.source.take() {
                s.close();
            }
        }
    }

    pub fn connect<T>(
        view: &'static str,
        params: String,
        set: WriteSignal<Option<T>>,
        trouble: WriteSignal<Option<super::Trouble>>,
    ) where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        use super::Trouble;
        let stream = Rc::new(Stream {
            view,
            params,
            source: RefCell::new(None),
            last_id: Cell::new(None),
            on_frame: RefCell::new(None),
            on_unavailable: RefCell::new(None),
            on_error: RefCell::new(None),
            on_open: RefCell::new(None),
        });
        let on_unavailable =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let why = e
                    .data()
                    .as_string()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                trouble.set(Some(Trouble::Unavailable(why)));
            });
        stream.on_unavailable.replace(Some(on_unavailable));
        let weak_source = Rc::downgrade(&stream);
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| {
            // The browser reconnects by itself; the page says so meanwhile.
            let closed = weak_source.upgrade().is_none_or(|s| {
                s.source
                    .borrow()
                    .as_ref()
                    .is_none_or(|src| src.ready_state() != web_sys::EventSource::OPEN)
            });
            if closed {
                trouble.update(|t| {
                    if t.is_none() {
                        *t = Some(Trouble::Disconnected);
                    }
                });
            }
        });
        stream.on_error.replace(Some(on_error));
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| {
            trouble.update(|t| {
                if *t == Some(Trouble::Disconnected) {
                    *t = None;
                }
            });
        });
        stream.on_open.replace(Some(on_open));
        let weak = Rc::downgrade(&stream);
        let on_frame =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                if let Ok(value) = serde_json::from_str::<T>(&text) {
                    set.set(Some(value));
                    trouble.set(None);
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
