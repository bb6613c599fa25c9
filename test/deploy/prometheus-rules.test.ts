/**
 * The alert and recording rules (deploy/prometheus/) as promtool sees them: they parse, and their unit
 * tests (deploy/prometheus/tests/) pass. promtool comes from Debian's `prometheus` package.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runProgram, tool } from '../support/tools';

const DIR = path.resolve(__dirname, '../../deploy/prometheus');
const promtool = tool('promtool', 'apt-get install prometheus', 'promtool rules test');

(promtool.run ? describe : describe.skip)('Prometheus rules', () => {
  it('promtool check rules accepts every rule file', () => {
    const files = ['recording.yml', 'alerts.yml'].map((f) => path.join(DIR, f));
    const r = runProgram(promtool.need(), ['check', 'rules', ...files]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('promtool test rules passes every unit test of the rules', () => {
    const tests = readdirSync(path.join(DIR, 'tests'))
      .filter((f) => f.endsWith('.test.yml'))
      .map((f) => path.join(DIR, 'tests', f));
    expect(tests.length).toBeGreaterThan(0);
    const r = runProgram(promtool.need(), ['test', 'rules', ...tests]);
    if (r.status !== 0) throw new Error(r.output);
    expect(r.output).toContain('SUCCESS');
  });

  it('the Prometheus configuration of the compose demo loads those rules', () => {
    const r = runProgram(promtool.need(), ['check', 'config', path.join(DIR, 'prometheus.yml')]);
    if (r.status !== 0) throw new Error(r.output);
    expect(r.output).toMatch(
      /SUCCESS: 2 rule files found[\s\S]*recording.yml\s+SUCCESS: \d+ rules found[\s\S]*alerts.yml\s+SUCCESS: \d+ rules found/,
    );
  });
});
