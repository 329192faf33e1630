import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { InstanceEntity, type InstanceState } from './instance.entity.js';

@Injectable()
export class InstancesRepository {
  private readonly rows: Repository<InstanceEntity>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(InstanceEntity);
  }

  async register(row: Pick<InstanceEntity, 'id' | 'hostname' | 'pid' | 'version'>): Promise<void> {
    await this.rows.insert({ ...row, state: 'running', startedAt: new Date(), lastSeenAt: new Date(), stoppedAt: null });
  }

  async touch(id: string): Promise<void> {
    await this.rows.update({ id }, { lastSeenAt: new Date() });
  }

  async markState(id: string, state: InstanceState): Promise<void> {
    await this.rows.update({ id }, { state, lastSeenAt: new Date(), stoppedAt: state === 'stopped' ? new Date() : null });
  }

  findRecent(limit: number): Promise<InstanceEntity[]> {
    return this.rows.find({ order: { lastSeenAt: 'DESC', id: 'ASC' }, take: limit });
  }
}
