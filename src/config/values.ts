import { z } from 'zod';

/** The value kinds settings are written in. */

export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const int = (min: number) => z.coerce.number().int().min(min);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration: "7d", "15m", "30s", "250ms", or a plain number of milliseconds. */
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'must be a duration such as 7d, 15m, 30s or 250ms')
  .transform((v) => {
    const [, n, unit = 'ms'] = /^(\d+)(ms|s|m|h|d)?$/.exec(v)!;
    return Number(n) * UNIT_MS[unit];
  });

export interface RateLimit {
  readonly points: number;
  readonly durationMs: number;
}

/** A rate limit: "60/1m" allows 60 requests a minute; "off" allows any number. */
export const rateLimit = z
  .string()
  .regex(/^(off|\d+\/\d+(ms|s|m|h|d)?)$/, 'must be like 60/1m, or off')
  .transform((v): RateLimit | null => {
    if (v === 'off') return null;
    const [points, window] = v.split('/');
    return { points: Number(points), durationMs: duration.parse(window) };
  });

/** An http(s) URL, its trailing slashes dropped. */
export const baseUrl = z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, ''));

/**
 * One section of the settings: each setting is declared once, here, with its kind and default, and read
 * into the section's part of Config by `build`. `problems` finds what no single setting can say (rules
 * between settings), from the raw values, so that they are reported with every other problem.
 */
export interface Section<S extends z.ZodRawShape, O> {
  settings: S;
  build: (own: z.output<z.ZodObject<S>>, all: Readonly<Record<string, unknown>>) => O;
  problems?: (raw: Readonly<Record<string, string>>, own: z.output<z.ZodObject<S>> | null) => string[];
}

export function section<S extends z.ZodRawShape, O>(s: Section<S, O>): Section<S, O> {
  return s;
}
