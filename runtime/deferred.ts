// An object whose implementation loads on first use: heavy SDKs (S3) stay out of every thread's startup
// unless a run actually uses them. Only for interfaces whose methods all return promises.

export function deferred<T extends object>(load: () => Promise<T>, known: Partial<T> = {}): T {
  let loaded: Promise<T> | undefined;
  return new Proxy(known as T, {
    get(target, property) {
      if (property in target) return (target as Record<PropertyKey, unknown>)[property];
      if (property === 'then') return undefined; // not a thenable
      return async (...args: unknown[]) => {
        const implementation = await (loaded ??= load());
        const method = (implementation as Record<PropertyKey, unknown>)[property];
        if (typeof method !== 'function') return method;
        return (method as (...a: unknown[]) => unknown).apply(implementation, args);
      };
    },
  });
}
