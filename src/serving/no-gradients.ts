// Stands in for tfjs-core's register_all_gradients (wrangler.toml [alias]), which tfjs-layers imports for training:
// the Worker only predicts, and no gradient is ever taken. It matters only in a build that bundles tfjs-layers (a
// model package that is not a Dense stack, src/serving/layers.ts).
export {};
