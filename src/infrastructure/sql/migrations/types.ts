/**
 * A schema migration: plain SQL, applied once, in version order, inside one transaction, at start-up or
 * by `npm run migrate`. Released migrations are never edited; a change is a new version.
 */
export type Migration = {
  version: number;
  name: string;
  sql: string;
};
