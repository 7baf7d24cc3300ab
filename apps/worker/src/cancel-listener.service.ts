import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Env } from '@gooseherd/contracts';
import { Keys } from '@gooseherd/store';
import type { TaskRegistry } from './task-registry.js';
import { ENV, REDIS_SUBSCRIBER, REGISTRY } from './tokens.js';

/**
 * Cancels reach the generating loop through Redis pub/sub within milliseconds; a notification lost while
 * disconnected is caught by the next token write, which also reports the task's cancel flag.
 */
@Injectable()
export class CancelListenerService implements OnApplicationBootstrap {
  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: Redis,
    @Inject(REGISTRY) private readonly registry: TaskRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const channel = new Keys(this.env.GOOSEHERD_REDIS_PREFIX).cancelChannel();
    this.subscriber.on('message', (ch: string, taskId: string) => {
      if (ch === channel) this.registry.requestCancel(taskId);
    });
    await this.subscriber.subscribe(channel);
  }
}
