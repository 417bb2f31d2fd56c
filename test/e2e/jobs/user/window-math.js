// Plain-JS helpers for windows.js: a parse step and a mergeable sum.
export function parseLine(raw, _context, out) {
  let event;
  try {
    event = JSON.parse(raw.text);
  } catch {
    return; // the windows job only counts valid events
  }
  if (typeof event.t === 'number' && typeof event.user === 'string') out.collect(event);
}

export const sumAmounts = {
  createAccumulator: () => ({ count: 0, amount: 0 }),
  add: (event, acc) => ({ count: acc.count + 1, amount: acc.amount + event.amount }),
  getResult: (acc) => acc,
  merge: (earlier, later) => ({ count: earlier.count + later.count, amount: earlier.amount + later.amount }),
};
