// Parquet's encoder (parquet-wasm: a Rust writer compiled to WebAssembly), compiled once per run by the
// coordinator and shared with every thread that writes Parquet, rather than compiled again by each of them.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as parquetWasm from 'parquet-wasm/esm';

export type ParquetWasm = typeof parquetWasm;

const WASM_PATH = createRequire(import.meta.url).resolve('parquet-wasm/esm/parquet_wasm_bg.wasm');

let compiling: Promise<WebAssembly.Module> | undefined;

/** The compiled encoder, compiled off the main thread's critical path (V8 compiles it on background threads). */
export function compileParquetEncoder(): Promise<WebAssembly.Module> {
  compiling ??= readFile(WASM_PATH).then((bytes) => WebAssembly.compile(bytes));
  return compiling;
}

let instantiated = false;

/** The encoder's API in this thread: instantiated from `module` (compiled by the coordinator) or compiled here. */
export function parquetEncoder(module?: WebAssembly.Module): ParquetWasm {
  if (!instantiated) {
    parquetWasm.initSync({ module: module ?? new WebAssembly.Module(readFileSync(WASM_PATH)) });
    instantiated = true;
  }
  return parquetWasm;
}
