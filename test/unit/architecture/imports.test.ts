import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The house (docs/architecture.md): arrows point down only. Each folder of src/ may import the folders
 * listed for it and nothing else of src/; the domain imports no package at all.
 */
const SRC = path.resolve(__dirname, '../../../src');

const FOLDERS = [
  'domain',
  'catalog',
  'application',
  'projections',
  'consumers',
  'infrastructure',
  'api',
  'pages',
  'cli',
];

const MAY_IMPORT: Record<string, string[]> = {
  domain: ['domain'],
  catalog: ['catalog', 'domain'],
  application: ['application', 'catalog', 'domain'],
  projections: ['projections', 'application', 'catalog', 'domain'],
  consumers: ['consumers', 'application', 'catalog', 'domain'],
  infrastructure: ['infrastructure', 'consumers', 'projections', 'application', 'catalog', 'domain'],
  // The routes take what src/api/deps.ts declares; only the composition root knows the adapters.
  api: ['api', 'consumers', 'projections', 'application', 'catalog', 'domain'],
  // The hosted pages sit beside the JSON API and use its plumbing (body, rate limits, error table).
  pages: ['pages', 'api', 'consumers', 'projections', 'application', 'catalog', 'domain'],
  cli: [
    'cli',
    'api',
    'pages',
    'infrastructure',
    'consumers',
    'projections',
    'application',
    'catalog',
    'domain',
  ],
};

/** The composition root wires everything, the HTTP app included (STYLE.md "Inversify"). */
const COMPOSITION_ROOT = new Set(['infrastructure/container.ts']);

/** The list of the HTTP surface (api/index.ts) mounts the pages beside the API's tables. */
const MOUNTS_PAGES = new Set(['api/index.ts']);

const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(full);
    return full.endsWith('.ts') ? [full] : [];
  });

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);

/** The top folder of src/ an import lands in, `package` for a module from node_modules, or null for node:. */
const landsIn = (file: string, spec: string): string | null => {
  if (spec.startsWith('node:')) return null;
  if (!spec.startsWith('.')) return 'package';
  const target = path.relative(SRC, path.resolve(path.dirname(file), spec));
  return target.split(path.sep)[0] ?? '';
};

describe('import boundaries', () => {
  for (const folder of FOLDERS) {
    it(`${folder} imports only ${MAY_IMPORT[folder]!.join(', ')}`, () => {
      const wrong: string[] = [];
      for (const file of filesUnder(path.join(SRC, folder))) {
        for (const spec of importsOf(file)) {
          const into = landsIn(file, spec);
          if (into === null) continue;
          if (into === 'package') {
            if (folder === 'domain') wrong.push(`${path.relative(SRC, file)} -> ${spec}`);
            continue;
          }
          const own = path.relative(SRC, file).split(path.sep).join('/');
          if (COMPOSITION_ROOT.has(own)) continue;
          if (MOUNTS_PAGES.has(own) && into === 'pages') continue;
          if (FOLDERS.includes(into) && !MAY_IMPORT[folder]!.includes(into)) {
            wrong.push(`${path.relative(SRC, file)} -> ${spec}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});
