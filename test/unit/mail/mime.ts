/** Just enough of RFC 5322 / RFC 2045 to read back the messages the service writes and sends. */
export type MimePart = { headers: Record<string, string>; body: string; parts: MimePart[] };

const splitHead = (raw: string): [string, string] => {
  const match = /\r?\n\r?\n/.exec(raw);
  if (!match) return [raw, ''];
  return [raw.slice(0, match.index), raw.slice(match.index + match[0].length)];
};

const parseHeaders = (head: string): Record<string, string> => {
  const headers: Record<string, string> = {};
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
};

export const decodeQuotedPrintable = (text: string): string => {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i += 1) {
    const c = joined[i] as string;
    if (c === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
};

const decodeBody = (body: string, encoding: string | undefined): string => {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
};

export const parseMime = (raw: string): MimePart => {
  const [head, body] = splitHead(raw);
  const headers = parseHeaders(head);
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary || !/^multipart\//i.test(headers['content-type'] ?? '')) {
    return { headers, body: decodeBody(body, headers['content-transfer-encoding']), parts: [] };
  }
  const sections = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const parts = sections
    .slice(1)
    .filter((s) => !s.startsWith('--'))
    .map((s) => parseMime(s.replace(/^\r?\n/, '')));
  return { headers, body: '', parts };
};

/** The first leaf part of the given content type, depth first. */
export const findPart = (part: MimePart, type: string): MimePart | undefined => {
  if (part.parts.length === 0)
    return (part.headers['content-type'] ?? '').toLowerCase().startsWith(type) ? part : undefined;
  for (const child of part.parts) {
    const found = findPart(child, type);
    if (found) return found;
  }
  return undefined;
};
