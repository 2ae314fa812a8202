import { z } from 'zod';
import { identifier, instantLike, limitsSchema, note } from './schema-parts.js';

/** The credentials in `proxy.config.json`: company API keys and operator keys, both stored as a SHA-256. */

const sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected the lowercase hex SHA-256 of the key (64 chars)')
  .meta({
    description: 'The lowercase hex SHA-256 of the key: the key itself is never stored.',
    examples: ['9b64c1b6ea7dbe19ff48bb6e7685c050df128db7f0c2fb6768677479d6a26dd6'],
  });
const keyPrefix = z
  .string()
  .min(4)
  .max(16)
  .meta({ description: "The key's first characters, shown in logs and reports.", examples: ['sk-tg-AbCd'] });
const keyExpiresAt = instantLike('2027-01-01T00:00:00Z')
  .optional()
  .meta({ description: 'The instant the key stops working.' });
const revoked = z.boolean().default(false).meta({ description: '`true` refuses the key from the next request on.' });

/** A company API key as stored in the config: the SHA-256 of the key, never the key itself. */
export const apiKeySchema = z
  .object({
    id: identifier.meta({
      description: 'A name for the key, unique in the config; rows record it as `key_id`.',
      examples: ['acme-prod'],
    }),
    sha256,
    prefix: keyPrefix,
    expiresAt: keyExpiresAt,
    revoked,
    role: z.enum(['member', 'admin']).default('member').meta({
      description:
        "What the key reads in the read API and the dashboard: `member`, the requests made with it; `admin`, the whole company's.",
    }),
    note,
    limits: limitsSchema
      .optional()
      .meta({ description: "Overrides of the company's `limits.key` for this key, window by window." }),
  })
  .strict()
  .meta({
    description: '`tollgate keys create` mints a key and prints its entry (or adds it with `--write`).',
  });

/**
 * An operator credential: sees every company's usage through the read API (`/tollgate/v1/...`) and,
 * when `metrics.requireAuth` is set, may scrape `/metrics`. Stored hashed like company keys; an
 * operator key cannot call the proxy (`/v1/...`).
 */
export const operatorSchema = z
  .object({
    id: identifier.meta({ description: 'A name for the operator key, unique in the config.', examples: ['ops'] }),
    sha256,
    prefix: keyPrefix,
    expiresAt: keyExpiresAt,
    revoked,
    note,
  })
  .strict()
  .meta({
    description:
      'Each reads every company through the read API and the dashboard (and `/metrics` when it asks for a key), and cannot call `/v1`. `tollgate keys create --operator` mints one.',
  });
