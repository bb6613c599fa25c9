/**
 * The metric names a PromQL expression reads, without a full parser: strings, label matchers, ranges and
 * the label lists of `by`/`without`/`on`/`ignoring`/`group_*` are removed, then every identifier that is not
 * a function call, a keyword or a number literal is a metric name (or a recording rule's name).
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

export const metricNamesIn = (expr: string): string[] => {
  let s = expr
    .replace(/\$__\w+/g, '5m') // Grafana's interval variables, e.g. $__rate_interval
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#[^\n]*/g, '');
  let before: string;
  do {
    before = s;
    s = s.replace(/\{[^{}]*\}/g, ' ').replace(/\[[^[\]]*\]/g, ' ');
  } while (s !== before);
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/gi, ' ');
  const names = new Set<string>();
  const token = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  for (let m = token.exec(s); m !== null; m = token.exec(s)) {
    const name = m[0];
    const prev = s[m.index - 1];
    if (prev !== undefined && /[0-9.]/.test(prev)) continue; // 1e3, 5m, 0.5
    const rest = s.slice(m.index + name.length);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
};
