export * from './commands';
export { sessionDecider, evolve as evolveSession, decide as decideSession } from './decider';
export * from './events';
export * from './liveness';
export * from './refresh';
export * from './state';
