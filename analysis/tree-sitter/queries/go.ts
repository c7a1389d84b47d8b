import { callArguments, type LanguageSpec } from './spec.js';

const query = String.raw`
(import_spec path: (_) @import)
(import_spec name: (package_identifier) @import.alias path: (_) @import.from)
(package_clause (package_identifier) @package)

(call_expression function: [(identifier) (selector_expression)] @call)
(call_expression arguments: (argument_list . (map_type) @flag.hashMap))
(call_expression arguments: (argument_list . (slice_type) @flag.slice))
(call_expression arguments: (argument_list . (channel_type)))
(argument_list (selector_expression) @ref)
(index_expression operand: (selector_expression) @ref)
(slice_expression operand: (selector_expression) @ref)
(range_clause right: (selector_expression) @ref)
(short_var_declaration right: (expression_list (selector_expression) @ref))
(qualified_type) @ref

(function_declaration name: (identifier) @def.name) @def
(method_declaration receiver: (parameter_list (parameter_declaration name: (identifier)? @def.receiver)) name: (field_identifier) @def.name) @def
(method_declaration) @flag.methods
(type_spec name: (type_identifier) @struct.name type: (struct_type))
(type_spec name: (type_identifier) @iface.name type: (interface_type))
(type_parameter_list) @flag.generics

(for_statement (for_clause) @flag.forLoop)
(for_statement (range_clause) @flag.rangeLoop)
; \`for cond {}\` and \`for {}\`: a while loop in any other language.
(for_statement . [(binary_expression) (unary_expression) (identifier) (call_expression) (selector_expression)
  (parenthesized_expression) (index_expression) (true) (block)] @flag.whileLoop)
(go_statement) @flag.goroutines
(channel_type) @flag.channels
(send_statement) @flag.channels
(unary_expression operator: "<-") @flag.channels
(select_statement) @flag.channels
(defer_statement) @flag.deferredExecution
(func_literal) @flag.anonymousFunctions
(expression_switch_statement) @flag.switchStatement
(type_switch_statement) @flag.typeSwitch
(composite_literal type: (map_type)) @flag.hashMap
(composite_literal type: (slice_type)) @flag.slice
(composite_literal type: (array_type)) @flag.array
(if_statement condition: (binary_expression left: (identifier) @errcheck operator: "!=" right: (nil)))
(comment) @comment
`;

/** The name a Go import binds without an alias: the last path element, minus a `/vN` suffix. */
function packageName(path: string): string {
  const parts = path.split('/');
  let last = parts.pop() ?? path;
  if (/^v\d+$/.test(last) && parts.length > 0) last = parts.pop() ?? last;
  return last.replace(/\.v\d+$/, '').replace(/^go-/, '').replace(/[.-]go$/, '').replace(/[.-]/g, '_');
}

export const go: LanguageSpec = {
  wasm: 'tree-sitter-go.wasm',
  query,
  modules: {
    log: ['loggingFramework'], 'log/slog': ['loggingFramework'], 'go.uber.org/zap': ['loggingFramework'],
    'github.com/sirupsen/logrus': ['loggingFramework'], 'github.com/rs/zerolog': ['loggingFramework'],
    flag: ['commandLineArguments'], 'github.com/spf13/cobra': ['commandLineArguments'],
    'github.com/spf13/pflag': ['commandLineArguments'], 'github.com/urfave/cli': ['commandLineArguments'],
    'crypto/sha256': ['cryptographicHashing'], 'crypto/sha1': ['cryptographicHashing'], 'crypto/sha512': ['cryptographicHashing'],
    'crypto/md5': ['cryptographicHashing'], 'golang.org/x/crypto/sha3': ['cryptographicHashing'],
    'golang.org/x/crypto/blake2b': ['cryptographicHashing'], 'crypto/aes': ['encryption'], 'crypto/cipher': ['encryption'],
    'crypto/rsa': ['encryption'], 'crypto/ecdsa': ['encryption'], 'crypto/ed25519': ['encryption'],
    'golang.org/x/crypto/nacl': ['encryption'], 'golang.org/x/crypto/chacha20poly1305': ['encryption'],
    'crypto/rand': ['secureRandom'], 'crypto/hmac': ['hmac'], 'crypto/tls': ['tls'], 'crypto/x509': ['tls'],
    'golang.org/x/crypto/bcrypt': ['passwordHashing'], 'golang.org/x/crypto/argon2': ['passwordHashing'],
    'golang.org/x/crypto/scrypt': ['passwordHashing'], 'github.com/golang-jwt/jwt': ['authentication'],
    'golang.org/x/oauth2': ['authentication'], 'hash/fnv': ['hashing'], 'hash/crc32': ['hashing'],
    'hash/maphash': ['hashing'], 'hash/adler32': ['hashing'], 'hash/crc64': ['hashing'],
    'encoding/json': ['json'], 'encoding/xml': ['xml'], 'encoding/csv': ['csv'], 'gopkg.in/yaml': ['yaml'],
    'sigs.k8s.io/yaml': ['yaml'], 'github.com/BurntSushi/toml': ['toml'], 'github.com/pelletier/go-toml': ['toml'],
    'encoding/gob': ['binaryData'], 'encoding/binary': ['binaryData'], 'encoding/base64': ['base64'],
    'encoding/hex': ['binaryData'], 'net/url': ['urlEncoding'], compress: ['compression'], archive: ['compression'],
    'google.golang.org/protobuf': ['protobuf'], 'github.com/golang/protobuf': ['protobuf'],
    'text/template': ['templating'], 'html/template': ['templating'], 'golang.org/x/net/html': ['htmlParsing'],
    'github.com/PuerkitoBio/goquery': ['htmlParsing'], 'github.com/go-playground/validator': ['dataValidation'],
    strings: ['stringManipulation'], strconv: ['stringManipulation'], unicode: ['stringManipulation'],
    'unicode/utf8': ['stringManipulation'], regexp: ['regex'], math: ['mathematical'], 'math/bits': ['mathematical'],
    'math/cmplx': ['mathematical'], 'math/rand': ['randomNumbers'], 'math/big': ['arbitraryPrecision'],
    'gonum.org/v1/gonum': ['numericalComputing'], 'container/heap': ['heap'], 'container/list': ['linkedList'],
    'container/ring': ['queue'], sort: ['sorting'], 'sync/atomic': ['synchronization'],
    'golang.org/x/sync/errgroup': ['goroutines'], 'golang.org/x/sync/semaphore': ['synchronization'],
    context: ['cancellation'], 'net/http': ['network'], 'net/rpc': ['network'],
    'google.golang.org/grpc': ['network'], 'github.com/gorilla/websocket': ['sockets'],
    'github.com/gin-gonic/gin': ['httpServer'], 'github.com/labstack/echo': ['httpServer'],
    'github.com/gorilla/mux': ['httpServer'], 'github.com/go-chi/chi': ['httpServer'], 'github.com/gofiber/fiber': ['httpServer'],
    'database/sql': ['database'], 'github.com/lib/pq': ['database'], 'github.com/go-sql-driver/mysql': ['database'],
    'gorm.io/gorm': ['database'], 'github.com/jmoiron/sqlx': ['database'], 'go.mongodb.org/mongo-driver': ['database'],
    'github.com/go-redis/redis': ['database'], 'github.com/redis/go-redis': ['database'],
    'github.com/mattn/go-sqlite3': ['database'], 'github.com/jackc/pgx': ['database'], 'go.etcd.io/bbolt': ['database'],
    'os/exec': ['subprocess'], 'os/signal': ['signalHandling'], 'github.com/spf13/viper': ['configuration'],
    'github.com/joho/godotenv': ['configuration'], testing: ['goTesting'], 'net/http/httptest': ['unitTesting'],
    'github.com/stretchr/testify': ['unitTesting'], 'github.com/stretchr/testify/mock': ['mocking'],
    'github.com/golang/mock': ['mocking'], 'go.uber.org/mock': ['mocking'], 'github.com/onsi/ginkgo': ['unitTesting'],
    reflect: ['reflection'], unsafe: ['memoryManagement'], plugin: ['dynamicImports'], 'go/ast': ['metaprogramming'],
    'go/parser': ['metaprogramming'], 'go/types': ['metaprogramming'], 'fyne.io/fyne': ['gui'], image: ['imageProcessing'],
    'github.com/robfig/cron': ['taskScheduling'], 'path/filepath': ['pathManipulation'], path: ['pathManipulation'],
    'io/fs': ['directoryTraversal'], time: ['dateTime'],
  },
  symbols: {
    // file operation (os.OpenFile is refined by its flags in callFeatures)
    'os.ReadFile': ['readFile'], 'ioutil.ReadFile': ['readFile'], 'os.Open': ['readFile'],
    'os.WriteFile': ['writeFile'], 'ioutil.WriteFile': ['writeFile'], 'os.Create': ['writeFile'],
    'filepath.Walk': ['directoryTraversal'], 'filepath.WalkDir': ['directoryTraversal'], 'fs.WalkDir': ['directoryTraversal'],
    'os.ReadDir': ['directoryTraversal'], 'ioutil.ReadDir': ['directoryTraversal'], 'filepath.Glob': ['directoryTraversal'],
    'filepath.*': ['pathManipulation'], 'path.*': ['pathManipulation'], 'os.Getwd': ['pathManipulation'],
    'os.Remove': ['fileManagement'], 'os.RemoveAll': ['fileManagement'], 'os.Mkdir': ['fileManagement'],
    'os.MkdirAll': ['fileManagement'], 'os.Rename': ['fileManagement'], 'os.Stat': ['fileManagement'],
    'os.Lstat': ['fileManagement'], 'os.Chmod': ['fileManagement'], 'os.IsNotExist': ['fileManagement'],
    'os.CreateTemp': ['tempFiles'], 'os.MkdirTemp': ['tempFiles'], 'ioutil.TempFile': ['tempFiles'],
    'ioutil.TempDir': ['tempFiles'], 'os.TempDir': ['tempFiles'],
    // output, input, environment
    'fmt.Println': ['consoleOutput'], 'fmt.Printf': ['consoleOutput'], 'fmt.Print': ['consoleOutput'],
    'println()': ['consoleOutput'], 'print()': ['consoleOutput'], 'os.Stdout': ['consoleOutput'], 'os.Stderr': ['standardError'],
    'log.Fatal': ['criticalLevel'], 'log.Fatalf': ['criticalLevel'], 'log.Fatalln': ['criticalLevel'],
    'log.Panic': ['criticalLevel'], 'log.Panicf': ['criticalLevel'], 'log.*': ['loggingFramework'],
    'slog.Debug': ['debugLevel'], 'slog.Info': ['infoLevel'], 'slog.Warn': ['warningLevel'], 'slog.Error': ['errorLevel'],
    'slog.*': ['loggingFramework'], 'zap.*': ['loggingFramework'], 'logrus.*': ['loggingFramework'],
    'os.Stdin': ['consoleInput'], 'fmt.Scan': ['consoleInput'], 'fmt.Scanln': ['consoleInput'], 'fmt.Scanf': ['consoleInput'],
    'os.Args': ['commandLineArguments'], 'flag.*': ['commandLineArguments'],
    'os.Getenv': ['environmentVariables'], 'os.LookupEnv': ['environmentVariables'], 'os.Setenv': ['environmentVariables'],
    'os.Environ': ['environmentVariables'], 'signal.Notify': ['signalHandling'],
    'exec.Command': ['subprocess'], 'exec.CommandContext': ['subprocess'],
    // errors
    'errors.New': ['errorCreation'], 'fmt.Errorf': ['errorWrapping'], 'errors.Is': ['errorWrapping'],
    'errors.As': ['errorWrapping'], 'errors.Unwrap': ['errorWrapping'], 'errors.Wrap': ['errorWrapping'],
    'errors.Wrapf': ['errorWrapping'], 'errors.Join': ['errorWrapping'], 'panic()': ['panic'], 'recover()': ['recover'],
    // data processing and computation
    'fmt.Sprintf': ['stringFormatting'], 'fmt.Sprint': ['stringFormatting'], 'fmt.Sprintln': ['stringFormatting'],
    'strings.*': ['stringManipulation'], 'strconv.*': ['stringManipulation'], 'regexp.*': ['regex'],
    'json.*': ['json'], 'xml.*': ['xml'], 'csv.*': ['csv'], 'base64.*': ['base64'],
    'time.Now': ['dateTime'], 'time.Parse': ['dateTime'], 'time.Date': ['dateTime'], 'time.Unix': ['dateTime'],
    'time.Since': ['dateTime'], 'time.Sleep': ['timers'], 'time.After': ['timers'], 'time.Tick': ['timers'],
    'time.NewTicker': ['timers'], 'time.NewTimer': ['timers'], 'time.AfterFunc': ['timers'],
    'math.Sin': ['trigonometry'], 'math.Cos': ['trigonometry'], 'math.Tan': ['trigonometry'], 'math.Asin': ['trigonometry'],
    'math.Acos': ['trigonometry'], 'math.Atan': ['trigonometry'], 'math.Atan2': ['trigonometry'], 'math.Hypot': ['trigonometry'],
    'math.Sqrt': ['exponentiation'], 'math.Cbrt': ['exponentiation'], 'math.Pow': ['exponentiation'],
    'math.Exp': ['exponentiation'], 'math.Log': ['logarithm'], 'math.Log2': ['logarithm'], 'math.Log10': ['logarithm'],
    'math.Floor': ['rounding'], 'math.Ceil': ['rounding'], 'math.Round': ['rounding'], 'math.Trunc': ['rounding'],
    'math.*': ['mathematical'], 'rand.*': ['randomNumbers'], 'big.*': ['arbitraryPrecision'],
    // data structures and algorithms
    'heap.*': ['heap'], 'list.New': ['linkedList'], 'list.List': ['linkedList'], 'sync.Map': ['hashMap', 'synchronization'],
    'sort.Slice': ['sorting'], 'sort.SliceStable': ['sorting'], 'sort.Sort': ['sorting'], 'sort.Strings': ['sorting'],
    'sort.Ints': ['sorting'], 'sort.Float64s': ['sorting'], 'slices.Sort': ['sorting'], 'slices.SortFunc': ['sorting'],
    'slices.SortStableFunc': ['sorting'], 'sort.Search': ['binarySearch'], 'sort.SearchInts': ['binarySearch'],
    'slices.BinarySearch': ['binarySearch'], 'slices.BinarySearchFunc': ['binarySearch'],
    // concurrency and network
    'sync.WaitGroup': ['synchronization'], 'sync.Mutex': ['synchronization'], 'sync.RWMutex': ['synchronization'],
    'sync.Once': ['synchronization'], 'sync.Cond': ['synchronization'], 'sync.Pool': ['memoryManagement'],
    'atomic.*': ['synchronization'], 'context.WithCancel': ['cancellation'], 'context.WithTimeout': ['cancellation'],
    'context.WithDeadline': ['cancellation'], 'runtime.GC': ['memoryManagement'], 'runtime.ReadMemStats': ['memoryManagement'],
    'runtime.NumGoroutine': ['goroutines'], 'runtime.GOMAXPROCS': ['goroutines'],
    'http.Get': ['httpRequests'], 'http.Post': ['httpRequests'], 'http.PostForm': ['httpRequests'],
    'http.NewRequest': ['httpRequests'], 'http.NewRequestWithContext': ['httpRequests'], 'http.Client': ['httpRequests'],
    'http.DefaultClient': ['httpRequests'], 'http.ListenAndServe': ['httpServer'], 'http.ListenAndServeTLS': ['httpServer'],
    'http.HandleFunc': ['httpServer'], 'http.Handle': ['httpServer'], 'http.NewServeMux': ['httpServer'],
    'http.Server': ['httpServer'], 'http.ResponseWriter': ['httpServer'], 'http.Handler': ['httpServer'],
    'net.Dial': ['sockets'], 'net.Listen': ['sockets'], 'net.Conn': ['sockets'], 'sql.Open': ['database'], 'sql.DB': ['database'],
    // testing
    'testing.T': ['goTesting'], 'testing.B': ['benchmarking'], 'testing.M': ['goTesting'], 'httptest.*': ['unitTesting'],
    'assert.*': ['unitTesting'], 'require.*': ['unitTesting'], 'reflect.*': ['reflection'],
  },
  dependencyLabels(module) {
    const path = module.replace(/^["`]|["`]$/g, '');
    if (!path || path === 'C') return null;
    const parts = path.split('/').filter((s) => !/^v\d+$/.test(s));
    // Hosted module paths name host/owner/repo before the package directories.
    if (parts[0]?.includes('.')) {
      const repoDepth = parts[0] === 'gopkg.in' ? 2 : 3;
      return [parts.slice(0, repoDepth).join('/').toLowerCase(), ...(parts[repoDepth] ? [parts[repoDepth]!.toLowerCase()] : [])];
    }
    return parts.slice(0, 2).map((s) => s.toLowerCase());
  },
  moduleId: (module) => module.replace(/^["`]|["`]$/g, ''),
  bindingTarget: (module) => packageName(module.replace(/^["`]|["`]$/g, '')),
  callFeatures(symbol, rest) {
    if (symbol !== 'os.OpenFile') return null;
    return /O_WRONLY|O_RDWR|O_APPEND|O_CREATE|O_TRUNC/.test(callArguments(rest)) ? ['writeFile'] : ['readFile'];
  },
};
