import { type FieldError, textFault } from '@app/domain';

/**
 * Bounds every request value is held to before class-transformer sees it: it recurses once per level, so a 4 KB
 * body of 2,000 nested arrays overflowed the stack (a 500). The deepest legitimate body is 5 levels
 * (`gates[0].relativeTo.cohort`); the widest is an explicit wave list of 100,000 logins.
 */
const INPUT_LIMITS = { maxDepth: 32, maxNodes: 250_000 } as const;

/** `a` + `0` → `a[0]`, `a` + `b` → `a.b`: the names the validation pipe and the domain validators use. */
function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/**
 * The first reason a parsed value (JSON body, query object, path parameter) cannot go on to validation: nesting
 * deeper than maxDepth, more than maxNodes values, or a string or key that is not storable text (NUL, lone
 * surrogate). Iterative, so no input can exhaust the stack here either. `root` names the value itself ('' for a
 * body or query object, whose fields are named alone).
 */
export function inspectInput(
  value: unknown,
  root = '',
  limits: { maxDepth: number; maxNodes: number } = INPUT_LIMITS,
): FieldError | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    const name = path || 'body';
    if (++nodes > limits.maxNodes) {
      return { field: root || 'body', message: `${root || 'body'} has more than ${limits.maxNodes} values` };
    }
    if (typeof v === 'string') {
      const fault = textFault(v);
      if (fault) return { field: name, message: `${name} ${fault}` };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= limits.maxDepth) {
      return { field: name, message: `${name} is nested deeper than ${limits.maxDepth} levels` };
    }
    // Pushed in reverse, so fields are inspected roughly in the order they were written.
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: childPath(path, i), depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      const field = childPath(path, key);
      const fault = textFault(key);
      if (fault) return { field, message: `${field} (a field name) ${fault}` };
      stack.push({ value: (v as Record<string, unknown>)[key], path: field, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * The first field of a DTO's input (body or query object) named like a member of Object.prototype (`__proto__`,
 * `constructor`, `toString`…), at any depth, as `<field> is not a known field`. class-transformer skips such keys
 * (its guard against prototype pollution), so the validation pipe's whitelist never saw them: they were accepted and
 * dropped in silence where any other unknown field is refused. Iterative; run after inspectInput (its bounds hold).
 */
export function inheritedNameField(value: unknown, root = ''): FieldError | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: root }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: childPath(path, i) });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const field = childPath(path, keys[i]);
      if (keys[i] in Object.prototype) return { field, message: `${field} is not a known field` };
      stack.push({ value: (v as Record<string, unknown>)[keys[i]], path: field });
    }
  }
  return null;
}
