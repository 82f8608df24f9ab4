import type { INestApplication, Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';

type AnySchema = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];
type SchemaObject = Exclude<AnySchema, { $ref: string }>;

/** class-validator constraint → the JSON Schema keyword that says the same to a client. */
const KEYWORDS: Record<string, (schema: SchemaObject, constraints: unknown[]) => void> = {
  maxLength: (s, [n]) => (s.maxLength ??= n as number),
  minLength: (s, [n]) => (s.minLength ??= n as number),
  min: (s, [n]) => (s.minimum ??= n as number),
  max: (s, [n]) => (s.maximum ??= n as number),
  arrayMaxSize: (s, [n]) => (s.maxItems ??= n as number),
  arrayMinSize: (s, [n]) => (s.minItems ??= n as number),
  isInt: (s) => {
    if (s.type === 'number') s.type = 'integer';
  },
};

/**
 * Writes the bounds the validators enforce (lengths, ranges, array sizes, integers) into the document's body
 * schemas, so clients and the generated bad-input suite read the same limits the API applies, from one place: the
 * DTO's decorators. (The @nestjs/swagger CLI plugin does this at compile time; this build does not run it.) Classes
 * are found as class-validator keeps them, plus every controller parameter type (a PartialType subclass has no
 * decorators of its own).
 */
export function addValidatorBounds(app: INestApplication, document: OpenAPIObject): void {
  const storage = getMetadataStorage();
  const classes = new Set<Type>(
    (storage as unknown as { validationMetadatas: Map<Type, unknown> }).validationMetadatas.keys(),
  );
  for (const module of app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      const proto = (metatype as Type | null)?.prototype as Record<string, unknown> | undefined;
      if (!proto) continue;
      for (const method of Object.getOwnPropertyNames(proto)) {
        const params = (Reflect.getMetadata('design:paramtypes', proto, method) ?? []) as unknown[];
        for (const p of params) if (typeof p === 'function') classes.add(p as Type);
      }
    }
  }
  const schemas = document.components?.schemas ?? {};
  for (const cls of classes) {
    const schema = schemas[cls.name] as SchemaObject | undefined;
    if (!schema?.properties) continue;
    for (const meta of storage.getTargetValidationMetadatas(cls, '', true, false)) {
      const prop = schema.properties[meta.propertyName] as SchemaObject | undefined;
      const add = meta.name ? KEYWORDS[meta.name] : undefined;
      if (!prop || '$ref' in prop || !add) continue;
      const target = meta.each && prop.type === 'array' ? (prop.items as SchemaObject | undefined) : prop;
      if (target && !('$ref' in target)) add(target, meta.constraints ?? []);
    }
  }
}
