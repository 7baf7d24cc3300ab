/**
 * The one file that touches `@mlc-ai/web-xgrammar` (XGrammar compiled to WebAssembly).
 *
 * Version 0.1.27 declares `"type": "module"` but ships a UMD bundle, so neither `require` nor `import` loads
 * it. We copy the bundle once to a `.cjs` file (in the OS temp folder; `node_modules` may be read-only) and
 * load that with `createRequire`. The copy also exposes the bundle's private WebAssembly binding: its public
 * `getNextTokenBitmask` is async and allocates a fresh array per call, while the decoder needs a synchronous
 * fill of a caller-owned buffer; and its `await import('module')` becomes a `require` (Jest runs code in vm
 * contexts that refuse dynamic imports). The version is pinned exactly (package.json) because of that one-line patch;
 * loading fails loudly if the bundle ever changes shape.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodeModule from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

/** The parts of the embind module we use (C++ classes behind `new binding.X(...)`). */
export interface XgBinding {
  vecIntToView(vector: XgVector): Int32Array;
  vecStringFromJSArray(strings: string[]): unknown;
  vecIntFromJSArray(ints: number[]): unknown;
  TokenizerInfo: new (
    vocab: unknown,
    vocabType: string,
    vocabSize: number,
    stopTokenIds: unknown,
    prependSpace: boolean,
  ) => XgHandle;
  GrammarCompiler: new (tokenizerInfo: XgHandle, maxThreads: number, cacheEnabled: boolean) => XgCompiler;
  GrammarMatcher: new (
    compiled: XgHandle,
    overrideStopTokens: unknown,
    terminateWithoutStopToken: boolean,
    maxRollbackTokens: number,
  ) => XgMatcher;
}

export interface XgHandle {
  delete(): void;
}

export interface XgVector extends XgHandle {
  size(): number;
}

export interface XgCompiler extends XgHandle {
  CompileGrammar(grammar: XgHandle): XgHandle;
}

export interface XgMatcher extends XgHandle {
  AcceptToken(token: number, verbose: boolean): boolean;
  /** Accepts the UTF-8 bytes of a string. */
  AcceptString(text: string, verbose: boolean): boolean;
  GetNextTokenBitmask(vocabSize: number): XgVector;
  IsTerminated(): boolean;
  Reset(): void;
}

interface XgPublicModule {
  Grammar: {
    fromEBNF(ebnf: string, rootRule?: string): Promise<{ handle: XgHandle; toString(): string }>;
    fromJSONSchema(
      schema: string,
      anyWhitespace?: boolean,
      indent?: number,
      separators?: [string, string],
      strictMode?: boolean,
    ): Promise<{ handle: XgHandle; toString(): string }>;
  };
  gooseherdBinding(): XgBinding | null;
}

const PACKAGE = '@mlc-ai/web-xgrammar';
const EXPECTED_VERSION = '0.1.27';
const EXPORT_ANCHOR = 'exports.default = index;';
const BINDING_EXPORT = 'exports.gooseherdBinding = () => binding;';
/** The bundle loads `module` with a dynamic import, which Jest's vm contexts refuse; a require works everywhere. */
const DYNAMIC_IMPORT = "await import('module')";
const STATIC_REQUIRE = "require('module')";

let loaded: Promise<XGrammar> | undefined;

/** The loaded engine, shared by the process (the WebAssembly module is initialised once). */
export function loadXGrammar(): Promise<XGrammar> {
  loaded ??= XGrammar.load();
  return loaded;
}

export class XGrammar {
  private constructor(
    private readonly module: XgPublicModule,
    readonly binding: XgBinding,
  ) {}

  static async load(): Promise<XGrammar> {
    const module = requireBundle();
    // Any async call initialises the WebAssembly binding; a trivial grammar is the cheapest one.
    const probe = await module.Grammar.fromEBNF('root ::= "a"');
    probe.handle.delete();
    const binding = module.gooseherdBinding();
    if (!binding) throw new Error(`${PACKAGE}: the WebAssembly binding did not initialise`);
    return new XGrammar(module, binding);
  }

  /** JSON Schema → EBNF text in XGrammar's dialect: compact separators, no free whitespace, no extra keys. */
  async schemaToEbnf(schema: unknown): Promise<string> {
    const grammar = await this.module.Grammar.fromJSONSchema(
      JSON.stringify(schema),
      false,
      -1,
      [',', ':'],
      true,
    );
    try {
      return grammar.toString();
    } finally {
      grammar.handle.delete();
    }
  }

  /** Parses EBNF into a grammar handle (the caller deletes it). */
  async parseEbnf(ebnf: string): Promise<XgHandle> {
    return (await this.module.Grammar.fromEBNF(ebnf, 'root')).handle;
  }
}

function requireBundle(): XgPublicModule {
  // Node's own loader even under Jest: Jest would run the bundle inside its vm context, where the glue code's
  // global lookups are many times slower (a mask and a compile cost tens of times more there).
  const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.(
    'node:module',
  );
  const createRequire = ((builtin as typeof nodeModule | undefined) ?? nodeModule).createRequire;
  const req = createRequire(__filename);
  const packageJson = req.resolve(`${PACKAGE}/package.json`);
  const version = (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { version: string }).version;
  if (version !== EXPECTED_VERSION)
    throw new Error(`${PACKAGE} ${version} is installed; this adapter is written for ${EXPECTED_VERSION}`);
  const source = fs.readFileSync(path.join(path.dirname(packageJson), 'lib', 'index.js'), 'utf8');
  if (source.split(EXPORT_ANCHOR).length !== 2)
    throw new Error(`${PACKAGE}: unexpected bundle layout (no single "${EXPORT_ANCHOR}")`);
  if (source.split(DYNAMIC_IMPORT).length !== 2)
    throw new Error(`${PACKAGE}: unexpected bundle layout (no single "${DYNAMIC_IMPORT}")`);
  const patched = source
    .replace(EXPORT_ANCHOR, `${EXPORT_ANCHOR} ${BINDING_EXPORT}`)
    .replace(DYNAMIC_IMPORT, STATIC_REQUIRE);
  const digest = createHash('sha256').update(patched).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `gooseherd-xgrammar-${version}-${digest}.cjs`);
  if (!fs.existsSync(file)) {
    // Write then rename, so a concurrent process never loads a half-written copy.
    const partial = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(partial, patched);
    fs.renameSync(partial, file);
  }
  return req(file) as XgPublicModule;
}
