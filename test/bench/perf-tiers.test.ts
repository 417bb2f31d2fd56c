import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { countTiers, tierOf } from '../../bench/perf-tiers.js';

describe('tierOf', () => {
  it('names the tier of the innermost JavaScript frame kind, with compiler and GC frames first', () => {
    expect(tierOf(['v8::internal::JsonParser<unsigned char>::ParseJson', 'JS:*forEachRawRecord file:///x.js:1:1'])).toBe('optimized JS');
    expect(tierOf(['Builtins_LoadIC', 'JS:^route file:///x.js:2:1'])).toBe('baseline JS');
    expect(tierOf(['Builtins_InterpreterEntryTrampoline'])).toBe('interpreted JS');
    expect(tierOf(['v8::internal::compiler::GraphReducer::ReduceTop', 'v8::internal::compiler::PipelineImpl::OptimizeGraph', 'v8::internal::OptimizingCompileDispatcher::CompileNext'])).toBe('turbofan compiling');
    expect(tierOf(['v8::internal::Scavenger::ScavengeObject', 'JS:*decode file:///x.js:3:1'])).toBe('gc');
    expect(tierOf(['v8::internal::Scanner::Next', 'v8::internal::Parser::ParseProgram', 'JS:^load file:///x.js:4:1'])).toBe('parsing and bytecode');
    expect(tierOf(['read', 'uv__fs_work'])).toBe('other');
  });
});

describe('countTiers', () => {
  it('counts one sample per header line of perf script output', async () => {
    const text = [
      '101 ',
      '\t     1a2b JS:*apply file:///x.js:1:1',
      '',
      '102 ',
      '\t     1a2b v8::internal::compiler::PipelineImpl::OptimizeGraph',
      '\t     1a2c v8::internal::OptimizingCompileDispatcher::CompileNext',
      '',
      '101 ',
      '\t     1a2b JS:*apply file:///x.js:1:1',
      '103 ',
      '\tffffffff81000130 entry_SYSCALL_64_after_hwframe',
    ].join('\n');
    const counts = await countTiers(createInterface({ input: Readable.from([text]) }));
    expect(Object.fromEntries(counts)).toEqual({ 'optimized JS': 2, 'turbofan compiling': 1, other: 1 });
  });
});
