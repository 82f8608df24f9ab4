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
