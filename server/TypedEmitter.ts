import { EventEmitter } from 'node:events';
import { logger } from './logger.ts';

/** EventEmitter typed over a `{ name: [args] }` map; '@'-prefixed names are internal. */
export class TypedEmitter<E extends Record<string, unknown[]>> {
  private readonly emitter = new EventEmitter();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Emit, catching and logging a throwing listener so media callbacks never die from one. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    try {
      this.emitter.emit(event, ...args);
    } catch (err) {
      logger.error({ event, err: (err as Error).message }, 'event listener threw');
    }
  }

  removeAllListeners(): void {
    this.emitter.removeAllListeners();
  }
}
