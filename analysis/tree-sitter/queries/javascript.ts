// JavaScript, TypeScript and TSX share most node types; the TypeScript grammars differ in class
// heritage and add types, and only the JavaScript and TSX grammars know JSX.
import { callArguments, type LanguageSpec, type Rules } from './spec.js';

const core = String.raw`
(import_statement source: (string (string_fragment) @import))
(import_statement (import_clause (identifier) @import.alias) source: (string (string_fragment) @import.from))
(import_statement (import_clause (namespace_import (identifier) @import.alias)) source: (string (string_fragment) @import.from))
(import_statement (import_clause (named_imports (import_specifier name: (identifier) @import.name alias: (identifier)? @import.alias)))
  source: (string (string_fragment) @import.from))
(export_statement source: (string (string_fragment) @import))
(call_expression function: (import) arguments: (arguments . (string (string_fragment) @import))) @flag.dynamicImports
((call_expression function: (identifier) @_require arguments: (arguments . (string (string_fragment) @import)))
  (#eq? @_require "require"))
((variable_declarator name: (identifier) @import.alias
   value: (call_expression function: (identifier) @_require arguments: (arguments . (string (string_fragment) @import.from))))
  (#eq? @_require "require"))
((variable_declarator name: (object_pattern (shorthand_property_identifier_pattern) @import.name)
   value: (call_expression function: (identifier) @_require arguments: (arguments . (string (string_fragment) @import.from))))
  (#eq? @_require "require"))

(call_expression function: [(identifier) (member_expression)] @call)
(new_expression constructor: [(identifier) (member_expression)] @new)
(arguments (member_expression) @ref)
(subscript_expression object: (member_expression) @ref)
(variable_declarator value: (member_expression) @ref)
(binary_expression left: (member_expression) @ref)
(decorator [(identifier) (member_expression)] @decorator)
(decorator (call_expression function: [(identifier) (member_expression)] @decorator))
(decorator) @flag.decorators

(function_declaration name: (identifier) @def.name) @def
(generator_function_declaration name: (identifier) @def.name) @def
(method_definition name: [(property_identifier) (private_property_identifier)] @def.name) @def
(variable_declarator name: (identifier) @def.name value: [(arrow_function) (function_expression) (generator_function)] @def)
(pair key: (property_identifier) @def.name value: [(arrow_function) (function_expression)] @def)
(assignment_expression left: (member_expression property: (property_identifier) @def.name)
  right: [(arrow_function) (function_expression)] @def)
(function_declaration "async" @flag.asyncFunctions)
(generator_function_declaration "async" @flag.asyncFunctions)
(function_expression "async" @flag.asyncFunctions)
(arrow_function "async" @flag.asyncFunctions)
(method_definition "async" @flag.asyncFunctions)
(class) @flag.objectOriented

(for_statement) @flag.forLoop
(for_in_statement operator: "of") @flag.forOfLoop
(for_in_statement operator: "in") @flag.forInLoop
(while_statement) @flag.whileLoop
(do_statement) @flag.doWhileLoop
(try_statement) @flag.tryCatch
(finally_clause) @flag.finallyBlock
(catch_clause body: (statement_block) @catch.body)
(throw_statement) @flag.throwException
(await_expression) @flag.await
(yield_expression) @flag.generators
(generator_function_declaration) @flag.generators
(generator_function) @flag.generators
(arrow_function) @flag.arrowFunctions
(function_expression) @flag.anonymousFunctions
(switch_statement) @flag.switchStatement
(object) @flag.objectLiteral
(array) @flag.array
(template_substitution) @flag.stringFormatting
(regex) @flag.regex
(object_pattern) @flag.destructuring
(array_pattern) @flag.destructuring
(comment) @comment
`;

const jsClasses = String.raw`
(class_declaration name: (identifier) @class.name)
(class_heritage [(identifier) (member_expression)] @class.super)
`;

const tsExtras = String.raw`
(class_declaration name: (type_identifier) @class.name)
(abstract_class_declaration name: (type_identifier) @class.name) @flag.abstractClasses
(extends_clause value: [(identifier) (member_expression)] @class.super)
(implements_clause [(type_identifier) (nested_type_identifier)] @class.iface)
(implements_clause (generic_type name: [(type_identifier) (nested_type_identifier)] @class.iface))
(interface_declaration name: (type_identifier) @iface.name)
(abstract_method_signature) @flag.abstractClasses
(override_modifier) @flag.methodOverriding
(accessibility_modifier "private") @flag.encapsulation
(accessibility_modifier "protected") @flag.encapsulation
(type_annotation) @flag.typeAnnotations
(type_parameters) @flag.generics
(enum_declaration) @flag.enumeration
(import_require_clause (identifier) @import.alias source: (string (string_fragment) @import.from))
(import_require_clause source: (string (string_fragment) @import))
`;

const jsx = String.raw`
(jsx_element) @flag.jsxComponents
(jsx_self_closing_element) @flag.jsxComponents
`;

const NODE_BUILTINS = new Set([
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'crypto', 'dgram', 'diagnostics_channel',
  'dns', 'events', 'fs', 'http', 'http2', 'https', 'inspector', 'module', 'net', 'os', 'path', 'perf_hooks',
  'process', 'querystring', 'readline', 'repl', 'stream', 'string_decoder', 'test', 'timers', 'tls', 'tty', 'url',
  'util', 'v8', 'vm', 'wasi', 'worker_threads', 'zlib',
]);

const modules: Rules = {
  path: ['pathManipulation'], readline: ['consoleInput'], events: ['eventDriven'],
  child_process: ['subprocess'], execa: ['subprocess'], 'cross-spawn': ['subprocess'],
  worker_threads: ['threads'], cluster: ['multiprocessing'], piscina: ['workerPool'], workerpool: ['workerPool'],
  'async-mutex': ['synchronization'], net: ['sockets'], dgram: ['sockets'], ws: ['sockets'], 'socket.io': ['sockets'],
  'socket.io-client': ['sockets'], http: ['network'], https: ['httpRequests'], http2: ['network'], tls: ['tls'],
  axios: ['httpRequests'], 'node-fetch': ['httpRequests'], got: ['httpRequests'], superagent: ['httpRequests'],
  request: ['httpRequests'], undici: ['httpRequests'], ky: ['httpRequests'],
  express: ['httpServer'], koa: ['httpServer'], fastify: ['httpServer'], '@hapi/hapi': ['httpServer'], hapi: ['httpServer'],
  restify: ['httpServer'], '@nestjs/core': ['httpServer'], '@nestjs/common': ['dependencyInjection'], next: ['httpServer'],
  inversify: ['dependencyInjection'], tsyringe: ['dependencyInjection'],
  mongoose: ['database'], mongodb: ['database'], pg: ['database'], mysql: ['database'], mysql2: ['database'],
  sqlite3: ['database'], 'better-sqlite3': ['database'], redis: ['database'], ioredis: ['database'],
  sequelize: ['database'], typeorm: ['database'], knex: ['database'], '@prisma/client': ['database'], 'drizzle-orm': ['database'],
  winston: ['loggingFramework'], pino: ['loggingFramework'], bunyan: ['loggingFramework'], log4js: ['loggingFramework'],
  loglevel: ['loggingFramework'], debug: ['loggingFramework'], morgan: ['loggingFramework'], signale: ['loggingFramework'],
  commander: ['commandLineArguments'], yargs: ['commandLineArguments'], minimist: ['commandLineArguments'],
  meow: ['commandLineArguments'], cac: ['commandLineArguments'], arg: ['commandLineArguments'],
  inquirer: ['consoleInput'], prompts: ['consoleInput'], '@inquirer/prompts': ['consoleInput'],
  bcrypt: ['passwordHashing'], bcryptjs: ['passwordHashing'], argon2: ['passwordHashing'],
  jsonwebtoken: ['authentication'], jose: ['authentication'], passport: ['authentication'], 'crypto-js': ['encryption'],
  'js-yaml': ['yaml'], yaml: ['yaml'], xml2js: ['xml'], 'fast-xml-parser': ['xml'], 'csv-parse': ['csv'],
  papaparse: ['csv'], 'csv-parser': ['csv'], protobufjs: ['protobuf'], '@iarna/toml': ['toml'], toml: ['toml'],
  cheerio: ['htmlParsing'], jsdom: ['htmlParsing'], zlib: ['compression'], 'adm-zip': ['compression'], jszip: ['compression'],
  ejs: ['templating'], handlebars: ['templating'], mustache: ['templating'], pug: ['templating'], nunjucks: ['templating'],
  zod: ['dataValidation'], joi: ['dataValidation'], yup: ['dataValidation'], ajv: ['dataValidation'],
  'class-validator': ['dataValidation'], validator: ['dataValidation'], superstruct: ['dataValidation'],
  dayjs: ['dateTime'], moment: ['dateTime'], 'date-fns': ['dateTime'], luxon: ['dateTime'],
  'decimal.js': ['arbitraryPrecision'], 'big.js': ['arbitraryPrecision'], 'bignumber.js': ['arbitraryPrecision'],
  mathjs: ['mathematical'], 'simple-statistics': ['statistical'], '@tensorflow/tfjs': ['machineLearning'],
  'brain.js': ['machineLearning'], sharp: ['imageProcessing'], jimp: ['imageProcessing'], canvas: ['imageProcessing'],
  'chart.js': ['dataVisualization'], d3: ['dataVisualization'],
  react: ['uiFramework'], 'react-dom': ['uiFramework'], vue: ['uiFramework'], svelte: ['uiFramework'],
  '@angular/core': ['uiFramework'], preact: ['uiFramework'], 'solid-js': ['uiFramework'], electron: ['gui'],
  rxjs: ['reactiveProgramming'], lodash: ['higherOrderFunctions'], underscore: ['higherOrderFunctions'],
  ramda: ['functional'], 'fp-ts': ['functional'],
  'node-cron': ['taskScheduling'], cron: ['taskScheduling'], 'node-schedule': ['taskScheduling'],
  agenda: ['taskScheduling'], bull: ['taskScheduling'], bullmq: ['taskScheduling'],
  dotenv: ['configuration'], config: ['configuration'], convict: ['configuration'], nconf: ['configuration'],
  vm: ['dynamicCodeExecution'], 'reflect-metadata': ['reflection'],
  jest: ['jest'], '@jest/globals': ['jest'], vitest: ['vitest'], mocha: ['mocha'], chai: ['unitTesting'],
  ava: ['unitTesting'], tap: ['unitTesting'], 'node:test': ['unitTesting'], test: ['unitTesting'], assert: ['assertions'],
  sinon: ['mocking'], nock: ['mocking'], '@testing-library/react': ['unitTesting'], supertest: ['unitTesting'],
  benchmark: ['benchmarking'], tinybench: ['benchmarking'], perf_hooks: ['benchmarking'],
  glob: ['directoryTraversal'], 'fast-glob': ['directoryTraversal'], globby: ['directoryTraversal'],
  'fs-extra': ['fileManagement'], rimraf: ['fileManagement'], mkdirp: ['fileManagement'], tmp: ['tempFiles'],
};

const symbols: Rules = {
  // file operation (fs.open is refined by its flags in callFeatures)
  'fs.readFile': ['readFile'], 'fs.readFileSync': ['readFile'], 'fs.createReadStream': ['readFile'],
  readFileSync: ['readFile'], 'fs.writeFile': ['writeFile'], 'fs.writeFileSync': ['writeFile'],
  'fs.appendFile': ['writeFile'], 'fs.appendFileSync': ['writeFile'], 'fs.createWriteStream': ['writeFile'],
  writeFileSync: ['writeFile'], 'fs.readdir': ['directoryTraversal'], 'fs.readdirSync': ['directoryTraversal'],
  'fs.opendir': ['directoryTraversal'], 'fs.opendirSync': ['directoryTraversal'], readdirSync: ['directoryTraversal'],
  'fs.mkdir': ['fileManagement'], 'fs.mkdirSync': ['fileManagement'], 'fs.unlink': ['fileManagement'],
  'fs.unlinkSync': ['fileManagement'], 'fs.rm': ['fileManagement'], 'fs.rmSync': ['fileManagement'],
  'fs.rmdir': ['fileManagement'], 'fs.rename': ['fileManagement'], 'fs.renameSync': ['fileManagement'],
  'fs.copyFile': ['fileManagement'], 'fs.copyFileSync': ['fileManagement'], 'fs.cp': ['fileManagement'],
  'fs.stat': ['fileManagement'], 'fs.statSync': ['fileManagement'], 'fs.lstat': ['fileManagement'],
  'fs.existsSync': ['fileManagement'], 'fs.access': ['fileManagement'], 'fs.chmod': ['fileManagement'],
  'fs.watch': ['fileManagement'], 'fs.mkdtemp': ['tempFiles'], 'fs.mkdtempSync': ['tempFiles'], 'os.tmpdir': ['tempFiles'],
  'path.*': ['pathManipulation'], 'process.cwd': ['pathManipulation'], 'fileURLToPath': ['pathManipulation'],
  // output and input
  'console.log': ['consoleOutput'], 'console.info': ['consoleOutput'], 'console.debug': ['consoleOutput'],
  'console.table': ['consoleOutput'], 'console.dir': ['consoleOutput'], 'process.stdout.*': ['consoleOutput'],
  'console.error': ['standardError'], 'console.warn': ['standardError'], 'console.trace': ['standardError'],
  'process.stderr.*': ['standardError'],
  'process.argv': ['commandLineArguments'], 'process.argv.*': ['commandLineArguments'],
  'process.stdin': ['consoleInput'], 'process.stdin.*': ['consoleInput'], 'prompt()': ['consoleInput'],
  'process.env': ['environmentVariables'], 'process.env.*': ['environmentVariables'],
  'process.on': ['signalHandling'], 'require.main': ['entryPoint'],
  // security
  'crypto.createHash': ['cryptographicHashing'], createHash: ['cryptographicHashing'],
  'crypto.createHmac': ['hmac'], createHmac: ['hmac'], 'crypto.createCipheriv': ['encryption'],
  'crypto.createDecipheriv': ['encryption'], 'crypto.publicEncrypt': ['encryption'], 'crypto.privateDecrypt': ['encryption'],
  'crypto.subtle.*': ['encryption'], 'crypto.randomBytes': ['secureRandom'], 'crypto.randomUUID': ['secureRandom'],
  'crypto.getRandomValues': ['secureRandom'], 'crypto.scrypt': ['passwordHashing'], 'crypto.scryptSync': ['passwordHashing'],
  'crypto.pbkdf2': ['passwordHashing'], 'crypto.pbkdf2Sync': ['passwordHashing'],
  'eval()': ['dynamicCodeExecution'], 'Function()': ['dynamicCodeExecution'],
  // data processing
  'JSON.parse': ['json'], 'JSON.stringify': ['json'], json: ['json'],
  'Buffer.from': ['binaryData'], 'Buffer.alloc': ['binaryData'], 'Buffer.concat': ['binaryData'],
  'btoa()': ['base64'], 'atob()': ['base64'], encodeURIComponent: ['urlEncoding'], decodeURIComponent: ['urlEncoding'],
  encodeURI: ['urlEncoding'], decodeURI: ['urlEncoding'], URLSearchParams: ['urlEncoding'], URL: ['urlEncoding'],
  TextEncoder: ['binaryData'], TextDecoder: ['binaryData'],
  RegExp: ['regex'], match: ['regex'], matchAll: ['regex'],
  split: ['stringManipulation'], replace: ['stringManipulation'], replaceAll: ['stringManipulation'],
  trim: ['stringManipulation'], trimStart: ['stringManipulation'], trimEnd: ['stringManipulation'],
  toLowerCase: ['stringManipulation'], toUpperCase: ['stringManipulation'], substring: ['stringManipulation'],
  substr: ['stringManipulation'], padStart: ['stringManipulation'], padEnd: ['stringManipulation'],
  startsWith: ['stringManipulation'], endsWith: ['stringManipulation'], charAt: ['stringManipulation'],
  charCodeAt: ['stringManipulation'], codePointAt: ['stringManipulation'], 'String.fromCharCode': ['stringManipulation'],
  localeCompare: ['stringManipulation'], toFixed: ['stringFormatting'], 'Intl.*': ['stringFormatting'],
  Date: ['dateTime'], 'Date.*': ['dateTime'], toISOString: ['dateTime'],
  // computation
  'Math.sin': ['trigonometry'], 'Math.cos': ['trigonometry'], 'Math.tan': ['trigonometry'], 'Math.asin': ['trigonometry'],
  'Math.acos': ['trigonometry'], 'Math.atan': ['trigonometry'], 'Math.atan2': ['trigonometry'], 'Math.hypot': ['trigonometry'],
  'Math.sqrt': ['exponentiation'], 'Math.cbrt': ['exponentiation'], 'Math.pow': ['exponentiation'], 'Math.exp': ['exponentiation'],
  'Math.log': ['logarithm'], 'Math.log2': ['logarithm'], 'Math.log10': ['logarithm'], 'Math.floor': ['rounding'],
  'Math.ceil': ['rounding'], 'Math.round': ['rounding'], 'Math.trunc': ['rounding'], 'Math.random': ['randomNumbers'],
  'Math.*': ['mathematical'], BigInt: ['arbitraryPrecision'],
  // data structures and algorithms
  Map: ['hashMap'], WeakMap: ['hashMap'], Set: ['set'], WeakSet: ['set'], Array: ['array'], 'Array.from': ['array'],
  'Array.of': ['array'], 'Array.isArray': ['array'], Uint8Array: ['typedArray'], Uint16Array: ['typedArray'],
  Uint32Array: ['typedArray'], Int8Array: ['typedArray'], Int16Array: ['typedArray'], Int32Array: ['typedArray'],
  Float32Array: ['typedArray'], Float64Array: ['typedArray'], BigInt64Array: ['typedArray'], ArrayBuffer: ['typedArray'],
  DataView: ['typedArray'], sort: ['sorting'], toSorted: ['sorting'],
  map: ['higherOrderFunctions'], filter: ['higherOrderFunctions'], reduce: ['higherOrderFunctions'],
  reduceRight: ['higherOrderFunctions'], flatMap: ['higherOrderFunctions'],
  // asynchronous and event-driven
  Promise: ['promises'], 'Promise.*': ['promises'], then: ['promises'], finally: ['promises'], catch: ['promiseRejection'],
  setTimeout: ['timers'], setInterval: ['timers'], setImmediate: ['timers'], 'process.nextTick': ['timers'],
  queueMicrotask: ['timers'], requestAnimationFrame: ['timers'], AbortController: ['cancellation'],
  EventEmitter: ['eventDriven'], emit: ['eventDriven'], on: ['eventDriven'], once: ['eventDriven'],
  addEventListener: ['eventHandling'], removeEventListener: ['eventHandling'],
  'document.*': ['domManipulation'], querySelector: ['domManipulation'], querySelectorAll: ['domManipulation'],
  getElementById: ['domManipulation'], createElement: ['domManipulation'], appendChild: ['domManipulation'],
  // concurrency and network
  Worker: ['threads'], 'Atomics.*': ['synchronization'], SharedArrayBuffer: ['synchronization'],
  'fetch()': ['httpRequests'], XMLHttpRequest: ['httpRequests'], 'http.get': ['httpRequests'], 'http.request': ['httpRequests'],
  'https.get': ['httpRequests'], 'https.request': ['httpRequests'], 'http.createServer': ['httpServer'],
  'https.createServer': ['httpServer'], listen: ['httpServer'], WebSocket: ['sockets'],
  // reflection, testing, style
  'Reflect.*': ['reflection'], Proxy: ['metaprogramming'],
  'Object.getPrototypeOf': ['reflection'], 'Object.setPrototypeOf': ['reflection'],
  'Object.getOwnPropertyNames': ['reflection'],
  'describe()': ['unitTesting'], 'it()': ['unitTesting'], 'test()': ['unitTesting'], 'expect()': ['unitTesting'],
  'beforeEach()': ['unitTesting'], 'afterEach()': ['unitTesting'], 'jest.fn': ['mocking'], 'jest.mock': ['mocking'],
  'jest.spyOn': ['mocking'], 'vi.fn': ['mocking'], 'vi.mock': ['mocking'], 'vi.spyOn': ['mocking'],
  Injectable: ['dependencyInjection'], Inject: ['dependencyInjection'], 'injectable()': ['dependencyInjection'],
  'inject()': ['dependencyInjection'], Component: ['uiFramework'], Controller: ['httpServer'], Get: ['httpServer'],
  Post: ['httpServer'], Entity: ['database'],
};

const common = {
  modules,
  symbols,
  dependencyLabels(module: string): string[] | null {
    const spec = module.startsWith('node:') ? module.slice(5) : module;
    if (/^(?:\.{1,2}(?:\/|$)|\/|~\/|@\/)/.test(spec)) return ['local modules'];
    if (spec.includes('://') || spec === '') return null;
    const parts = spec.split('/');
    if (spec.startsWith('@')) return parts.length >= 2 ? [`${parts[0]}/${parts[1]}`.toLowerCase()] : null;
    const top = parts[0]!.toLowerCase();
    // Only the built-ins have real submodules (fs/promises); deeper npm paths are files of one package.
    const sub = parts[1];
    return NODE_BUILTINS.has(top) && sub && /^[a-z_]+$/.test(sub) ? [top, sub] : [top];
  },
  moduleId(module: string): string {
    const spec = module.startsWith('node:') ? module.slice(5) : module;
    const slash = spec.indexOf('/');
    return slash > 0 && NODE_BUILTINS.has(spec.slice(0, slash)) && spec.endsWith('/promises') ? spec.slice(0, slash) : spec;
  },
  callFeatures(symbol: string, rest: string) {
    if (symbol !== 'fs.open' && symbol !== 'fs.openSync') return null;
    const flags = /,\s*['"]([rwaxs+]+)['"]/.exec(callArguments(rest))?.[1];
    return flags && /[wa+]/.test(flags) ? (['writeFile'] as const) : (['readFile'] as const);
  },
};

export const javascript: LanguageSpec = { wasm: 'tree-sitter-javascript.wasm', query: core + jsClasses + jsx, ...common };
export const typescript: LanguageSpec = { wasm: 'tree-sitter-typescript.wasm', query: core + tsExtras, ...common };
export const tsx: LanguageSpec = { wasm: 'tree-sitter-tsx.wasm', query: core + tsExtras + jsx, ...common };
