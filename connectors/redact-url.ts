// An endpoint as it may appear in a message: no SDK needed, so usage errors can use it before any client loads.

/** The endpoint without its user:password part, if any. */
export function redactUrl(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return endpoint.replace(/\/\/[^/@]*@/, '//');
  }
}
