import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** A plan file the CLI cannot use: the CLI exits with the usage code and this message. */
export class PlanFileError extends Error {
  override name = 'PlanFileError';
}

/**
 * A wave plan as kept under version control: the body of POST /waves, in YAML or JSON (`yaml`, eemeli's YAML 1.2
 * parser: duplicate keys are errors; a .json file is read by JSON.parse). Only its shape as a mapping is checked here; the API checks
 * the rest and names the field at fault.
 */
export function readPlan(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlanFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let plan: unknown;
  try {
    // A .json file is held to JSON (no trailing commas, no comments); anything else is read as YAML.
    plan = /\.json$/i.test(file) ? JSON.parse(text) : parse(text);
  } catch (err) {
    throw new PlanFileError(
      `${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan))
    throw new PlanFileError(`${file}: a plan is a mapping (name, selector, protocols, ratePerSecond, …)`);
  return plan as Record<string, unknown>;
}
