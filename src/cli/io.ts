/** Where a command writes: stdout for results, stderr for progress and problems (tests pass their own). */
export type CliOutput = { out: (line: string) => void; err: (line: string) => void };

export const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The value of `--name value` or `--name=value`, and the arguments left once it is taken out. */
export const takeOption = (
  args: string[],
  name: string,
): { value?: string; rest: string[]; missing?: true } => {
  const rest: string[] = [];
  let value: string | undefined;
  let missing: true | undefined;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === `--${name}`) {
      value = args[i + 1];
      if (value === undefined) missing = true;
      i += 1;
    } else if (arg.startsWith(`--${name}=`)) {
      value = arg.slice(name.length + 3);
    } else {
      rest.push(arg);
    }
  }
  return { value, rest, ...(missing ? { missing } : {}) };
};

/** Whether the flag `--name` is present, and the arguments without it. */
export const takeFlag = (args: string[], name: string): { present: boolean; rest: string[] } => ({
  present: args.includes(`--${name}`),
  rest: args.filter((a) => a !== `--${name}`),
});
