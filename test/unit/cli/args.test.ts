import { PassThrough } from 'node:stream';
import { commandHelp, parseCommandArgs, UsageError } from '../../../src/cli/args';
import { commands, findCommand } from '../../../src/cli/commands';
import { progressBar } from '../../../src/cli/progress';
import { remoteAdmin } from '../../../src/cli/remote';
import { encodePosition } from '../../../src/application/event-store';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('command-line arguments (node:util parseArgs)', () => {
  const options = {
    from: { type: 'string' as const, description: 'x' },
    json: { type: 'boolean' as const, description: 'y' },
  };

  it('names an unknown option, a missing value, a value given to a flag and an extra argument', () => {
    expect(message(() => parseCommandArgs(['--form', 'x'], options))).toBe('unknown option --form');
    expect(message(() => parseCommandArgs(['--from'], options))).toBe('--from needs a value');
    expect(message(() => parseCommandArgs(['--json=yes'], options))).toBe('--json takes no value');
    expect(message(() => parseCommandArgs(['a', 'b'], options, { max: 1 }))).toBe('unexpected argument "b"');
    expect(message(() => parseCommandArgs([], options, { min: 1 }))).toBe('missing argument');
  });

  it('takes --name value and --name=value, flags, and positionals in any order', () => {
    const parsed = parseCommandArgs(['--json', 'x', '--from=0000000000000000-0000000000000001'], options);
    expect(parsed.values).toMatchObject({ json: true, from: '0000000000000000-0000000000000001' });
    expect(parsed.positionals).toEqual(['x']);
  });

  it('every command has a help naming itself, its arguments and each of its options', () => {
    for (const command of commands) {
      const help = commandHelp(command);
      expect(help).toContain(`usage: identity ${command.name}`);
      expect(help).toContain('-h, --help');
      for (const name of Object.keys(command.options ?? {})) expect(help).toContain(`--${name}`);
      expect(command.options).toBeDefined(); // the dispatcher checks options before opening a store
    }
    expect(findCommand(['projections', 'rebuild', 'x'])?.name).toBe('projections rebuild');
    expect(findCommand(['projections', 'status'])?.name).toBe('projections status');
  });
});

describe('--url', () => {
  const parsed = (values: Record<string, string>) => ({ values, positionals: [] });

  it('needs a token from IDENTITY_TOKEN or --token-file, and an http(s) URL named when wrong', () => {
    expect(remoteAdmin(parsed({}), {})).toBeNull();
    expect(message(() => remoteAdmin(parsed({ url: 'http://id.test' }), {}))).toMatch(/IDENTITY_TOKEN/);
    expect(message(() => remoteAdmin(parsed({ url: 'ftp://id.test' }), { IDENTITY_TOKEN: 't' }))).toBe(
      '--url "ftp://id.test": must be http:// or https://',
    );
    expect(message(() => remoteAdmin(parsed({ url: 'nope' }), { IDENTITY_TOKEN: 't' }))).toBe(
      '--url "nope" is not a URL',
    );
    expect(remoteAdmin(parsed({ url: 'https://id.test/' }), { IDENTITY_TOKEN: 't' })?.url).toBe(
      'https://id.test',
    );
  });
});

describe('progress bar', () => {
  const terminal = () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    let written = '';
    Object.assign(stream, {
      isTTY: true,
      columns: 120,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    stream.on('data', (d: Buffer) => (written += d.toString()));
    return { stream, text: () => written };
  };

  it('shows the share done, events, rate and ETA on a terminal', () => {
    const { stream, text } = terminal();
    const bar = progressBar('user-directory', { head: encodePosition(9n, 1000n), from: null, stream });
    bar.update(encodePosition(5n, 250n), 250);
    bar.update(encodePosition(7n, 500n), 500);
    bar.stop();
    expect(text()).toMatch(/user-directory \[.*\] 50% \| 500 events \| \d+ events\/s \| ETA /);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { stream, text } = terminal();
    Object.assign(stream, { isTTY: false });
    const bar = progressBar('sessions', { head: encodePosition(1n, 10n), from: null, stream });
    bar.update(encodePosition(1n, 5n), 5);
    bar.stop();
    expect(text()).toBe('');
  });
});
