import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, ValidateNested } from 'class-validator';
import { ValidationError } from '@app/core';
import { ApiValidationPipe } from './validation.pipe';

class StepBody {
  @IsInt() percent!: number;
}

class WaveBody {
  @IsString() name!: string;
  @IsOptional() @IsInt() batchSize?: number;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => StepBody) steps?: StepBody[];
}

describe('ApiValidationPipe', () => {
  const pipe = new ApiValidationPipe();
  const body = { type: 'body' as const, metatype: WaveBody };
  const refuse = async (value: unknown) => {
    const err = await pipe.transform(value, body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).errors;
  };

  it('names fields the way the domain does, nested ones included', async () => {
    expect(await refuse({ name: 'w', steps: [{ percent: 1 }, { percent: 'x' }] })).toEqual([
      { field: 'steps[1].percent', message: 'steps[1].percent must be an integer number' },
    ]);
  });

  it('refuses unknown fields at any depth and does not convert types implicitly', async () => {
    expect(await refuse({ name: 'w', admin: true, steps: [{ percent: 1, x: 2 }] })).toEqual([
      { field: 'admin', message: 'admin is not a known field' },
      { field: 'steps[0].x', message: 'steps[0].x is not a known field' },
    ]);
    expect((await refuse({ name: 'w', batchSize: '5' })).map((e) => e.field)).toEqual(['batchSize']);
  });

  it('refuses a body that is not a JSON object', async () => {
    for (const value of [undefined, null, [], 'x', 5]) {
      expect(await refuse(value)).toEqual([
        { field: 'body', message: expect.stringMatching(/^body must be a JSON object/) },
      ]);
    }
  });

  it('returns an instance of the DTO for a good body', async () => {
    await expect(pipe.transform({ name: 'w', batchSize: 5 }, body)).resolves.toBeInstanceOf(WaveBody);
  });
});

describe('ApiValidationPipe input bounds', () => {
  const pipe = new ApiValidationPipe();
  const refuse = async (value: unknown, metadata: Parameters<ApiValidationPipe['transform']>[1]) => {
    const err = await pipe.transform(value, metadata).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).errors;
  };

  it('refuses arrays nested 2,000 deep with a 400 naming the field, before class-transformer recurses', async () => {
    let steps: unknown = [];
    for (let i = 0; i < 2000; i++) steps = [steps];
    const errors = await refuse({ name: 'w', steps }, { type: 'body', metatype: WaveBody });
    expect(errors).toEqual([
      { field: `steps${'[0]'.repeat(31)}`, message: expect.stringMatching(/nested deeper than 32 levels$/) },
    ]);
  });

  it('refuses NUL and lone surrogates in bodies, queries and path parameters, naming the field', async () => {
    expect(await refuse({ name: 'a\u0000' }, { type: 'body', metatype: WaveBody })).toEqual([
      { field: 'name', message: 'name must not contain a NUL character (U+0000, at position 1)' },
    ]);
    expect((await refuse({ cursor: '\ud800' }, { type: 'query', metatype: Object })).map((e) => e.field)).toEqual([
      'cursor',
    ]);
    expect((await refuse('a\u0000', { type: 'param', metatype: String, data: 'login' })).map((e) => e.field)).toEqual([
      'login',
    ]);
    expect((await refuse('\udc00', { type: 'query', metatype: String, data: 'partial' })).map((e) => e.field)).toEqual([
      'partial',
    ]);
  });
});
