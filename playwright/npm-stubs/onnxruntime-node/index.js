// Stand-in for onnxruntime-node (see package.json): tessera's recipes run transformers.js in the
// browser, where onnxruntime-web does the work. Loading this in Node is a mistake worth a clear error.
throw new Error('onnxruntime-node is stubbed in this repository (playwright/npm-stubs): transformers.js runs in the browser here');
