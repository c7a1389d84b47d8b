// Labels from identifiers: split a name into words, read algorithm and data-structure hints off
// them, and turn a name that starts with a verb into the behaviour it names (functionality).
import type { FeaturePath } from '../../schemas/categories.js';
import { FEATURES, type FeatureKey } from '../tree-sitter/categories.js';
import type { Facts } from './facts.js';

/** Lowercase words of an identifier: `parseHTTPResponse_v2` → parse, http, response, v2. */
export function splitName(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_$#-]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

interface NameHint {
  pattern: RegExp;
  key: FeatureKey;
  /** Adds a third label naming the variant, e.g. `merge sort`. */
  variant?: (m: RegExpExecArray) => string;
}

const NAME_HINTS: readonly NameHint[] = [
  { pattern: /\b(quick|merge|heap|bubble|insertion|selection|radix|counting|shell|bucket|tim|cocktail|gnome) ?sort/, key: 'sorting', variant: (m) => `${m[1]} sort` },
  { pattern: /\btopo(?:logical)? ?sort/, key: 'topologicalSort' },
  { pattern: /\bsort(?:ed|ing|er)?\b/, key: 'sorting' },
  { pattern: /\bbinary search\b|\bbsearch\b|\bbisect/, key: 'binarySearch' },
  { pattern: /\b(?:bfs|breadth first)\b/, key: 'breadthFirstSearch' },
  { pattern: /\b(?:dfs|depth first)\b/, key: 'depthFirstSearch' },
  { pattern: /\b(?:dijkstra|bellman ford|floyd warshall|a ?star|shortest path)\b/, key: 'shortestPath' },
  { pattern: /\b(?:knapsack|memo|memoize|memoized|dp|lcs|longest common|edit distance|levenshtein|coin change|longest increasing)\b/, key: 'dynamicProgramming' },
  { pattern: /\b(?:permutations?|permute|combinations?|subsets|power set|n ?choose ?k)\b/, key: 'combinatorics' },
  { pattern: /\bbacktrack/, key: 'backtracking' },
  { pattern: /\b(?:is prime|primes|sieve)\b/, key: 'primeNumbers' },
  { pattern: /\b(?:gcd|lcm)\b/, key: 'gcd' },
  { pattern: /\bhash(?:ing|er)?\b|\bdigest\b/, key: 'hashing' },
  { pattern: /\btrie\b/, key: 'trie' },
  { pattern: /\b(?:bst|binary search tree)\b/, key: 'binarySearchTree' },
  { pattern: /\btree\b/, key: 'tree' },
  { pattern: /\b(?:linked list|list node)\b/, key: 'linkedList' },
  { pattern: /\b(?:graph|adjacency)\b/, key: 'graph' },
  { pattern: /\bpriority queue\b/, key: 'priorityQueue' },
  { pattern: /\bheap\b(?! sort)/, key: 'heap' },
  { pattern: /\bdeque\b/, key: 'deque' },
  { pattern: /(?<!priority )\bqueue\b/, key: 'queue' },
  { pattern: /\bstack\b/, key: 'stack' },
  { pattern: /\b(?:cache|lru)\b/, key: 'cache' },
  { pattern: /\bmatrix\b/, key: 'matrix' },
];

export function noteNameHints(words: readonly string[], facts: Facts): void {
  if (words.length === 0) return;
  const phrase = words.join(' ');
  let sorted = false;
  for (const hint of NAME_HINTS) {
    const m = hint.pattern.exec(phrase);
    if (!m) continue;
    if (hint.key === 'sorting' || hint.key === 'topologicalSort') {
      if (sorted) continue;
      sorted = true;
    }
    if (hint.variant) facts.paths.push([...FEATURES[hint.key], hint.variant(m)] as FeaturePath);
    else facts.keys.add(hint.key);
  }
}

// Verbs that start a function name describing what the code does; other names are skipped.
const VERBS = new Set(
  (
    'accept add aggregate align allocate analyze analyse append apply archive assign authenticate authorize await ' +
    'backup balance batch bind blur broadcast build bundle cache calculate call cancel capture cast check ' +
    'classify clean cleanup clear clip clone close cluster collect combine commit compare compile complete ' +
    'compose compress compute concat configure confirm connect consume contain convert copy count crawl create ' +
    'crop decode decompress decrypt deduplicate delete deploy deserialize destroy detect determine diff disable ' +
    'dispatch display divide download draw drop dump edit emit enable encode encrypt enqueue ensure enumerate ' +
    'escape estimate evaluate execute expand export extract fetch fill filter finalize find flatten flip flush ' +
    'fold format forward generate get group handle hash highlight import increment index infer initialize ' +
    'inject insert inspect install interpolate invert invoke iterate join launch lint list listen load lock log ' +
    'login logout lookup make mark mask match measure merge migrate minify mock modify monitor mount move ' +
    'multiply navigate normalize notify open optimize order pack pad paginate parse partition patch pause ' +
    'persist pick ping plot poll pop populate post predict prepare preprocess print process produce profile ' +
    'project prompt prune publish pull push put query queue quote rank read rebuild receive reconcile record ' +
    'redirect reduce refresh register reload remove rename render reorder repair replace reply report request ' +
    'require reset resize resolve restart restore resume retry return reverse rewrite rotate round route run ' +
    'sample sanitize save scale scan schedule scrape search seed select send serialize serve set setup shift ' +
    'show shuffle shutdown sign simulate skip slice slugify solve sort split start stop store stream strip ' +
    'submit subscribe subtract sum summarize swap sync tag tokenize toggle track train transform translate ' +
    'transpose traverse trim truncate unlock unpack unregister unsubscribe unwrap update upgrade upload upsert ' +
    'validate verify visit wait walk warn watch wrap write zip'
  ).split(' '),
);
const VERB_ALIASES: ReadonlyMap<string, string> = new Map(Object.entries({
  calc: 'calculate', init: 'initialize', gen: 'generate', del: 'delete', rm: 'remove', mk: 'make', eval: 'evaluate',
  exec: 'execute', fmt: 'format', conv: 'convert', cmp: 'compare', analyse: 'analyze',
  is: 'check', has: 'check', can: 'check', should: 'check', to: 'convert', on: 'handle',
}));
// One-word names too generic to say anything about the file.
const GENERIC_SINGLE = new Set([
  'run', 'call', 'get', 'set', 'handle', 'execute', 'process', 'apply', 'invoke', 'make', 'start', 'stop', 'initialize',
  'setup', 'close', 'open', 'reset', 'clear', 'update', 'wait', 'check', 'convert', 'return', 'add', 'remove', 'create',
  'build', 'render', 'load', 'show', 'list', 'log', 'print', 'write', 'read',
]);

const FILLER_PREFIXES = new Set(['do', 'perform', 'try', 'internal']);

// What a verb-led name says the code does, as a behaviour shared across files: a function named
// parse_os_release and one named parseHeader both parse. The identifier itself is not a feature
// (it names one function of one file, and sibling functions would become sibling "features").
const BEHAVIOURS: ReadonlyArray<[behaviour: string, verbs: string]> = [
  ['parsing', 'parse tokenize decode deserialize unpack unwrap extract split'],
  ['serialization', 'serialize encode pack quote escape'],
  ['validation', 'validate verify check ensure require sanitize confirm lint'],
  ['data retrieval', 'fetch download load read lookup query pull scrape crawl poll receive consume get list restore import'],
  ['data persistence', 'save store persist write export backup archive upload dump upsert commit'],
  ['transformation', 'convert transform normalize translate transpose invert flatten expand wrap format rewrite slugify minify pad trim strip truncate round scale resize crop rotate flip blur mask interpolate align cast reverse project clip slice partition paginate'],
  ['aggregation', 'aggregate count sum summarize reduce group collect measure estimate merge combine join concat fold zip'],
  ['searching', 'find search match scan detect filter select pick inspect visit index contain resolve determine'],
  ['ordering', 'sort order rank reorder shuffle swap'],
  ['traversal', 'walk traverse iterate enumerate navigate'],
  ['computation', 'compute calculate evaluate solve simulate predict infer multiply divide subtract increment optimize train cluster classify sample analyze'],
  ['generation', 'generate create build make compose render draw plot seed populate mock prepare preprocess compile bundle'],
  ['modification', 'update modify patch edit replace rename set assign mark tag toggle reset repair reconcile refresh reload rebuild migrate upgrade apply add append insert fill copy clone move'],
  ['removal', 'delete remove clean cleanup clear drop prune destroy deduplicate unregister skip'],
  ['comparison', 'compare diff'],
  ['communication', 'send publish broadcast emit notify post put request reply forward redirect route serve listen subscribe unsubscribe dispatch push ping connect stream sync submit'],
  ['reporting', 'report print display show log warn highlight profile monitor track record watch capture'],
  ['lifecycle management', 'initialize setup start stop restart shutdown launch open close install deploy mount register bind pause resume schedule wait await cancel run execute invoke call handle process complete finalize flush produce'],
  ['concurrency control', 'lock unlock'],
  ['queue operations', 'enqueue queue pop shift batch'],
  ['security', 'encrypt decrypt hash sign authenticate authorize login logout'],
  ['compression', 'compress decompress'],
  ['caching', 'cache'],
  ['configuration', 'configure enable disable inject'],
  ['user input', 'prompt accept'],
  ['resource management', 'allocate balance'],
  ['retrying', 'retry'],
];
const BEHAVIOUR_OF: ReadonlyMap<string, string> = new Map(BEHAVIOURS.flatMap(([behaviour, verbs]) => verbs.split(' ').map((v) => [v, behaviour] as const)));

/**
 * `parseConfigFile` → ["functionality", "parsing"]; null unless it starts with a verb that names
 * a behaviour. Names too generic to say anything (run, get_name) give nothing.
 */
export function functionality(allWords: readonly string[]): FeaturePath | null {
  // doSort / performLookup / trySend: the verb is the second word.
  const words = allWords.length > 1 && FILLER_PREFIXES.has(allWords[0]!) ? allWords.slice(1) : allWords;
  const first = words[0];
  if (first === undefined) return null;
  const verb = VERB_ALIASES.get(first) ?? first;
  if (!VERBS.has(verb)) return null;
  if (words.length === 1 && GENERIC_SINGLE.has(verb)) return null;
  // getName / set_value: plain accessors.
  if ((verb === 'get' || verb === 'set') && words.length <= 2) return null;
  const behaviour = BEHAVIOUR_OF.get(verb);
  return behaviour ? ['functionality', behaviour] : null;
}
