/**
 * Programs from Debian's packages that some tests run for real (promtool, prometheus, nginx, docker
 * compose). The house pattern for real servers: without the program the test is skipped with a notice,
 * except with CI=true, where it fails (.ci/run installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ciRequired = process.env.CI === 'true';

/** The program's path on PATH (or one of the given absolute paths), or null. */
export const findProgram = (name: string, extra: string[] = []): string | null => {
  for (const p of extra) if (existsSync(p)) return p;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
};

export type Tool = {
  path: string | null;
  /** Run the suite: the tool is there, or CI requires it (then the suite's beforeAll fails via `need`). */
  run: boolean;
  need: () => string;
};

/** Looks a program up, prints the skip notice outside CI, and gives the suite its switch. */
export const tool = (name: string, install: string, what: string, extra: string[] = []): Tool => {
  const found = findProgram(name, extra);
  if (!found && !ciRequired) process.stderr.write(`${what} skipped: ${name} is missing (${install})\n`);
  return {
    path: found,
    run: found !== null || ciRequired,
    need: () => {
      if (!found) throw new Error(`CI=true and ${name} is missing: .ci/run installs it (${install})`);
      return found;
    },
  };
};

/** Runs a program to its end; its status and output. */
export const runProgram = (file: string, args: string[], cwd?: string) => {
  const r = spawnSync(file, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
};
