// The slice of the WebAssembly JS API that Cairn uses. Node has it all at
// run time, but @types/node for Node 20 does not declare it and the DOM lib
// would bring in browser globals that do not exist here.
declare namespace WebAssembly {
  // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- the real Module class has only a constructor too
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
}
