import { SqlParams } from './sql-params';

/** The value a placeholder (`$n`, cast or not) stands for in PostgreSQL's numbering. */
const valueOf = (p: SqlParams, placeholder: string) => p.values[Number(/^\$(\d+)/.exec(placeholder)![1]) - 1];

describe('SqlParams', () => {
  it('hands out placeholders that stand for their own value, however many come before', () => {
    const p = new SqlParams();
    const added = ['wave', 7, null, [1, 2], new Date(0), 'wave'].map((value) => ({ value, placeholder: p.add(value) }));
    for (const { value, placeholder } of added) expect(valueOf(p, placeholder)).toBe(value);
    expect(added.map((a) => a.placeholder)).toEqual(['$1', '$2', '$3', '$4', '$5', '$6']);
    expect(p.values).toHaveLength(6);
  });

  it('casts a placeholder when given a type, and its add works detached (passed to a helper)', () => {
    const p = new SqlParams();
    const { add } = p;
    expect(add(['a'], 'text[]')).toBe('$1::text[]');
    expect(add(3, 'bigint')).toBe('$2::bigint');
    expect(p.values).toEqual([['a'], 3]);
  });

  it('names the columns of parallel arrays, each array typed and in its own placeholder', () => {
    const p = new SqlParams();
    const wave = p.add('w');
    const rows = p.unnest('v', { seq: ['int', [1, 2]], login: ['text', ['a', 'b']] });
    expect(rows).toBe('unnest($2::int[], $3::text[]) AS v(seq, login)');
    expect(valueOf(p, wave)).toBe('w');
    expect(p.values).toEqual(['w', [1, 2], ['a', 'b']]);
  });
});
