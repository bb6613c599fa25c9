/** Where a command writes: stdout for results, stderr for progress and problems (tests pass their own). */
export type CliOutput = { out: (line: string) => void; err: (line: string) => void };

export const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
