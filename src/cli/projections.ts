import type { Services } from '../infrastructure/services';
import { rebuildDeps } from '../infrastructure/projections';
import { findProjection, projections, rebuildProjection } from '../projections';
import { projectionLag } from '../projections/runtime/health';
import { readRegistry } from '../projections/runtime/registry';
import { parseCommandArgs, UsageError } from './args';
import type { CliCommand } from './command';
import { consoleOutput, type CliOutput } from './io';
import { withServices } from './open';
import { progressBar, type Progress } from './progress';

type Deps = Pick<Services, 'sql' | 'store' | 'clock' | 'keys'>;

/** Per projection: the active version and tables, the live checkpoint and lag, a rebuild in progress. */
export const runProjectionsStatus = async (deps: Deps, io: CliOutput): Promise<number> => {
  for (const projection of projections) {
    const entry = await readRegistry(deps.sql, projection.name);
    const lag = await projectionLag(deps, projection);
    if (!entry) {
      io.out(`${projection.name}: not built yet (code version ${projection.version})`);
      continue;
    }
    const outdated = entry.version !== projection.version ? ` (code is version ${projection.version})` : '';
    io.out(
      `${projection.name}: version ${entry.version}${outdated}, tables ${entry.tables.join(', ')}, ` +
        `checkpoint ${lag.checkpoint ?? 'none'}, lag ${lag.lagSeconds.toFixed(1)} s`,
    );
    if (entry.building) {
      io.out(
        `  rebuild in progress since ${entry.building.startedAt.toISOString()}: version ` +
          `${entry.building.version}, tables ${entry.building.tables.join(', ')}, at ` +
          `${entry.building.position ?? 'the start'} (run \`projections rebuild ${projection.name}\` to resume)`,
      );
    }
  }
  return 0;
};

/** Rebuilds one projection, or all, from position zero into fresh tables, then switches to them. */
export const runProjectionsRebuild = async (
  deps: Deps,
  args: string[],
  io: CliOutput,
  signal?: AbortSignal,
  options: { progress?: typeof progressBar } = {},
): Promise<number> => {
  let name: string | undefined;
  try {
    name = parseCommandArgs(args, {}, { max: 1 }).positionals[0];
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`projections rebuild: ${e.message}; usage: identity projections rebuild [name]`);
    return 2;
  }
  const chosen = name === undefined ? [...projections] : [findProjection(name)];
  if (chosen.some((p) => p === undefined)) {
    io.err(`unknown projection "${name}"; projections: ${projections.map((p) => p.name).join(', ')}`);
    return 2;
  }
  for (const projection of chosen) {
    if (!projection) continue;
    const head = (await deps.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position;
    const bar: Progress = (options.progress ?? progressBar)(projection.name, { head, from: null });
    let result;
    try {
      result = await rebuildProjection(rebuildDeps(deps), projection, {
        signal,
        onProgress: (p) => bar.update(p.position, p.events),
      });
    } finally {
      bar.stop();
    }
    io.out(
      `${result.projection}: ${result.resumed ? 'resumed and ' : ''}rebuilt ${result.events} events in ` +
        `${result.seconds.toFixed(1)} s (${Math.round(result.eventsPerSecond)} events/s) into ` +
        `${result.tables.join(', ')}; now active`,
    );
  }
  return 0;
};

export const projectionsStatus: CliCommand = {
  name: 'projections status',
  summary: 'read models: active version and tables, checkpoint, lag, rebuilds in progress',
  options: {},
  run: (_args, config) => withServices(config, (services) => runProjectionsStatus(services, consoleOutput)),
};

export const projectionsRebuild: CliCommand = {
  name: 'projections rebuild',
  summary: 'rebuild read models from the first event into fresh tables, then switch to them',
  usage: `[${projections.map((p) => p.name).join(' | ')}]`,
  options: {},
  details: ['Without a name every projection is rebuilt. A progress bar shows on a terminal.'],
  run: (args, config) =>
    withServices(config, async (services) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      try {
        return await runProjectionsRebuild(services, args, consoleOutput, controller.signal);
      } finally {
        process.off('SIGINT', stop);
      }
    }),
};
