import { Column, Entity, PrimaryColumn } from 'typeorm';

export type InstanceState = 'running' | 'draining' | 'stopped';

@Entity('instances')
export class InstanceEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  hostname: string;

  @Column('integer')
  pid: number;

  @Column('text')
  version: string;

  @Column('text')
  state: InstanceState;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt: Date;

  @Column('timestamptz', { name: 'stopped_at', nullable: true })
  stoppedAt: Date | null;
}
