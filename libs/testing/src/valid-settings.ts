import { readSettings } from '@app/config';

/** `Settings` read from `env` by the one reader (libs/config readSettings); throws, failing the test, on any problem. */
export function validSettings<T extends object>(Settings: new () => T, env: Record<string, string | undefined>): T {
  const { settings, problems } = readSettings(Settings, env);
  if (problems.length > 0) throw new Error(`expected valid ${Settings.name}, got: ${problems.join('; ')}`);
  return settings;
}
