// Sets up TF.js on the WASM backend inside workerd, once per isolate.
//
// workerd forbids compiling WebAssembly from bytes at run time, which is what the backend's stock init does.
// Wrangler instead hands us the SIMD binary as a precompiled WebAssembly.Module; we register a replacement
// 'wasm' backend whose factory runs the emscripten glue with an instantiateWasm hook that instantiates that
// Module (tfjs issue #8157 asks for this upstream). No other backend is registered: inference cannot silently fall
// back to the cpu backend.
//
// The backend class comes from the package's `dist/base`, which registers no kernel: the Dense steps
// (serving/registry.ts) call the WASM module's C functions themselves. Every kernel is registered, under the name
// 'wasm' so that it attaches to this backend unchanged, by serving/layers.ts, which the generated registry imports
// only when a model needs tfjs-layers.
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm/dist/base';
import wasmFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js';
import simdModule from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';

export const BACKEND = 'wasm';
const PRIORITY = 10;

async function createWasmBackend(): Promise<tf.KernelBackend> {
  const config = {
    // The glue decides it is in Node when it sees `process`; it must use the hook below instead.
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
      WebAssembly.instantiate(simdModule, imports).then((instance) => receive(instance));
      return {};
    },
    locateFile: (path: string) => path,
  };
  const g = globalThis as { process?: unknown };
  const hiddenProcess = g.process;
  let pending: Promise<any>;
  try {
    if (hiddenProcess !== undefined) g.process = undefined;
    pending = wasmFactory(config);
  } finally {
    if (hiddenProcess !== undefined) g.process = hiddenProcess;
  }
  const wasm = await pending;
  // The same bridge the backend's own init() installs (backend_wasm.js).
  wasm.tfjs = {
    init: wasm.cwrap('init', null, []),
    initWithThreadsCount: wasm.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: wasm.cwrap('get_threads_count', 'number', []),
    registerTensor: wasm.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: wasm.cwrap('dispose_data', null, ['number']),
    dispose: wasm.cwrap('dispose', null, []),
  };
  return new BackendWasm(wasm);
}

let ready: Promise<void> | undefined;

/** Resolves once TF.js runs on the WASM backend; rejects (and retries next call) if it cannot. */
export function ensureBackend(): Promise<void> {
  ready ??= (async () => {
    tf.removeBackend(BACKEND);
    tf.registerBackend(BACKEND, createWasmBackend, PRIORITY);
    // The backend's flag probes for threads would pick the threaded build (workerd has SharedArrayBuffer);
    // our factory only ever builds the single-threaded SIMD module.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const ok = await tf.setBackend(BACKEND);
    if (!ok || tf.getBackend() !== BACKEND) throw new Error(`TF.js backend "${BACKEND}" failed to initialise`);
  })().catch((e) => {
    ready = undefined;
    throw e;
  });
  return ready;
}

export const activeBackend = (): string | null => (ready ? tf.getBackend() ?? null : null);
