import type { LanguageSpec } from './spec.js';

const query = String.raw`
(import_declaration [(scoped_identifier) (identifier)] @import)
(package_declaration [(scoped_identifier) (identifier)] @package)

(method_invocation object: (_)? @call.object name: (identifier) @call)
(object_creation_expression type: (_) @new)
(object_creation_expression (class_body)) @flag.anonymousClasses
(argument_list (field_access) @ref)
(marker_annotation name: (_) @decorator)
(annotation name: (_) @decorator)
(annotation_type_declaration) @flag.metaprogramming

(method_declaration name: (identifier) @def.name) @def
(class_declaration name: (identifier) @class.name)
(superclass (_) @class.super)
(super_interfaces (type_list (_) @class.iface))
(interface_declaration name: (identifier) @iface.name)
(modifiers "abstract") @flag.abstractClasses
(modifiers "synchronized") @flag.synchronization
(field_declaration (modifiers "private")) @flag.encapsulation
(type_parameters) @flag.generics
(enum_declaration) @flag.enumeration
(record_declaration) @flag.record

(for_statement) @flag.forLoop
(enhanced_for_statement) @flag.forEachLoop
(while_statement) @flag.whileLoop
(do_statement) @flag.doWhileLoop
(try_statement) @flag.tryCatch
(try_with_resources_statement) @flag.tryCatch @flag.tryWithResources
(finally_clause) @flag.finallyBlock
(catch_clause body: (block) @catch.body)
(throw_statement) @flag.throwException
(throws) @flag.checkedExceptions
(assert_statement) @flag.assertions
(lambda_expression) @flag.lambdaFunctions
(method_reference) @flag.methodReferences
(switch_expression) @flag.switchStatement
(synchronized_statement) @flag.synchronization
(array_creation_expression) @flag.array
(array_initializer) @flag.array
(line_comment) @comment
(block_comment) @comment
`;

export const java: LanguageSpec = {
  wasm: 'tree-sitter-java.wasm',
  query,
  modules: {
    'java.util.logging': ['loggingFramework'], 'org.slf4j': ['loggingFramework'], 'org.apache.logging.log4j': ['loggingFramework'],
    'org.apache.log4j': ['loggingFramework'], 'ch.qos.logback': ['loggingFramework'], 'lombok.extern': ['loggingFramework'],
    'org.apache.commons.cli': ['commandLineArguments'], picocli: ['commandLineArguments'], 'com.beust.jcommander': ['commandLineArguments'],
    'javax.crypto': ['encryption'], 'org.bouncycastle': ['encryption'], 'org.mindrot.jbcrypt': ['passwordHashing'],
    'io.jsonwebtoken': ['authentication'], 'com.auth0.jwt': ['authentication'], 'org.springframework.security': ['authentication'],
    'javax.net.ssl': ['tls'],
    'com.fasterxml.jackson.databind': ['json'], 'com.fasterxml.jackson.core': ['json'], 'com.google.gson': ['json'],
    'org.json': ['json'], 'javax.json': ['json'], 'jakarta.json': ['json'], 'com.alibaba.fastjson': ['json'],
    'javax.xml': ['xml'], 'org.w3c.dom': ['xml'], 'org.xml.sax': ['xml'], 'org.dom4j': ['xml'], 'jakarta.xml.bind': ['xml'],
    'com.fasterxml.jackson.dataformat.xml': ['xml'], 'org.yaml.snakeyaml': ['yaml'], 'com.fasterxml.jackson.dataformat.yaml': ['yaml'],
    'org.apache.commons.csv': ['csv'], 'com.opencsv': ['csv'], 'com.google.protobuf': ['protobuf'],
    'java.util.zip': ['compression'], 'javax.validation': ['dataValidation'], 'jakarta.validation': ['dataValidation'],
    'org.hibernate.validator': ['dataValidation'], 'java.time': ['dateTime'], 'org.joda.time': ['dateTime'],
    'java.util.regex': ['regex'], 'java.math': ['arbitraryPrecision'], 'org.apache.commons.math3': ['mathematical'],
    'org.jsoup': ['htmlParsing'], 'freemarker': ['templating'], 'org.thymeleaf': ['templating'],
    'java.util.concurrent.locks': ['synchronization'], 'java.util.concurrent.atomic': ['synchronization'],
    'java.net.http': ['httpRequests'], okhttp3: ['httpRequests'], 'org.apache.http': ['httpRequests'],
    'org.apache.hc': ['httpRequests'], retrofit2: ['httpRequests'], 'java.net': ['network'], 'java.nio.channels': ['sockets'],
    'io.netty': ['sockets'], 'com.sun.net.httpserver': ['httpServer'], 'javax.servlet': ['httpServer'],
    'jakarta.servlet': ['httpServer'], 'org.springframework.web': ['httpServer'], 'io.javalin': ['httpServer'],
    'javax.ws.rs': ['httpServer'], 'jakarta.ws.rs': ['httpServer'], 'io.vertx': ['httpServer'],
    'java.sql': ['database'], 'javax.sql': ['database'], 'javax.persistence': ['database'], 'jakarta.persistence': ['database'],
    'org.hibernate': ['database'], 'org.springframework.data': ['database'], 'org.springframework.jdbc': ['database'],
    'redis.clients': ['database'], 'com.mongodb': ['database'], 'org.mybatis': ['database'], 'org.apache.ibatis': ['database'],
    'org.junit': ['junit'], 'org.testng': ['unitTesting'], 'org.mockito': ['mocking'], 'org.easymock': ['mocking'],
    'org.assertj': ['unitTesting'], 'org.hamcrest': ['unitTesting'], 'org.openjdk.jmh': ['benchmarking'],
    'java.lang.reflect': ['reflection'], 'java.lang.invoke': ['reflection'], 'java.lang.annotation': ['metaprogramming'],
    'com.google.inject': ['dependencyInjection'], 'javax.inject': ['dependencyInjection'], 'jakarta.inject': ['dependencyInjection'],
    'org.springframework.beans.factory': ['dependencyInjection'], 'dagger': ['dependencyInjection'],
    'javax.swing': ['gui'], 'java.awt': ['gui'], 'java.awt.geom': [], 'java.awt.Point': [], 'javafx': ['gui'], 'android.widget': ['gui'], 'android.view': ['gui'],
    'org.eclipse.swt': ['gui'], 'javax.imageio': ['imageProcessing'], 'java.awt.image': ['imageProcessing'],
    'java.nio.file': ['pathManipulation'], 'sun.misc.Signal': ['signalHandling'], 'java.util.stream': ['streams'],
    'java.util.function': ['functional'], 'org.quartz': ['taskScheduling'], 'org.springframework.scheduling': ['taskScheduling'],
    'io.reactivex': ['reactiveProgramming'], 'reactor.core': ['reactiveProgramming'],
  },
  symbols: {
    // file operation
    'Files.readAllLines': ['readFile'], 'Files.readString': ['readFile'], 'Files.readAllBytes': ['readFile'],
    'Files.newBufferedReader': ['readFile'], 'Files.lines': ['readFile'], 'Files.newInputStream': ['readFile'],
    FileReader: ['readFile'], FileInputStream: ['readFile'], RandomAccessFile: ['readFile'],
    'Files.write': ['writeFile'], 'Files.writeString': ['writeFile'], 'Files.newBufferedWriter': ['writeFile'],
    'Files.newOutputStream': ['writeFile'], FileWriter: ['writeFile'], FileOutputStream: ['writeFile'],
    'Files.walk': ['directoryTraversal'], 'Files.list': ['directoryTraversal'], 'Files.find': ['directoryTraversal'],
    'Files.newDirectoryStream': ['directoryTraversal'], 'Files.walkFileTree': ['directoryTraversal'],
    listFiles: ['directoryTraversal'], SimpleFileVisitor: ['directoryTraversal'],
    'Paths.get': ['pathManipulation'], 'Path.of': ['pathManipulation'], File: ['pathManipulation'],
    getFileName: ['pathManipulation'], getAbsolutePath: ['pathManipulation'],
    'Files.delete': ['fileManagement'], 'Files.deleteIfExists': ['fileManagement'], 'Files.createDirectories': ['fileManagement'],
    'Files.createDirectory': ['fileManagement'], 'Files.copy': ['fileManagement'], 'Files.move': ['fileManagement'],
    'Files.exists': ['fileManagement'], 'Files.size': ['fileManagement'], mkdirs: ['fileManagement'],
    'Files.createTempFile': ['tempFiles'], 'Files.createTempDirectory': ['tempFiles'], 'File.createTempFile': ['tempFiles'],
    // output, input, environment
    'System.out.*': ['consoleOutput'], 'System.err.*': ['standardError'], printStackTrace: ['standardError'],
    'System.in': ['consoleInput'], 'System.console': ['consoleInput'],
    'System.getenv': ['environmentVariables'], 'System.getProperty': ['environmentVariables'],
    'LoggerFactory.getLogger': ['loggingFramework'], 'Logger.getLogger': ['loggingFramework'],
    'LogManager.getLogger': ['loggingFramework'], Slf4j: ['loggingFramework'], Log4j2: ['loggingFramework'],
    'Runtime.getRuntime': ['memoryManagement'], ProcessBuilder: ['subprocess'],
    // security
    'MessageDigest.getInstance': ['cryptographicHashing'], MessageDigest: ['cryptographicHashing'],
    'Cipher.getInstance': ['encryption'], Cipher: ['encryption'], SecretKeySpec: ['encryption'], KeyGenerator: ['encryption'],
    'Mac.getInstance': ['hmac'], SecureRandom: ['secureRandom'], BCrypt: ['passwordHashing'],
    BCryptPasswordEncoder: ['passwordHashing'], SSLContext: ['tls'],
    // data processing
    ObjectMapper: ['json'], Gson: ['json'], GsonBuilder: ['json'], JSONObject: ['json'], JSONArray: ['json'],
    ObjectOutputStream: ['binaryData'], ObjectInputStream: ['binaryData'], ByteBuffer: ['binaryData'],
    'Base64.*': ['base64'], 'URLEncoder.encode': ['urlEncoding'], 'URLDecoder.decode': ['urlEncoding'],
    GZIPInputStream: ['compression'], GZIPOutputStream: ['compression'], ZipInputStream: ['compression'],
    ZipOutputStream: ['compression'], LocalDate: ['dateTime'], LocalDateTime: ['dateTime'], Instant: ['dateTime'],
    'LocalDate.*': ['dateTime'], 'LocalDateTime.*': ['dateTime'], 'Instant.*': ['dateTime'], 'Duration.*': ['dateTime'],
    'ZonedDateTime.*': ['dateTime'], 'DateTimeFormatter.*': ['dateTime'], SimpleDateFormat: ['dateTime'], Date: ['dateTime'],
    'Calendar.getInstance': ['dateTime'], 'Pattern.compile': ['regex'], 'Pattern.matches': ['regex'], matcher: ['regex'],
    replaceAll: ['regex'], matches: ['regex'], substring: ['stringManipulation'], toUpperCase: ['stringManipulation'],
    toLowerCase: ['stringManipulation'], trim: ['stringManipulation'], strip: ['stringManipulation'],
    charAt: ['stringManipulation'], startsWith: ['stringManipulation'], endsWith: ['stringManipulation'],
    split: ['stringManipulation'], toCharArray: ['stringManipulation'], 'String.join': ['stringManipulation'],
    'String.valueOf': ['stringManipulation'], StringBuilder: ['stringManipulation'], StringBuffer: ['stringManipulation'],
    'String.format': ['stringFormatting'], formatted: ['stringFormatting'], 'Objects.requireNonNull': ['dataValidation'],
    // computation
    'Math.sin': ['trigonometry'], 'Math.cos': ['trigonometry'], 'Math.tan': ['trigonometry'], 'Math.asin': ['trigonometry'],
    'Math.acos': ['trigonometry'], 'Math.atan': ['trigonometry'], 'Math.atan2': ['trigonometry'], 'Math.toRadians': ['trigonometry'],
    'Math.toDegrees': ['trigonometry'], 'Math.hypot': ['trigonometry'], 'Math.sqrt': ['exponentiation'],
    'Math.cbrt': ['exponentiation'], 'Math.pow': ['exponentiation'], 'Math.exp': ['exponentiation'], 'Math.log': ['logarithm'],
    'Math.log10': ['logarithm'], 'Math.floor': ['rounding'], 'Math.ceil': ['rounding'], 'Math.round': ['rounding'],
    'Math.random': ['randomNumbers'], 'Math.*': ['mathematical'], BigInteger: ['arbitraryPrecision'],
    BigDecimal: ['arbitraryPrecision'], 'BigInteger.*': ['arbitraryPrecision'], 'BigDecimal.*': ['arbitraryPrecision'],
    Random: ['randomNumbers'], 'ThreadLocalRandom.current': ['randomNumbers'],
    // data structures and algorithms
    HashMap: ['hashMap'], LinkedHashMap: ['hashMap'], ConcurrentHashMap: ['hashMap', 'synchronization'], Hashtable: ['hashMap'],
    EnumMap: ['hashMap'], IdentityHashMap: ['hashMap'], WeakHashMap: ['hashMap'], 'Map.of': ['hashMap'], 'Map.entry': ['hashMap'],
    TreeMap: ['sortedMap'], HashSet: ['set'], LinkedHashSet: ['set'], 'Set.of': ['set'], 'EnumSet.*': ['set'],
    TreeSet: ['sortedSet'], ArrayList: ['list'], 'List.of': ['list'], 'Arrays.asList': ['list'], Vector: ['list'],
    CopyOnWriteArrayList: ['list', 'synchronization'], LinkedList: ['linkedList'], ArrayDeque: ['deque'],
    PriorityQueue: ['priorityQueue'], PriorityBlockingQueue: ['priorityQueue'], Stack: ['stack'],
    LinkedBlockingQueue: ['queue'], ArrayBlockingQueue: ['queue'], ConcurrentLinkedQueue: ['queue'], BlockingQueue: ['queue'],
    'Arrays.sort': ['sorting'], 'Collections.sort': ['sorting'], sort: ['sorting'], sorted: ['sorting'],
    'Comparator.*': ['sorting'], 'Arrays.binarySearch': ['binarySearch'], 'Collections.binarySearch': ['binarySearch'],
    'Arrays.fill': ['array'], 'Arrays.copyOf': ['array'], 'Arrays.copyOfRange': ['array'], 'Objects.hash': ['hashing'],
    // functional style
    stream: ['streams'], parallelStream: ['streams'], 'Stream.*': ['streams'], 'IntStream.*': ['streams'],
    'Collectors.*': ['streams'], map: ['higherOrderFunctions'], filter: ['higherOrderFunctions'],
    reduce: ['higherOrderFunctions'], flatMap: ['higherOrderFunctions'],
    // concurrency and network
    Thread: ['threads'], Runnable: ['threads'], 'Thread.sleep': ['threads'], ExecutorService: ['workerPool'],
    'Executors.newScheduledThreadPool': ['taskScheduling'], 'Executors.*': ['workerPool'], ThreadPoolExecutor: ['workerPool'],
    ForkJoinPool: ['workerPool'], CompletableFuture: ['futures'], 'CompletableFuture.*': ['futures'], Future: ['futures'],
    ReentrantLock: ['synchronization'], ReentrantReadWriteLock: ['synchronization'], Semaphore: ['synchronization'],
    CountDownLatch: ['synchronization'], CyclicBarrier: ['synchronization'], AtomicInteger: ['synchronization'],
    AtomicLong: ['synchronization'], AtomicBoolean: ['synchronization'], AtomicReference: ['synchronization'],
    Timer: ['taskScheduling'], ScheduledExecutorService: ['taskScheduling'],
    'HttpClient.*': ['httpRequests'], HttpURLConnection: ['httpRequests'], 'HttpRequest.*': ['httpRequests'],
    OkHttpClient: ['httpRequests'], RestTemplate: ['httpRequests'], 'WebClient.*': ['httpRequests'], openConnection: ['httpRequests'],
    Socket: ['sockets'], ServerSocket: ['sockets'], DatagramSocket: ['sockets'], 'HttpServer.create': ['httpServer'],
    'DriverManager.getConnection': ['database'], prepareStatement: ['database'], executeQuery: ['database'],
    JdbcTemplate: ['database'],
    // reflection, annotations
    'Class.forName': ['reflection'], getDeclaredMethod: ['reflection'], getDeclaredMethods: ['reflection'],
    getDeclaredField: ['reflection'], getDeclaredFields: ['reflection'], getMethod: ['reflection'],
    setAccessible: ['reflection'], getDeclaredConstructor: ['reflection'], 'Proxy.newProxyInstance': ['metaprogramming'],
    Override: ['methodOverriding'], Deprecated: ['deprecation'], SuppressWarnings: ['suppressedWarnings'],
    Test: ['junit'], ParameterizedTest: ['junit'], BeforeEach: ['junit'], AfterEach: ['junit'], Before: ['junit'],
    After: ['junit'], BeforeAll: ['junit'], 'Assertions.*': ['unitTesting'], 'Assert.*': ['unitTesting'],
    assertEquals: ['unitTesting'], assertTrue: ['unitTesting'], assertThat: ['unitTesting'], Mock: ['mocking'],
    'Mockito.*': ['mocking'], InjectMocks: ['mocking'], Benchmark: ['benchmarking'],
    Autowired: ['dependencyInjection'], Inject: ['dependencyInjection'], Component: ['dependencyInjection'],
    Service: ['dependencyInjection'], Repository: ['database'], Bean: ['dependencyInjection'],
    Configuration: ['configuration'], Value: ['configuration'], RestController: ['httpServer'], Controller: ['httpServer'],
    GetMapping: ['httpServer'], PostMapping: ['httpServer'], PutMapping: ['httpServer'], DeleteMapping: ['httpServer'],
    RequestMapping: ['httpServer'], Entity: ['database'], Data: ['dataClass'], Getter: ['encapsulation'], Setter: ['encapsulation'], Valid: ['dataValidation'],
    NotNull: ['dataValidation'], Scheduled: ['taskScheduling'], Cacheable: ['memoization'], Transactional: ['database'],
    JFrame: ['gui'], JPanel: ['gui'], JButton: ['gui'], ImageIO: ['imageProcessing'], BufferedImage: ['imageProcessing'],
  },
  dependencyLabels(module, filePackage) {
    const segments = module.split('.');
    // Classes are capitalised: `java.util.List` is package java.util, class list.
    const cls = segments.findIndex((s) => /^[A-Z]/.test(s));
    const pkg = (cls < 0 ? segments : segments.slice(0, cls)).join('.');
    if (!pkg) return null;
    if (filePackage) {
      const org = filePackage.split('.').slice(0, 3).join('.');
      if (pkg === filePackage || pkg.startsWith(`${org}.`) || pkg === org) return ['local modules'];
    }
    const clsName = cls >= 0 ? segments[cls] : undefined;
    return clsName ? [pkg.toLowerCase(), clsName.toLowerCase()] : [pkg.toLowerCase()];
  },
  moduleId: (module) => module,
  implicitBinding(module) {
    const last = module.slice(module.lastIndexOf('.') + 1);
    return /^[A-Z]/.test(last) ? last : null;
  },
};
