import { z } from 'zod';
import { database } from './database';
import { images } from './images';
import { limits } from './limits';
import { push } from './push';
import { server } from './server';
import { storage } from './storage';
import type { Section } from './values';

export type { PreviewMode } from './images';
export type { RateLimit } from './values';

/**
 * Every setting pushpic reads, by section, each declared once in its section's file with its kind and
 * default. Nothing else in the code reads process.env: config is parsed once at start, every problem is
 * reported together, and the result is frozen.
 */
const SECTIONS = [server, database, storage, limits, push, images] as const;

type Built = ReturnType<(typeof SECTIONS)[number]['build']>;
type Merged<U> = (U extends unknown ? (u: U) => void : never) extends (m: infer M) => void ? M : never;
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type Config = DeepReadonly<Merged<Built>>;
export type PushConfig = Config['push'];

/** The exit status of a start (or an ops command) stopped by a setting that does not work (sysexits.h). */
export const EX_CONFIG = 78;

/**
 * A setting that does not work, found by the config check or anywhere else during start-up: the server
 * prints its message (one line per problem) and exits 78 (EX_CONFIG).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `pushpic cannot start: ${problems[0]}`
        : `pushpic cannot start:\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

type AnySection = Section<z.ZodRawShape, object>;

/** Reads configuration from an environment map (process.env in production, a literal in tests). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  const problems: string[] = [];
  // Each section's build is handed what its own settings parsed to: sound, though not expressible per item.
  const parsed = (SECTIONS as unknown as readonly AnySection[]).map((s) => {
    const result = z.object(s.settings).safeParse(raw);
    if (!result.success)
      problems.push(...result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
    return { section: s, own: result.success ? result.data : null };
  });
  for (const { section, own } of parsed) problems.push(...(section.problems?.(raw, own) ?? []));
  if (problems.length) throw new ConfigError(problems);
  const all = Object.assign({}, ...parsed.map((p) => p.own)) as Record<string, unknown>;
  return deepFreeze(Object.assign({}, ...parsed.map((p) => p.section.build(p.own!, all)))) as Config;
}
