// The LLM client module: one import for the stages and the CLI.
export * from './adaptive-concurrency.js';
export * from './budget.js';
export * from './client.js';
export * from './config.js';
export * from './errors.js';
export * from './factory.js';
export * from './provenance.js';
export * from './retry.js';
export * from './served-models.js';
export * from './structured.js';
export * from './usage.js';
