//! Measurement marks, off unless asked for: `performance.mark("tessera:NAME")` and
//! `performance.measure("tessera:NAME", {start, end})` in the worker when its glue was created
//! with `timings: true` (which sets `self.__tesseraTimings` before the engine starts), so a
//! bench can read where a cold start or a download spends its time (`bench/sw-timings.js`).
//! Otherwise each call is one cached test of a `thread_local`. Decides nothing and changes no
//! behaviour.

use std::cell::OnceCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `performance` and its `mark`, `measure`, `now`, when marks were asked for.
#[derive(Debug)]
struct Perf {
    performance: JsValue,
    mark: Function,
    measure: Function,
    now: Function,
}

thread_local! {
    static PERF: OnceCell<Option<Perf>> = const { OnceCell::new() };
}

fn perf() -> Option<Perf> {
    let global = js_sys::global();
    let key = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
    if !key(&global, "__tesseraTimings")?.is_truthy() {
        return None;
    }
    let performance = key(&global, "performance")?;
    let f = |k: &str| key(&performance, k)?.dyn_into::<Function>().ok();
    Some(Perf {
        mark: f("mark")?,
        measure: f("measure")?,
        now: f("now")?,
        performance,
    })
}

fn with<T>(f: impl FnOnce(&Perf) -> T) -> Option<T> {
    PERF.with(|cell| cell.get_or_init(perf).as_ref().map(f))
}

/// Records the mark `tessera:{name}` when marks are on.
pub fn mark(name: &str) {
    with(|p| {
        let _ = p.mark.call1(
            &p.performance,
            &JsValue::from_str(&format!("tessera:{name}")),
        );
    });
}

/// A span of time measured from [`span`] until it is dropped.
#[derive(Debug)]
pub struct Span {
    name: &'static str,
    start: Option<f64>,
}

/// Starts measuring `tessera:{name}` (a `performance.measure` entry when the span ends).
pub fn span(name: &'static str) -> Span {
    let start = with(|p| p.now.call0(&p.performance).ok()?.as_f64()).flatten();
    Span { name, start }
}

impl Drop for Span {
    fn drop(&mut self) {
        let Some(start) = self.start else { return };
        with(|p| {
            let options = Object::new();
            let _ = Reflect::set(
                &options,
                &JsValue::from_str("start"),
                &JsValue::from_f64(start),
            );
            let _ = p.measure.call2(
                &p.performance,
                &JsValue::from_str(&format!("tessera:{}", self.name)),
                &options,
            );
        });
    }
}
