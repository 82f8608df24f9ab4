import { request } from 'undici';
import type { SessionsResult } from '../../mailstore.types';
import type { DoveadmOptions } from './ldap-settings';

/**
 * Ends live IMAP/POP3 sessions through Dovecot's doveadm HTTP API (`service doveadm { inet_listener http }`,
 * `doveadm_api_key`): a flag flip in the passdb does not end sessions already open.
 *
 * MERGE NOTE: the dovecot-sql driver has its own doveadm client (issue 18, built at the same time); this file is a
 * duplicate for now, kept in drivers/ldap so the two branches merge cleanly. Keep one of them in a shared place
 * (libs/mailstore/src/drivers/doveadm.ts) when both are on main.
 *
 * Checked against Dovecot 2.3.19: `POST /doveadm/v1` with `Authorization: X-Dovecot-API <base64 key>` and a list of
 * commands `[["kick", {"mask": "user"}, "tag"], …]` (one mask per command: a list is refused with exit code 64);
 * each answer is `["doveadmResponse", [{"result": "user"}], tag]` when sessions were ended, or
 * `["error", {"type": "exitCode", "exitCode": 68}, tag]` (EX_NOUSER) when the user had none.
 */
export class DoveadmClient {
  private readonly authorization: string;

  constructor(private readonly options: DoveadmOptions) {
    this.authorization = `X-Dovecot-API ${Buffer.from(options.apiKey).toString('base64')}`;
  }

  /**
   * Kicks every user in one HTTP request. Resolves to each user's result; rejects (with a message free of the key)
   * when doveadm cannot be reached or answers something else than the above.
   */
  async kick(users: readonly string[], signal?: AbortSignal): Promise<Map<string, SessionsResult>> {
    const out = new Map<string, SessionsResult>();
    if (users.length === 0) return out;
    const commands = users.map((user, i) => ['kick', { mask: user }, `k${i}`]);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const res = await request(`${this.options.url}/doveadm/v1`, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: JSON.stringify(commands),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`doveadm answered HTTP ${res.statusCode}`);
    const answers = parseAnswers(text);
    users.forEach((user, i) => {
      const answer = answers.get(`k${i}`);
      if (answer === 'kicked') out.set(user, 'revoked');
      else if (answer === 'no_user') out.set(user, 'none');
      else throw new Error(`doveadm did not kick ${user}: ${answer ?? 'no answer'}`);
    });
    return out;
  }
}

function parseAnswers(text: string): Map<string, string> {
  const answers = new Map<string, string>();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('doveadm answered something else than JSON');
  }
  if (!Array.isArray(body)) throw new Error('doveadm answered something else than a list');
  for (const entry of body) {
    if (!Array.isArray(entry) || typeof entry[2] !== 'string') continue;
    const [kind, payload, tag] = entry as [unknown, unknown, string];
    if (kind === 'doveadmResponse') answers.set(tag, 'kicked');
    else if (kind === 'error' && (payload as { exitCode?: unknown } | null)?.exitCode === 68)
      answers.set(tag, 'no_user');
    else answers.set(tag, `error ${JSON.stringify(payload)}`);
  }
  return answers;
}
