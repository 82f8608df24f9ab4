import { ApiCallError, type ApiClient } from '../demo/api-client';
import type { CommandResult } from '../demo/api.types';
import { EXIT } from './exit-codes';

/** Rounds of list-then-pause: a wave started (or resumed) by someone else meanwhile is caught by the next one. */
const ROUNDS = 3;

interface Listed {
  id: string;
  name: string;
}

/** Every running wave, all pages. */
async function running(client: ApiClient): Promise<Listed[]> {
  const all: Listed[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await client.get<{ items: Listed[]; nextCursor?: string | null }>(
      `/waves?state=running&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    // Only who it is: the listed wave's other fields (its state: running) would read as stale next to the pause's
    // answer in the --json output, `state: "running"` under `paused`.
    all.push(...page.items.map(({ id, name }) => ({ id, name })));
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/**
 * `reopen waves pause --all`, the emergency stop: pauses every running wave (each pause audited under this key, as
 * one by one), then lists again, until none runs or ROUNDS are done. A wave that left `running` between the list and
 * its pause (completed, halted by a gate, paused by someone else) is said as such, not an error. Exit 0 when no wave
 * runs at the end; 2 when one still does (started again faster than this stops them) or a pause was refused.
 */
export async function pauseAll(client: ApiClient, out: (line: string) => void, json: boolean): Promise<number> {
  const results: { id: string; name: string; result?: CommandResult; refused?: string }[] = [];
  let refusals = 0;
  let left = await running(client);
  for (let round = 0; round < ROUNDS && left.length; round++) {
    for (const w of left) {
      try {
        const result = await client.post<CommandResult>(`/waves/${encodeURIComponent(w.id)}/pause`);
        results.push({ ...w, result });
        if (!json)
          out(
            `wave ${w.id} "${w.name}": ${result.noop ? `already ${result.state}` : `${result.from} → ${result.state}`}`,
          );
      } catch (err) {
        if (!(err instanceof ApiCallError) || err.status === null || err.status >= 500) throw err;
        // illegal_transition: it left running meanwhile (its state is in the problem); anything else is a refusal.
        const now = typeof err.problem?.currentState === 'string' ? err.problem.currentState : null;
        if (!now) refusals += 1;
        const refused = now ? `no longer running (${now})` : `refused: ${err.status} ${err.problem?.code ?? ''}`.trim();
        results.push({ ...w, refused });
        if (!json) out(`wave ${w.id} "${w.name}": ${refused}`);
      }
    }
    left = await running(client);
  }
  const paused = results.filter((r) => r.result && !r.result.noop).length;
  if (json) out(JSON.stringify({ paused: results, stillRunning: left }));
  else {
    out(
      left.length
        ? `${paused} paused; still running: ${left.map((w) => w.id).join(', ')}`
        : `${paused} paused; no wave is running`,
    );
  }
  return left.length || refusals ? EXIT.refused : EXIT.ok;
}
