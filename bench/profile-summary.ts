/**
 * The top self-time functions of V8 CPU profiles (`node --cpu-prof`), merged across files:
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile | directory> [top=25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
};
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

const files = (target: string): string[] =>
  statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => path.join(target, f))
    : [target];

const main = (): void => {
  const target = process.argv[2];
  if (!target) throw new Error('usage: profile-summary <file.cpuprofile | directory> [top]');
  const top = Number(process.argv[3] ?? 25);
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  for (const file of files(target)) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const frame = byId.get(id)?.callFrame;
      const dt = profile.timeDeltas[i] ?? 0;
      totalUs += dt;
      if (!frame) return;
      const where = frame.url
        ? `${frame.url.replace(/^.*\/node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${frame.lineNumber + 1}`
        : '';
      const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
      selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    });
  }
  const rows = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  process.stdout.write(`total ${(totalUs / 1e6).toFixed(1)} s sampled\n`);
  for (const [key, us] of rows) {
    process.stdout.write(
      `${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}\n`,
    );
  }
};

main();
