/**
 * What counts as a secret: one rule per kind, applied in order (specific prefixes before the generic
 * `Bearer`, URL-password and e-mail rules, so a key keeps its precise kind wherever it appears).
 *
 * Every regex begins at a literal prefix, most behind a look-behind so a match can only start where a
 * token starts (not inside a word, but right after `_` or `-`: `key_sk-…` and `id-ghp_…` hold secrets),
 * and ends on one greedy run of a single character class (or a bounded run): no nested or overlapping
 * quantifiers, so matching stays linear even on megabyte strings built to make a backtracking engine
 * stall. PEM blocks, whose bodies would need a lazy "anything until END", are found with `indexOf`
 * instead of a regex for the same reason.
 */

export const REDACTION_KINDS = [
  'private_key',
  'aws_secret_access_key',
  'aws_access_key_id',
  'anthropic_key',
  'openai_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'google_api_key',
  'jwt',
  'url_password',
  'bearer_token',
  'email',
] as const;
export type RedactionKind = (typeof REDACTION_KINDS)[number];

export function marker(kind: RedactionKind): string {
  return `[REDACTED:${kind}]`;
}

export interface Replaced {
  value: string;
  count: number;
}

export interface Rule {
  kind: RedactionKind;
  /** substrings of which one must be present for the rule to match: the cheap check that skips the regex */
  triggers: readonly string[];
  /** the triggers (lower case) are words found in any case, as the rule's regex finds them */
  anyCase?: boolean;
  apply(input: string): Replaced;
}

/** Whether one of the rule's triggers is in `input`. */
export function hasTrigger(rule: Rule, input: string): boolean {
  const text = rule.anyCase ? input.toLowerCase() : input;
  for (const trigger of rule.triggers) if (text.includes(trigger)) return true;
  return false;
}

/**
 * One regex that finds whether any trigger of any of `rules` is present: a single scan of the string
 * instead of one `includes` per trigger. A trigger that contains another one (`sk-ant-` holds `sk-`)
 * adds nothing and is left out. Plain literals in an alternation: no backtracking to speak of.
 */
export function anyTriggerTest(rules: readonly Rule[]): RegExp {
  const triggers = [...new Set(rules.flatMap((rule) => rule.triggers))];
  const needed = triggers.filter((t) => !triggers.some((other) => other !== t && t.includes(other)));
  // case-blind, for the rules whose words may come in any case; the others check their own case after
  return new RegExp(needed.map((t) => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'), 'i');
}

/** The shortest string any rule can match ("a@b.co", "://:x@"); anything shorter is returned as is. */
export const MIN_SECRET_LENGTH = 6;

/**
 * A rule from a global regex: the whole match becomes the marker, except a leading named group `keep`
 * (the `Bearer ` word, the `scheme://user:` part, the `aws_secret_access_key=` name) which stays.
 */
function regexRule(kind: RedactionKind, triggers: readonly string[], pattern: RegExp): Rule {
  const replacement = marker(kind);
  return {
    kind,
    triggers,
    anyCase: pattern.ignoreCase,
    apply(input) {
      let count = 0;
      const value = input.replace(pattern, (...args: unknown[]) => {
        count += 1;
        const groups = args[args.length - 1];
        const keep = typeof groups === 'object' && groups !== null ? (groups as { keep?: string }).keep : undefined;
        return (keep ?? '') + replacement;
      });
      return { value, count };
    },
  };
}

// A PEM header names the key type; the matching footer carries the same label.
const PEM_BEGIN = '-----BEGIN ';
const PEM_HEADER = /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)/y;
// A block cut off before its footer (a truncated prompt or log line) still leaks its body.
const PEM_BODY = /[A-Za-z0-9+/=\s\\]*/y;

function redactPrivateKeys(input: string): Replaced {
  // footers known to be absent after some position are absent after any later one: look for each once
  const missingFooters = new Set<string>();
  return replaceFound(input, PEM_BEGIN, 'private_key', (start) => {
    PEM_HEADER.lastIndex = start;
    const header = PEM_HEADER.exec(input);
    if (!header) return [-1, start + PEM_BEGIN.length];
    const bodyStart = start + header[0].length;
    const footer = `-----END ${header[1]}`;
    const footerAt = missingFooters.has(footer) ? -1 : input.indexOf(footer, bodyStart);
    if (footerAt >= 0) return [footerAt + footer.length, footerAt + footer.length];
    missingFooters.add(footer);
    PEM_BODY.lastIndex = bodyStart;
    PEM_BODY.exec(input);
    return [PEM_BODY.lastIndex, PEM_BODY.lastIndex];
  });
}

/**
 * Replaces the secrets found at each occurrence of `prefix` with the marker of `kind`: `match` answers
 * where the secret starting there ends (-1 when none does) and where to look for the next one.
 */
function replaceFound(input: string, prefix: string, kind: RedactionKind, match: (start: number) => [end: number, next: number]): Replaced {
  const replacement = marker(kind);
  let out = '';
  let copiedUpTo = 0;
  let from = 0;
  let count = 0;
  for (;;) {
    const start = input.indexOf(prefix, from);
    if (start < 0) break;
    const [end, next] = match(start);
    if (end >= 0) {
      out += input.slice(copiedUpTo, start) + replacement;
      copiedUpTo = end;
      count += 1;
    }
    from = next;
  }
  return count === 0 ? { value: input, count } : { value: out + input.slice(copiedUpTo), count };
}

/*
 * Tokens that may start right after `_` or `-` are runs of [A-Za-z0-9_-], which holds `_` and `-`: a
 * regex would try a match at each start inside a run (`eyJ-eyJ-eyJ-…`, `sk-sk-sk-…`) and read on to
 * the run's end each time, quadratic in the run. These scanners read each run once: every start inside
 * a run that failed ends at the same place, and fails the same way.
 */
const TOKEN_CHAR = /[A-Za-z0-9_-]/;
const ALNUM = /[A-Za-z0-9]/;

/** The end of the run of token characters starting at `from`. */
function runEnd(input: string, from: number): number {
  let i = from;
  while (i < input.length && TOKEN_CHAR.test(input[i]!)) i += 1;
  return i;
}

/** `replaceFound` for a token, which starts where no letter or digit is right before it. */
function scanTokens(input: string, prefix: string, kind: RedactionKind, match: (start: number) => [end: number, next: number]): Replaced {
  return replaceFound(input, prefix, kind, (start) => (start > 0 && ALNUM.test(input[start - 1]!) ? [-1, start + 1] : match(start)));
}

/** `sk-…`: 20 or more token characters after the prefix, a digit among them; not `sk-ant-` (Anthropic's). */
function redactOpenAiKeys(input: string): Replaced {
  // the run around the last start looked at, and its last digit: an `sk-` inside an `sk-ant-…` run is
  // looked at on its own, without reading the run again
  let runStop = -1;
  let lastDigit = -1;
  return scanTokens(input, 'sk-', 'openai_key', (start) => {
    const body = start + 3;
    if (body > runStop) {
      runStop = runEnd(input, body);
      lastDigit = -1;
      for (let i = runStop - 1; i >= body && lastDigit < 0; i -= 1) if (input[i]! >= '0' && input[i]! <= '9') lastDigit = i;
    }
    if (input.startsWith('ant-', body)) return [-1, body];
    const ok = runStop - body >= 20 && lastDigit >= body;
    return [ok ? runStop : -1, runStop];
  });
}

/** `eyJ…`: three dot-separated runs of token characters, none empty. */
function redactJwts(input: string): Replaced {
  return scanTokens(input, 'eyJ', 'jwt', (start) => {
    const first = runEnd(input, start + 3);
    if (first === start + 3 || input[first] !== '.') return [-1, Math.max(first, start + 1)];
    const second = runEnd(input, first + 1);
    if (second === first + 1 || input[second] !== '.') return [-1, Math.max(second, first + 1)];
    const third = runEnd(input, second + 1);
    if (third === second + 1) return [-1, second + 1];
    return [third, third];
  });
}

/** Object keys whose string value is an AWS secret key as a whole (`{ "SecretAccessKey": "..." }`). */
export const SECRET_KEY_NAME = /^(?:aws[_-]?)?secret[_-]?access[_-]?key$/i;

export const RULES: readonly Rule[] = [
  { kind: 'private_key', triggers: [PEM_BEGIN], apply: redactPrivateKeys },
  regexRule(
    'aws_secret_access_key',
    ['secret'],
    // aws_secret_access_key=…, AWS_SECRET_ACCESS_KEY: "…", "SecretAccessKey": "…", also JSON-escaped quotes
    /(?<keep>(?:aws[_-]?)?secret[_-]?access[_-]?key[\\"']{0,2}[ \t]{0,8}[:=][ \t]{0,8}[\\"']{0,2})(?!\[REDACTED:)[A-Za-z0-9/+]{16,}/gi,
  ),
  regexRule('aws_access_key_id', ['AKIA', 'ASIA'], /(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])/g),
  regexRule('anthropic_key', ['sk-ant-'], /(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_-]{16,}/g),
  // `sk-` alone is a common prefix in ordinary identifiers: demand a digit, which random keys always have
  { kind: 'openai_key', triggers: ['sk-'], apply: redactOpenAiKeys },
  regexRule(
    'github_token',
    ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    /(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/g,
  ),
  regexRule('gitlab_token', ['glpat-'], /(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}/g),
  regexRule('slack_token', ['xox'], /(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9-]{10,}/g),
  regexRule('google_api_key', ['AIza'], /(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g),
  { kind: 'jwt', triggers: ['eyJ'], apply: redactJwts },
  regexRule(
    'url_password',
    ['://'],
    // the password runs to the last `@` before the host; user and password are bounded, so each `://` costs O(1)
    /(?<keep>:\/\/[^\s:/?#@[\]]{0,256}:)(?!\[REDACTED:)[^\s/?#]{1,256}(?=@)/g,
  ),
  regexRule(
    'bearer_token',
    ['bearer'],
    // a token has a digit somewhere; "Bearer authentication" is prose
    /(?<keep>\bbearer(?:[ \t]{1,8}|%20))(?=[A-Za-z._~+/=-]{0,256}[0-9])[A-Za-z0-9._~+/=-]{8,}/gi,
  ),
];

/** E-mail addresses, on per tenant; `git@host` remotes and `name@2x.png` assets are not addresses. */
export const EMAIL_RULE: Rule = regexRule(
  'email',
  ['@'],
  /(?<![A-Za-z0-9._%+-])(?!git@)[A-Za-z0-9._%+-]{1,64}@(?![0-9]x\.)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9])/g,
);
