// Stands in for the threaded build's JS glue of @tensorflow/tfjs-backend-wasm (wrangler.toml [alias]), which the
// backend imports but never runs here: backend.ts turns WASM_HAS_MULTITHREAD_SUPPORT off, and a Worker has no Web
// Workers to run threads on. Dropping it leaves ~10 KiB of the bundle's 400 KiB gzip budget free.

/** The threaded module factory: never called while multithreading is off; throws if it ever were. */
export default function threadedSimdFactory(): never {
  throw new Error('the threaded TF.js WASM build is not bundled (src/serving/no-threads.ts); WASM_HAS_MULTITHREAD_SUPPORT must stay false');
}

/** The threaded build's Web Worker script: only read by the threaded factory. */
export const wasmWorkerContents = '';
