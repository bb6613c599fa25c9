import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Eta } from 'eta';
import {
  PAGE_NAMES,
  type MailData,
  type MailTemplateName,
  type PageData,
  type PageName,
  type RenderedMail,
  type Templates,
} from '../../application/templates';
import { MAIL_SAMPLES, PAGE_SAMPLES } from './samples';

/**
 * The templates, compiled at start (application/templates.ts is the port). Eta: small (no dependencies),
 * maintained, typed, and it auto-escapes `<%= %>` in the HTML instance; the plain-text parts and subjects
 * are rendered by a second instance without escaping, since they are not HTML.
 *
 * Each template is a file: `mail/<kind>.{subject,text,html}.eta`, `mail/layout.html.eta`,
 * `pages/<name>.eta`, `pages/layout.eta`, `pages/style.css`. A file of the same path under TEMPLATES_DIR
 * replaces the shipped one; a file there that names no template is refused (a misspelt override would
 * otherwise be silently ignored). Every template is compiled AND rendered once with sample data here, so
 * a syntax error, a missing include or a member of `it` that does not exist stops the process at start
 * with the file's path, not the first person who opens a link.
 */

export const MAIL_KINDS: readonly MailTemplateName[] = [
  'verification',
  'reset',
  'signup-attempt',
  'password-changed',
  'password-reset',
  'email-change',
  'email-change-taken',
  'email-change-notice',
];

const MAIL_PARTS = ['subject', 'text', 'html'] as const;

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`template ${file}: ${detail}`);
    this.name = 'TemplateError';
  }
}

/** The shipped templates: `templates/` at the package root, found from here in src/ and in dist/src/. */
export const shippedTemplatesDir = (): string => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates', 'pages'))) {
      return path.join(dir, 'templates');
    }
    if (path.dirname(dir) === dir) throw new Error('the shipped templates/ folder was not found');
  }
};

const templateFiles = (): string[] => [
  'mail/layout.html.eta',
  ...MAIL_KINDS.flatMap((kind) => MAIL_PARTS.map((part) => `mail/${kind}.${part}.eta`)),
  'pages/layout.eta',
  ...PAGE_NAMES.map((name) => `pages/${name}.eta`),
  'pages/style.css',
];

const filesUnder = (root: string, dir = root): string[] =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(root, full);
    return [path.relative(root, full).split(path.sep).join('/')];
  });

export type TemplateOptions = {
  /** TEMPLATES_DIR: overrides, file by file. */
  overridesDir?: string;
  /** PRODUCT_NAME. */
  product: string;
};

/** One line, no control characters: a subject is a header. */
const oneLine = (value: string): string =>
  value
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

export const loadTemplates = (options: TemplateOptions): Templates => {
  const shipped = shippedTemplatesDir();
  const wanted = templateFiles();
  const overrides = options.overridesDir;
  if (overrides !== undefined) {
    if (!existsSync(overrides) || !statSync(overrides).isDirectory()) {
      throw new TemplateError(overrides, 'TEMPLATES_DIR is not a directory');
    }
    const known = new Set(wanted);
    for (const file of filesUnder(overrides)) {
      if (!known.has(file) && !file.startsWith('.') && !file.includes('/.')) {
        throw new TemplateError(
          path.join(overrides, file),
          `names no template (the templates are: ${wanted.join(', ')})`,
        );
      }
    }
  }
  const source = (file: string): { path: string; text: string } => {
    const own = overrides !== undefined ? path.join(overrides, file) : null;
    const where = own !== null && existsSync(own) ? own : path.join(shipped, file);
    return { path: where, text: readFileSync(where, 'utf8') };
  };

  const html = new Eta({ autoEscape: true, autoTrim: false, cache: true, useWith: false });
  const plain = new Eta({ autoEscape: false, autoTrim: false, cache: true, useWith: false });
  const paths = new Map<string, string>();
  const load = (engine: Eta, name: string, file: string): void => {
    const { path: where, text } = source(file);
    paths.set(name, where);
    try {
      engine.loadTemplate(name, text);
    } catch (e) {
      throw new TemplateError(where, (e as Error).message.split('\n')[0] ?? 'does not compile');
    }
  };
  load(html, '@mail-layout', 'mail/layout.html.eta');
  for (const kind of MAIL_KINDS) {
    load(plain, `@${kind}.subject`, `mail/${kind}.subject.eta`);
    load(plain, `@${kind}.text`, `mail/${kind}.text.eta`);
    load(html, `@${kind}.html`, `mail/${kind}.html.eta`);
  }
  load(html, '@layout', 'pages/layout.eta');
  for (const name of PAGE_NAMES) load(html, `@${name}`, `pages/${name}.eta`);
  const stylesheet = source('pages/style.css').text;

  const render = (engine: Eta, name: string, data: object): string => {
    try {
      return engine.render(name, data);
    } catch (e) {
      throw new TemplateError(paths.get(name) ?? name, (e as Error).message.split('\n')[0] ?? 'failed');
    }
  };

  const templates: Templates = {
    product: options.product,
    stylesheet,
    mail: (kind, data): RenderedMail => {
      const it: MailData = { ...data, product: options.product };
      return {
        subject: oneLine(render(plain, `@${kind}.subject`, it)),
        text: render(plain, `@${kind}.text`, it),
        html: render(html, `@${kind}.html`, it),
      };
    },
    page: (name: PageName, data: PageData) =>
      render(html, `@${name}`, { errors: [], continueUrl: null, ...data, product: options.product }),
  };

  // Every template once with sample data: a broken one stops the start, naming its file.
  for (const kind of MAIL_KINDS) {
    const rendered = templates.mail(kind, MAIL_SAMPLES[kind]);
    if (rendered.subject === '') throw new TemplateError(paths.get(`@${kind}.subject`)!, 'renders empty');
  }
  for (const name of PAGE_NAMES) {
    for (const sample of PAGE_SAMPLES[name]) templates.page(name, sample);
  }
  return templates;
};
