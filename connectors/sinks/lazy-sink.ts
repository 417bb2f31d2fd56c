// A sink whose implementation loads only when a subtask opens it, so jobs can offer cloud outputs
// without every thread loading the cloud SDKs when they are not used.

import type { SinkContext, SinkFactory, SinkWriter } from '../../runtime/api/sink.js';

export function lazySink<T>(name: string, load: () => Promise<SinkFactory<T>>): SinkFactory<T> {
  let loaded: Promise<SinkFactory<T>> | undefined;
  const factory = () => (loaded ??= load());
  return {
    name,
    async create(context: SinkContext): Promise<SinkWriter<T>> {
      return (await factory()).create(context);
    },
    async recover(context, pending, revoked) {
      await (await factory()).recover?.(context, pending, revoked);
    },
  };
}
