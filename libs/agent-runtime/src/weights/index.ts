export * from './catalogue.js';
export * from './hf-download.js';
export * from './model-store.js';
