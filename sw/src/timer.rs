//! The worker's timer: waiting with `setTimeout`. Nothing else.

/// Resolves after `ms` milliseconds (a worker `setTimeout`).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scope: web_sys::WorkerGlobalScope =
            wasm_bindgen::JsCast::unchecked_into(js_sys::global());
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
