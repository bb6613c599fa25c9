/**
 * Moved to runtime/health.ts. This path stays only for src/api/index.ts, which is being edited elsewhere;
 * once that import reads '../projections/runtime/health', delete this file.
 */
export * from './runtime/health';
