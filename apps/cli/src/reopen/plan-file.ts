import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** A plan file the CLI cannot use: the CLI exits with the usage code and this message. */
export class PlanFileError extends Error {
  override name = 'PlanFileError';
}

/**
 * A wave plan as kept under version control: the body of POST /waves, in YAML or JSON (`yaml`, eemeli's YAML 1.2
 * parser: JSON is YAML too, duplicate keys are errors). Only its shape as a mapping is checked here; the API checks
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
    plan = parse(text);
  } catch (err) {
    throw new PlanFileError(`${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan))
    throw new PlanFileError(`${file}: a plan is a mapping (name, selector, protocols, ratePerSecond, …)`);
  return plan as Record<string, unknown>;
}
