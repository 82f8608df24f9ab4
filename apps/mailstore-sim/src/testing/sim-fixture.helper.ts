import { generatedLogin } from '../account-seed';
import { PROBLEM_CONTENT_TYPE } from '../problem';
import { startSimulator } from '../simulator';
import type { RunningSimulator, SimulatorOptions } from '../sim.types';
import { SimHttp, type HttpResult } from './sim-http.helper';

export interface SimFixture {
  sim: RunningSimulator;
  http: SimHttp;
  close(): Promise<void>;
}

/**
 * A simulator on a random loopback port with 20 generated accounts and, unless the spec is about them,
 * no rate limits (so results never depend on how fast the machine is).
 */
export async function startTestSim(options: SimulatorOptions = {}): Promise<SimFixture> {
  const sim = await startSimulator({ port: 0, accounts: 20, rateLimits: 'none', ...options });
  const http = new SimHttp(sim.baseUrl);
  return {
    sim,
    http,
    close: async () => {
      await http.close();
      await sim.close();
    },
  };
}

/** user<n>@example.test */
export const login = generatedLogin;

export interface ProblemShape {
  status: number;
  contentType: string | undefined;
  code: unknown;
  /** RFC 9457 members present and consistent: type ending in the code, title, status = HTTP status, detail. */
  wellFormed: boolean;
}

/** What a response says as a problem, to compare with `problem(status, code)`. */
export function problemOf(res: HttpResult): ProblemShape {
  const body = (res.body ?? {}) as Record<string, unknown>;
  const wellFormed =
    typeof body.type === 'string' &&
    body.type.endsWith(`/${String(body.code)}`) &&
    typeof body.title === 'string' &&
    body.status === res.status &&
    typeof body.detail === 'string';
  return { status: res.status, contentType: res.headers['content-type'], code: body.code, wellFormed };
}

/** The expected shape of a problem answer. */
export function problem(status: number, code: string): ProblemShape {
  return { status, contentType: PROBLEM_CONTENT_TYPE, code, wellFormed: true };
}

/** `list.map((x) => x[key])` for JSON lists: `pluck(res.body.results, 'status')`. */
export function pluck(list: unknown, key: string): unknown[] {
  if (!Array.isArray(list)) throw new Error(`expected a list, got ${JSON.stringify(list)}`);
  return list.map((entry: unknown) => (entry as Record<string, unknown>)[key]);
}
