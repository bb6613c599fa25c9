/** The feed's routes are defined in routes/events.ts; this name stays for the callers that mount them. */
export { eventRoutes, type EventFeedDeps, type EventFeedOptions } from './routes/events';
