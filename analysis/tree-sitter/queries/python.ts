import { callArguments, twoLevels, type LanguageSpec } from './spec.js';

const query = String.raw`
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_statement name: (aliased_import name: (dotted_name) @import.from alias: (identifier) @import.alias))
(import_from_statement module_name: [(dotted_name) (relative_import)] @import)
(import_from_statement module_name: (dotted_name) @import.from
  name: [(dotted_name) @import.name (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)])

(call function: [(identifier) (attribute)] @call)
(argument_list (attribute) @ref)
(subscript value: (attribute) @ref)
(for_statement right: (attribute) @ref)
(assignment right: (attribute) @ref)
(decorator [(identifier) (attribute)] @decorator)
(decorator (call function: [(identifier) (attribute)] @decorator))

(function_definition name: (identifier) @def.name) @def
(function_definition "async" @flag.asyncFunctions)
(function_definition return_type: (_) @flag.typeAnnotations)
(typed_parameter) @flag.typeAnnotations
(typed_default_parameter) @flag.typeAnnotations
(class_definition name: (identifier) @class.name)
(class_definition superclasses: (argument_list [(identifier) (attribute) (subscript)] @class.super))
(class_definition superclasses: (argument_list (keyword_argument name: (identifier) @flag.metaprogramming)))
(function_definition type_parameters: (type_parameter) @flag.generics)
(class_definition type_parameters: (type_parameter) @flag.generics)

(for_statement) @flag.forLoop
(while_statement) @flag.whileLoop
(try_statement) @flag.tryExcept
(try_statement (else_clause) @flag.tryElse)
(finally_clause) @flag.finallyBlock
(raise_statement) @flag.raiseException
(assert_statement) @flag.assertions
(except_clause . (block)) @flag.bareExcept
(except_clause (block) @catch.body)
(await) @flag.await
(yield) @flag.generators
(lambda) @flag.lambdaFunctions
(list_comprehension) @flag.listComprehension
(dictionary_comprehension) @flag.dictComprehension
(set_comprehension) @flag.setComprehension
(generator_expression) @flag.generatorExpression
(decorator) @flag.decorators
(with_statement) @flag.contextManagers
(match_statement) @flag.patternMatching
(global_statement) @flag.globalState
(nonlocal_statement) @flag.globalState
(list) @flag.list
(dictionary) @flag.hashMap
(set) @flag.set
(tuple) @flag.tuple
(interpolation) @flag.stringFormatting
(if_statement condition: (comparison_operator (identifier) @guard (string)))
(comment) @comment
`;

export const python: LanguageSpec = {
  wasm: 'tree-sitter-python.wasm',
  query,
  modules: {
    argparse: ['commandLineArguments'], optparse: ['commandLineArguments'], getopt: ['commandLineArguments'],
    click: ['commandLineArguments'], typer: ['commandLineArguments'], fire: ['commandLineArguments'],
    logging: ['loggingFramework'], loguru: ['loggingFramework'], structlog: ['loggingFramework'],
    hashlib: ['cryptographicHashing'], hmac: ['hmac'], secrets: ['secureRandom'], ssl: ['tls'],
    cryptography: ['encryption'], Crypto: ['encryption'], nacl: ['encryption'],
    bcrypt: ['passwordHashing'], passlib: ['passwordHashing'], argon2: ['passwordHashing'],
    jwt: ['authentication'], oauthlib: ['authentication'],
    json: ['json'], simplejson: ['json'], orjson: ['json'], ujson: ['json'],
    yaml: ['yaml'], ruamel: ['yaml'], xml: ['xml'], lxml: ['xml'], csv: ['csv'],
    toml: ['toml'], tomllib: ['toml'], tomli: ['toml'],
    pickle: ['pickle'], cPickle: ['pickle'], dill: ['pickle'], shelve: ['pickle'], marshal: ['pickle'],
    struct: ['binaryData'], base64: ['base64'], 'urllib.parse': ['urlEncoding'],
    gzip: ['compression'], zlib: ['compression'], bz2: ['compression'], lzma: ['compression'],
    zipfile: ['compression'], tarfile: ['compression'],
    'google.protobuf': ['protobuf'], jinja2: ['templating'], mako: ['templating'],
    bs4: ['htmlParsing'], 'html.parser': ['htmlParsing'],
    pydantic: ['dataValidation'], marshmallow: ['dataValidation'], jsonschema: ['dataValidation'],
    cerberus: ['dataValidation'], voluptuous: ['dataValidation'],
    datetime: ['dateTime'], calendar: ['dateTime'], dateutil: ['dateTime'], pytz: ['dateTime'],
    zoneinfo: ['dateTime'], arrow: ['dateTime'], pendulum: ['dateTime'],
    re: ['regex'], regex: ['regex'], string: ['stringManipulation'], textwrap: ['stringManipulation'],
    difflib: ['stringManipulation'],
    pandas: ['dataframes'], polars: ['dataframes'],
    matplotlib: ['dataVisualization'], seaborn: ['dataVisualization'], plotly: ['dataVisualization'],
    bokeh: ['dataVisualization'],
    PIL: ['imageProcessing'], cv2: ['imageProcessing'], imageio: ['imageProcessing'], skimage: ['imageProcessing'],
    math: ['mathematical'], cmath: ['mathematical'], numpy: ['numericalComputing'], scipy: ['numericalComputing'],
    sympy: ['mathematical'], statistics: ['statistical'], random: ['randomNumbers'],
    decimal: ['arbitraryPrecision'], fractions: ['arbitraryPrecision'],
    sklearn: ['machineLearning'], torch: ['machineLearning'], tensorflow: ['machineLearning'],
    keras: ['machineLearning'], xgboost: ['machineLearning'], transformers: ['machineLearning'],
    heapq: ['heap'], bisect: ['binarySearch'], networkx: ['graph'],
    threading: ['threads'], _thread: ['threads'], 'concurrent.futures': ['workerPool'],
    multiprocessing: ['multiprocessing'], asyncio: ['eventLoop'], trio: ['eventLoop'], anyio: ['eventLoop'],
    requests: ['httpRequests'], httpx: ['httpRequests'], 'urllib.request': ['httpRequests'],
    urllib2: ['httpRequests'], urllib3: ['httpRequests'], 'http.client': ['httpRequests'],
    aiohttp: ['httpRequests'], scrapy: ['httpRequests'], selenium: ['httpRequests'],
    socket: ['sockets'], socketserver: ['sockets'], websockets: ['sockets'], zmq: ['sockets'],
    smtplib: ['network'], ftplib: ['network'], paramiko: ['network'], grpc: ['network'],
    flask: ['httpServer'], fastapi: ['httpServer'], django: ['httpServer'], 'http.server': ['httpServer'],
    tornado: ['httpServer'], bottle: ['httpServer'], starlette: ['httpServer'], sanic: ['httpServer'],
    'aiohttp.web': ['httpServer'],
    sqlite3: ['database'], psycopg2: ['database'], psycopg: ['database'], pymysql: ['database'],
    MySQLdb: ['database'], mysql: ['database'], sqlalchemy: ['database'], pymongo: ['database'],
    redis: ['database'], peewee: ['database'], asyncpg: ['database'], motor: ['database'],
    subprocess: ['subprocess'], signal: ['signalHandling'],
    dotenv: ['configuration'], configparser: ['configuration'],
    sched: ['taskScheduling'], schedule: ['taskScheduling'], apscheduler: ['taskScheduling'], celery: ['taskScheduling'],
    gc: ['memoryManagement'], weakref: ['memoryManagement'], tracemalloc: ['memoryManagement'], mmap: ['memoryManagement'],
    tempfile: ['tempFiles'], shutil: ['fileManagement'], glob: ['directoryTraversal'], fnmatch: ['directoryTraversal'],
    pathlib: ['pathManipulation'],
    pytest: ['pytest'], unittest: ['unittest'], 'unittest.mock': ['mocking'], mock: ['mocking'],
    pytest_mock: ['mocking'], doctest: ['unitTesting'], hypothesis: ['unitTesting'], nose: ['unitTesting'],
    timeit: ['benchmarking'], cProfile: ['benchmarking'],
    inspect: ['reflection'], importlib: ['dynamicImports'], ast: ['metaprogramming'], types: ['metaprogramming'],
    abc: ['abstractClasses'], dataclasses: ['dataClass'], enum: ['enumeration'], contextlib: ['contextManagers'],
    tkinter: ['gui'], Tkinter: ['gui'], PyQt5: ['gui'], PyQt6: ['gui'], PySide2: ['gui'], PySide6: ['gui'],
    wx: ['gui'], kivy: ['gui'], pygame: ['gui'], curses: ['gui'],
    getpass: ['consoleInput'], readline: ['consoleInput'],
  },
  symbols: {
    // file operation (open() is refined by its mode in callFeatures)
    read_text: ['readFile'], read_bytes: ['readFile'], readlines: ['readFile'],
    write_text: ['writeFile'], write_bytes: ['writeFile'], writelines: ['writeFile'],
    'os.walk': ['directoryTraversal'], 'os.fwalk': ['directoryTraversal'], 'os.listdir': ['directoryTraversal'],
    'os.scandir': ['directoryTraversal'], glob: ['directoryTraversal'], iglob: ['directoryTraversal'],
    rglob: ['directoryTraversal'], iterdir: ['directoryTraversal'],
    'os.path.*': ['pathManipulation'], 'pathlib.*': ['pathManipulation'], 'os.getcwd': ['pathManipulation'], 'os.chdir': ['pathManipulation'],
    'os.remove': ['fileManagement'], 'os.unlink': ['fileManagement'], 'os.rename': ['fileManagement'],
    'os.replace': ['fileManagement'], 'os.makedirs': ['fileManagement'], 'os.mkdir': ['fileManagement'],
    'os.rmdir': ['fileManagement'], 'os.stat': ['fileManagement'], 'os.chmod': ['fileManagement'],
    'shutil.*': ['fileManagement'], mkdir: ['fileManagement'], unlink: ['fileManagement'], touch: ['fileManagement'],
    'tempfile.*': ['tempFiles'],
    // logging and output
    'logging.debug': ['debugLevel'], 'logging.info': ['infoLevel'], 'logging.warning': ['warningLevel'],
    'logging.warn': ['warningLevel'], 'logging.error': ['errorLevel'], 'logging.exception': ['errorLevel'],
    'logging.critical': ['criticalLevel'], 'logging.*': ['loggingFramework'],
    'print()': ['consoleOutput'], 'pprint()': ['consoleOutput'], 'sys.stdout.*': ['consoleOutput'], 'sys.stdout': ['consoleOutput'],
    'sys.stderr.*': ['standardError'], 'sys.stderr': ['standardError'], print_exc: ['standardError'],
    // user interaction
    'input()': ['consoleInput'], 'raw_input()': ['consoleInput'], 'sys.stdin': ['consoleInput'], 'sys.stdin.*': ['consoleInput'],
    'sys.argv': ['commandLineArguments'], 'sys.argv.*': ['commandLineArguments'],
    'os.environ': ['environmentVariables'], 'os.environ.*': ['environmentVariables'], 'os.getenv': ['environmentVariables'],
    // data processing
    split: ['stringManipulation'], rsplit: ['stringManipulation'], strip: ['stringManipulation'],
    lstrip: ['stringManipulation'], rstrip: ['stringManipulation'], lower: ['stringManipulation'],
    upper: ['stringManipulation'], startswith: ['stringManipulation'], endswith: ['stringManipulation'],
    capitalize: ['stringManipulation'], casefold: ['stringManipulation'], splitlines: ['stringManipulation'],
    zfill: ['stringManipulation'], ljust: ['stringManipulation'], rjust: ['stringManipulation'],
    isdigit: ['stringManipulation'], isalpha: ['stringManipulation'], isalnum: ['stringManipulation'],
    isspace: ['stringManipulation'], format: ['stringFormatting'], format_map: ['stringFormatting'],
    'string.Template': ['templating'], 'json.*': ['json'], json: ['json'],
    'time.strftime': ['dateTime'], 'time.strptime': ['dateTime'], 'time.localtime': ['dateTime'], 'time.gmtime': ['dateTime'],
    'time.sleep': ['timers'],
    // computation
    'math.sin': ['trigonometry'], 'math.cos': ['trigonometry'], 'math.tan': ['trigonometry'],
    'math.asin': ['trigonometry'], 'math.acos': ['trigonometry'], 'math.atan': ['trigonometry'],
    'math.atan2': ['trigonometry'], 'math.radians': ['trigonometry'], 'math.degrees': ['trigonometry'],
    'math.hypot': ['trigonometry'], 'math.sqrt': ['exponentiation'], 'math.isqrt': ['exponentiation'],
    'math.pow': ['exponentiation'], 'math.exp': ['exponentiation'], 'math.log': ['logarithm'],
    'math.log2': ['logarithm'], 'math.log10': ['logarithm'], 'math.floor': ['rounding'], 'math.ceil': ['rounding'],
    'round()': ['rounding'], 'math.gcd': ['gcd'], 'math.lcm': ['gcd'], 'math.factorial': ['combinatorics'],
    'math.comb': ['combinatorics'], 'math.perm': ['combinatorics'],
    'numpy.array': ['numpyArray'], 'numpy.zeros': ['numpyArray'], 'numpy.ones': ['numpyArray'],
    'numpy.arange': ['numpyArray'], 'numpy.empty': ['numpyArray'], 'numpy.linspace': ['numpyArray'],
    'numpy.dot': ['linearAlgebra'], 'numpy.matmul': ['linearAlgebra'], 'numpy.linalg.*': ['linearAlgebra'],
    'numpy.sin': ['trigonometry'], 'numpy.cos': ['trigonometry'], 'numpy.mean': ['statistical'],
    'numpy.std': ['statistical'], 'numpy.median': ['statistical'], 'numpy.var': ['statistical'],
    'numpy.percentile': ['statistical'], 'numpy.random.*': ['randomNumbers'],
    'decimal.Decimal': ['arbitraryPrecision'], 'fractions.Fraction': ['arbitraryPrecision'],
    // data structures
    'collections.deque': ['deque'], 'collections.Counter': ['counter'], 'collections.defaultdict': ['defaultDict'],
    'collections.OrderedDict': ['orderedDict'], 'collections.namedtuple': ['namedTuple'],
    'typing.NamedTuple': ['namedTuple'], 'typing.TypedDict': ['record'], 'collections.ChainMap': ['hashMap'],
    heappush: ['heap'], heappop: ['heap'], heapify: ['heap'], heappushpop: ['heap'], nlargest: ['heap'], nsmallest: ['heap'],
    'queue.Queue': ['queue'], 'queue.SimpleQueue': ['queue'], 'queue.LifoQueue': ['stack'],
    'queue.PriorityQueue': ['priorityQueue'], 'asyncio.Queue': ['queue'], 'asyncio.PriorityQueue': ['priorityQueue'],
    'multiprocessing.Queue': ['queue'],
    'dict()': ['hashMap'], 'set()': ['set'], 'frozenset()': ['set'], 'list()': ['list'], 'tuple()': ['tuple'], 'array.array': ['array'],
    'dataclasses.dataclass': ['dataClass'], 'dataclasses.field': ['dataClass'],
    'enum.Enum': ['enumeration'], 'enum.IntEnum': ['enumeration'], 'enum.Flag': ['enumeration'], 'enum.auto': ['enumeration'],
    // algorithms and functional style
    'sorted()': ['sorting'], sort: ['sorting'], 'bisect.*': ['binarySearch'],
    'itertools.permutations': ['combinatorics'], 'itertools.combinations': ['combinatorics'],
    'itertools.product': ['combinatorics'], 'itertools.combinations_with_replacement': ['combinatorics'],
    'functools.lru_cache': ['memoization'], 'functools.cache': ['memoization'], 'functools.cached_property': ['memoization'],
    'hash()': ['hashing'],
    'map()': ['higherOrderFunctions'], 'filter()': ['higherOrderFunctions'], 'functools.reduce': ['higherOrderFunctions'],
    'reduce()': ['higherOrderFunctions'], 'functools.partial': ['higherOrderFunctions'],
    'functools.wraps': ['decorators'],
    // concurrency
    'threading.Thread': ['threads'], 'threading.Lock': ['synchronization'], 'threading.RLock': ['synchronization'],
    'threading.Semaphore': ['synchronization'], 'threading.BoundedSemaphore': ['synchronization'],
    'threading.Event': ['synchronization'], 'threading.Condition': ['synchronization'], 'threading.Barrier': ['synchronization'],
    'asyncio.Lock': ['synchronization'], 'asyncio.Semaphore': ['synchronization'],
    'concurrent.futures.*': ['workerPool'], 'multiprocessing.Pool': ['workerPool'], 'multiprocessing.Process': ['multiprocessing'],
    'asyncio.gather': ['eventLoop'], 'asyncio.run': ['eventLoop'], 'asyncio.create_task': ['eventLoop'],
    'asyncio.sleep': ['timers'], 'asyncio.wait_for': ['timers'],
    // processes and environment
    'os.system': ['subprocess'], 'os.popen': ['subprocess'], 'os.fork': ['multiprocessing'],
    // reflection, metaprogramming
    'getattr()': ['reflection'], 'setattr()': ['reflection'], 'hasattr()': ['reflection'], 'delattr()': ['reflection'],
    'globals()': ['reflection'], 'locals()': ['reflection'], 'vars()': ['reflection'],
    'eval()': ['dynamicCodeExecution'], 'exec()': ['dynamicCodeExecution'],
    '__import__()': ['dynamicImports'], 'importlib.import_module': ['dynamicImports'],
    // decorators and base classes with a meaning
    'property()': ['properties'], 'staticmethod()': ['staticMethods'], 'classmethod()': ['staticMethods'],
    'abc.abstractmethod': ['abstractClasses'], 'abstractmethod()': ['abstractClasses'], 'abc.ABC': ['abstractClasses'],
    'abc.ABCMeta': ['abstractClasses'], 'contextlib.contextmanager': ['contextManagers'],
    'contextlib.asynccontextmanager': ['contextManagers'], 'typing.Protocol': ['interfaces'],
    'typing.Generic': ['generics'], 'typing.TypeVar': ['generics'], 'Generic()': ['generics'], 'TypeVar()': ['generics'],
    'pytest.*': ['pytest'], 'unittest.TestCase': ['unittest'], 'unittest.mock.*': ['mocking'], 'mock.patch': ['mocking'],
    'patch()': ['mocking'], 'MagicMock()': ['mocking'], 'Mock()': ['mocking'],
    route: ['httpServer'], 'warnings.warn': ['deprecation'], 'deprecated()': ['deprecation'],
  },
  dependencyLabels(module) {
    if (module.startsWith('.')) return ['local modules'];
    if (module === '__future__') return null;
    return twoLevels(module.split('.'));
  },
  moduleId: (module) => module,
  callFeatures(symbol, rest) {
    if (symbol !== 'open' && symbol !== 'io.open' && symbol !== 'codecs.open') return null;
    // open(path, 'w') / open(path, mode='a'): a write mode means writing, no mode means reading.
    const mode = /,\s*(?:mode\s*=\s*)?['"]([rwxabtU+]+)['"]/.exec(callArguments(rest))?.[1];
    return mode && /[wxa+]/.test(mode) ? ['writeFile'] : ['readFile'];
  },
};
