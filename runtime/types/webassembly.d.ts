// The WebAssembly values the engine uses. Node has them, but TypeScript declares them only in its DOM library,
// which this project does not load (esbuild's typings declare the `Module` type alone).

declare namespace WebAssembly {
  interface Module {}
  const Module: {
    prototype: Module;
    new (bytes: ArrayBufferView | ArrayBuffer): Module;
  };
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
