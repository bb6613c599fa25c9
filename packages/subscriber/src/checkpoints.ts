import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where a subscriber keeps the position it has processed up to. Positions are opaque strings that sort as
 * plain strings in commit order; `null` means "from the beginning".
 */
export type CheckpointStore = {
  load(): Promise<string | null>;
  save(position: string): Promise<void>;
};

/** Lives as long as the process: for tests, and for consumers that rebuild from zero on every start. */
export const memoryCheckpointStore = (
  initial: string | null = null,
): CheckpointStore & { current: () => string | null } => {
  let position = initial;
  return {
    load: async () => position,
    save: async (next) => {
      position = next;
    },
    current: () => position,
  };
};

/**
 * Replaces a file as a whole: writes a sibling temporary file, flushes it to disk, and renames it over the
 * old one, so a crash leaves either the previous content or the new one, never a torn file.
 */
export const writeFileAtomic = async (file: string, content: string): Promise<void> => {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  const handle = await open(partial, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
};

/** The content of a file, or null when it does not exist. */
export const readFileIfExists = async (file: string): Promise<string | null> => {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
};

/**
 * One small JSON file, replaced atomically on every save: after a crash it holds the previous checkpoint
 * or the new one, so at worst the last events are delivered again, which at-least-once handlers absorb.
 */
export const fileCheckpointStore = (file: string): CheckpointStore => {
  const target = path.resolve(file);
  return {
    load: async () => {
      const text = await readFileIfExists(target);
      if (text === null) return null;
      const parsed = JSON.parse(text) as { position?: unknown };
      if (typeof parsed.position !== 'string') throw new Error(`${target}: not a checkpoint file`);
      return parsed.position;
    },
    save: (position) =>
      writeFileAtomic(target, JSON.stringify({ position, saved_at: new Date().toISOString() })),
  };
};
