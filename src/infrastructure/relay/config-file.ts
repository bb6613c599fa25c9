import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { parseRelayConfig, type RelayConfig } from '../../consumers/relay/config';

/** RELAY_CONFIG: a JSON or YAML file (YAML reads JSON too). */
export const readRelayConfig = (file: string): RelayConfig => {
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseRelayConfig(doc);
};
