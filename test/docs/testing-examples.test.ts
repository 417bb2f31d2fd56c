// The examples of docs/testing.md are whole test files a user copies: each imports every name it uses from
// coattail and vitest (vitest's globals are off by default, so a missing import fails with "it is not defined").
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const examples = [...readFileSync(path.join(ROOT, 'docs', 'testing.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);

/** The names an example imports, from any module. */
function importedNames(example: string): Set<string> {
  const names = new Set<string>();
  for (const [, list] of example.matchAll(/^import\s*{([^}]*)}\s*from/gm)) {
    for (const name of list!.split(',')) names.add(name.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!);
  }
  for (const [, name] of example.matchAll(/^import\s+(\w+)\s+from/gm)) names.add(name!);
  return names;
}

describe('docs/testing.md examples', () => {
  it('has the two harness examples', () => {
    expect(examples.map((example) => /(OperatorTestHarness|JobTestHarness)\.create/.exec(example)?.[1])).toEqual(['OperatorTestHarness', 'JobTestHarness']);
  });

  for (const [index, example] of examples.entries()) {
    it(`example ${index + 1} imports the vitest functions it calls`, () => {
      const used = ['it', 'expect', 'describe', 'test', 'beforeAll', 'afterAll'].filter((name) => new RegExp(`(^|[^.\\w])${name}\\(`, 'm').test(example));
      const imported = importedNames(example);
      expect(used.filter((name) => !imported.has(name))).toEqual([]);
    });
  }
});
