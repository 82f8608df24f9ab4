import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

/** A per-wave counter ("pending", "enabled", "skipped:held", …), moved once per batch in the batch's transaction. */
@Entity({ name: 'wave_counters' })
export class WaveCounterEntity {
  @PrimaryColumn({ name: 'wave_id', type: 'uuid' })
  waveId!: string;

  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'bigint', default: 0, transformer: bigintNumber })
  value!: number;
}
