import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** Thrown when the config file cannot be read, is not JSON, or fails validation. `issues` are one line each. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`invalid config ${file}:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Where the config is read from: `--config` flag, else `TOLLGATE_CONFIG`, else `./proxy.config.json`. */
export function configPath(flag?: string): string {
  return resolve(flag ?? process.env.TOLLGATE_CONFIG ?? 'proxy.config.json');
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/**
 * Validates an already-parsed config object.
 * @throws ConfigError naming each offending JSON path and what was expected.
 */
export function parseConfig(raw: unknown, file = '(inline)'): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, result.error.issues.map(formatIssue));
  return result.data;
}

/**
 * Reads and validates a config file. A relative `ledger.path` is resolved against the config's folder.
 * @throws ConfigError when the file is missing, is not JSON, or is invalid.
 */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const config = parseConfig(raw, file);
  if (config.ledger.path !== undefined) config.ledger.path = resolve(file, '..', config.ledger.path);
  if (config.ledger.spool.dir !== undefined) config.ledger.spool.dir = resolve(file, '..', config.ledger.spool.dir);
  return config;
}
