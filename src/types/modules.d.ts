// Module shapes that wrangler's bundler gives non-JS imports.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.bin' {
  const data: ArrayBuffer;
  export default data;
}
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js' {
  const factory: (config: Record<string, unknown>) => Promise<any>;
  export default factory;
}
