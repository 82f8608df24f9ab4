/** Adds a value to a statement's parameters and returns its placeholder. */
export type AddParam = (value: unknown, type?: string) => string;

/**
 * A statement's parameters, numbered as they are added: the text names each value by the variable holding its
 * placeholder (`const wave = p.add(waveId)` … `WHERE wave_id = ${wave}`), never by a number counted by hand, so
 * adding, removing or moving a value cannot shift another one. Pass `values` with the text.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value; returns its placeholder, `$n`, cast when a type is given (`$n::uuid`). A function: pass it on. */
  readonly add: AddParam = (value, type) => {
    this.values.push(value);
    const placeholder = '$' + String(this.values.length);
    return type ? `${placeholder}::${type}` : placeholder;
  };

  /**
   * Rows from parallel arrays, each named with its element type: `unnest($1::int[], $2::text[]) AS alias(seq, login)`
   * for `{ seq: ['int', seqs], login: ['text', logins] }`. Every array should have one element per row.
   */
  unnest(alias: string, columns: Record<string, readonly [type: string, values: readonly unknown[]]>): string {
    const names = Object.keys(columns);
    const arrays = names.map((name) => this.add(columns[name][1], `${columns[name][0]}[]`));
    return `unnest(${arrays.join(', ')}) AS ${alias}(${names.join(', ')})`;
  }
}
