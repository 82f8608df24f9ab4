import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import { IsInt, Max, Min, validateSync } from 'class-validator';
import { ConfigError } from '@app/config';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

/**
 * The API's own limits, from API_* variables (defaults suit production), validated at boot like the
 * shared environment: a bad value stops the process and is named.
 */
export class ApiSettings {
  /** Requests per minute per API key (shared by every API process through Redis). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  API_RATE_LIMIT_PER_MINUTE = 1200;

  /** JSON bodies in general (support actions, signals, PATCH). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_240)
  API_JSON_LIMIT_KB = 64;

  /** POST /waves: an explicit list of up to 100,000 logins fits in 4 MB. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65_536)
  API_WAVE_JSON_LIMIT_KB = 4096;

  /** CSV import: size and data lines (1M accounts are ~45 MB). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_240)
  API_CSV_MAX_MB = 256;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50_000_000)
  API_CSV_MAX_LINES = 5_000_000;

  /** Progress views are shared by all pollers for this long: dashboards poll every few seconds. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000)
  API_PROGRESS_CACHE_MS = 1000;

  /** A verified key is trusted for this long before it is looked up again (so a revocation takes this long). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60_000)
  API_KEY_CACHE_MS = 2000;

  /** How often an SSE stream checks for a new progress view. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  API_SSE_INTERVAL_MS = 1000;
}

export function loadApiSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ApiSettings> = {},
): ApiSettings {
  const known = Object.keys(new ApiSettings());
  const given: Record<string, unknown> = {};
  for (const key of known) if (env[key] !== undefined && env[key] !== '') given[key] = env[key];
  const settings = plainToInstance(ApiSettings, { ...given, ...overrides }, { exposeDefaultValues: true });
  const errors = validateSync(settings, { whitelist: true, forbidUnknownValues: true });
  if (errors.length) {
    throw new ConfigError(errors.map((e) => `${e.property} must be an integer in range (got ${String(e.value)})`));
  }
  return settings;
}
