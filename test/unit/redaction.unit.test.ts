import { describe, expect, it } from 'vitest';
import { redactDeep, redactString } from '../../shared/redaction/redact.ts';

const on = { emails: true };
const off = { emails: false };

// Format-valid fake secrets, assembled so their lengths are evident.
const SECRETS = {
  aws_access_key_id: 'AKIA' + 'IOSFODNN7EXAMPL1',
  anthropic_key: 'sk-ant-api03-' + 'AbC123xYz_'.repeat(9),
  openai_key: 'sk-proj-' + 'Ab1Cd2Ef3G'.repeat(5),
  github_token: 'ghp_' + 'a1B2c3D4e5'.repeat(3) + 'F6g7H8',
  gitlab_token: 'glpat-' + 'xYz12AbC34dEf56GhI78',
  slack_token: 'xoxb-' + '1234567890-0987654321-AbCdEfGhIj',
  google_api_key: 'AIza' + 'Sy' + 'B1c2D3e4F5'.repeat(3) + 'g6H',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.' + 'c2lnbmF0dXJlX3Rlc3Q-abc_12',
} as const;

const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

const RSA_KEY = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
  '-----END RSA PRIVATE KEY-----',
].join('\n');

describe('redactString: each kind', () => {
  it.each(Object.entries(SECRETS))('replaces a %s on its own', (kind, secret) => {
    expect(redactString(secret, off)).toEqual({ value: `[REDACTED:${kind}]`, count: 1 });
  });

  it.each(Object.entries(SECRETS))('replaces a %s inside a prompt-like text', (kind, secret) => {
    const text = `Please deploy with the key ${secret} and tell me when it's done.\nThanks!`;

    expect(redactString(text, off)).toEqual({
      value: `Please deploy with the key [REDACTED:${kind}] and tell me when it's done.\nThanks!`,
      count: 1,
    });
  });

  it.each(Object.entries(SECRETS))('replaces a %s joined to a name by _ or -', (kind, secret) => {
    expect(redactString(`key_${secret}`, off)).toEqual({ value: `key_[REDACTED:${kind}]`, count: 1 });
    expect(redactString(`model-${secret}`, off)).toEqual({ value: `model-[REDACTED:${kind}]`, count: 1 });
  });

  it('knows every GitHub token prefix and fine-grained PATs', () => {
    const body = 'Zz9'.repeat(12);
    for (const prefix of ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']) {
      expect(redactString(`token=${prefix}${body}`, off).value).toBe('token=[REDACTED:github_token]');
    }
    const pat = 'github_pat_' + '11ABCDEFG0_abcdefghijklmnop_QRS';
    expect(redactString(pat, off).value).toBe('[REDACTED:github_token]');
  });

  it('knows ASIA (temporary) AWS access key ids', () => {
    expect(redactString('ASIA' + 'Y3FAKEKEY1234567', off).value).toBe('[REDACTED:aws_access_key_id]');
  });

  it('knows a plain sk- OpenAI key as well as sk-proj-', () => {
    expect(redactString('OPENAI_API_KEY=sk-' + 'Ab1Cd2Ef3Gh4'.repeat(4), off).value).toBe(
      'OPENAI_API_KEY=[REDACTED:openai_key]',
    );
  });

  it('names an Anthropic key anthropic_key, not as an OpenAI sk- key', () => {
    const short = 'sk-ant-' + 'a1'.repeat(8);

    expect(redactString(`x-api-key: ${short}`, off).value).toBe('x-api-key: [REDACTED:anthropic_key]');
    expect(redactString(SECRETS.anthropic_key, off).value).not.toContain('openai');
  });

  it('redacts the value of aws_secret_access_key assignments and keeps the name', () => {
    expect(redactString(`aws_secret_access_key=${AWS_SECRET}`, off)).toEqual({
      value: 'aws_secret_access_key=[REDACTED:aws_secret_access_key]',
      count: 1,
    });
    expect(redactString(`export AWS_SECRET_ACCESS_KEY: "${AWS_SECRET}"`, off).value).toBe(
      'export AWS_SECRET_ACCESS_KEY: "[REDACTED:aws_secret_access_key]"',
    );
    expect(redactString(`{"aws_secret_access_key": "${AWS_SECRET}"}`, off).value).toBe(
      '{"aws_secret_access_key": "[REDACTED:aws_secret_access_key]"}',
    );
    expect(redactString(`{"SecretAccessKey":"${AWS_SECRET}"}`, off).value).toBe(
      '{"SecretAccessKey":"[REDACTED:aws_secret_access_key]"}',
    );
  });

  it('keeps the word Bearer and replaces the token', () => {
    expect(redactString('Authorization: Bearer abc123DEF456ghi789', off)).toEqual({
      value: 'Authorization: Bearer [REDACTED:bearer_token]',
      count: 1,
    });
    expect(redactString('authorization: bearer 0a1b2c3d4e5f', off).value).toBe(
      'authorization: bearer [REDACTED:bearer_token]',
    );
  });

  it('finds the Bearer and secret-key words in any case, as typed or mangled', () => {
    expect(redactString('authorization: BeArEr abc123DEF456ghi789', off).value).toBe('authorization: BeArEr [REDACTED:bearer_token]');
    expect(redactString(`SeCrEt_AcCeSs_KeY=${AWS_SECRET}`, off).value).toBe('SeCrEt_AcCeSs_KeY=[REDACTED:aws_secret_access_key]');
    expect(redactDeep({ header: 'BEARER 0a1b2c3d4e5f', env: `AWS_SECRET_access_KEY: ${AWS_SECRET}` }, off).value).toEqual({
      header: 'BEARER [REDACTED:bearer_token]',
      env: 'AWS_SECRET_access_KEY: [REDACTED:aws_secret_access_key]',
    });
  });

  it('finds a Bearer token in a URL-encoded header', () => {
    expect(redactString('?auth=Bearer%20abc123DEF456ghi789&x=1', off).value).toBe('?auth=Bearer%20[REDACTED:bearer_token]&x=1');
  });

  it('names the precise kind when a known key is sent as a Bearer token', () => {
    expect(redactString(`Authorization: Bearer ${SECRETS.jwt}`, off).value).toBe(
      'Authorization: Bearer [REDACTED:jwt]',
    );
  });

  it('replaces only the password of a URL', () => {
    expect(redactString('DATABASE_URL=postgres://admin:s3cr3t-P4ss@db.internal:5432/app', off)).toEqual({
      value: 'DATABASE_URL=postgres://admin:[REDACTED:url_password]@db.internal:5432/app',
      count: 1,
    });
    expect(redactString('redis://:hunter2@cache:6379', off).value).toBe('redis://:[REDACTED:url_password]@cache:6379');
    expect(redactString('https://bob:p@ss:w0rd@example.com/x', off).value).toBe(
      'https://bob:[REDACTED:url_password]@example.com/x',
    );
  });

  it('replaces whole PEM private-key blocks of every flavour', () => {
    const body = 'MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA\nq7BFUpkGp3+LQmlQ';
    for (const label of ['RSA ', 'EC ', 'OPENSSH ', '']) {
      const pem = `-----BEGIN ${label}PRIVATE KEY-----\n${body}\n-----END ${label}PRIVATE KEY-----`;
      expect(redactString(`key:\n${pem}\nend`, off)).toEqual({ value: 'key:\n[REDACTED:private_key]\nend', count: 1 });
    }
  });

  it('replaces a PEM block cut off before its footer, up to where the key material stops', () => {
    const truncated = '-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEF\nAASCAUAwggE8AgEAAk';

    expect(redactString(`${truncated}... [truncated]`, off).value).toBe('[REDACTED:private_key]... [truncated]');
  });

  it('leaves public keys and certificates alone', () => {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUP\n-----END CERTIFICATE-----';

    expect(redactString(cert, on)).toEqual({ value: cert, count: 0 });
  });
});

describe('redactString: e-mail switch', () => {
  const text = 'Contact jane.doe+ci@example.co.uk about the build.';

  it('redacts e-mail addresses when the option is on', () => {
    expect(redactString(text, on)).toEqual({ value: 'Contact [REDACTED:email] about the build.', count: 1 });
  });

  it('takes the whole domain of an address joined to more text by a dash', () => {
    expect(redactString('owner=bob@example.co.uk-42', on).value).toBe('owner=[REDACTED:email]-42');
  });

  it('keeps e-mail addresses when the option is off', () => {
    expect(redactString(text, off)).toEqual({ value: text, count: 0 });
  });

  it('does not take git remotes or retina asset names for addresses', () => {
    const s = 'git clone git@github.com:acme/app.git && open logo@2x.png';

    expect(redactString(s, on)).toEqual({ value: s, count: 0 });
  });
});

describe('redactString: no false positives', () => {
  it.each([
    ['a word containing sk-ant-', 'the task-ant-x job and disk-ant-volume'],
    ['a git sha', 'commit 3f786850e387550fdab836ed7e6dc881de23001b'],
    ['a UUID', 'run 123e4567-e89b-12d3-a456-426614174000'],
    ['sk- and three chars', 'use sk-abc here'],
    ['an sk- identifier without digits', 'class sk-button-primary-large-variant'],
    ['sk- ending a word', 'mask-proj-2024-rollout-phase-3 and desk-ant-volume-0123456789abcdef'],
    ['token prefixes ending a word', 'the taghp_ field, catglpat-style names and ncxoxb-1234567890 ids'],
    ['ordinary URLs', 'see https://example.com/path?q=1#x and http://localhost:8080/api and http://[::1]:80/'],
    ['Bearer in prose', 'the Bearer authentication scheme'],
    ['a short AKIA word', 'AKIA is a prefix'],
    ['an env reference', 'AWS_SECRET_ACCESS_KEY=$AWS_SECRET'],
  ])('leaves %s unchanged', (_label, text) => {
    expect(redactString(text, on)).toEqual({ value: text, count: 0 });
  });

  it('returns a long string without secrets unchanged', () => {
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(25_000);

    expect(redactString(long, on)).toEqual({ value: long, count: 0 });
  });

  it('gets through long strings built to stall a backtracking regex', () => {
    // each of these repeats a rule's prefix a megabyte long without ever completing a secret
    const adversarial = [
      '-----BEGIN PRIVATE KEY-----'.repeat(40_000),
      '-----BEGIN RSA PRIVATE KEY-----x'.repeat(30_000),
      'eyJa'.repeat(250_000),
      'a.'.repeat(500_000) + '@',
      '://a:'.repeat(200_000),
      'Bearer '.repeat(150_000),
      'secret_access_key='.repeat(50_000),
      'sk-'.repeat(330_000),
      // prefixes that may follow `_` or `-` start again inside their own run
      'eyJ-'.repeat(250_000),
      'eyJx.'.repeat(200_000),
      'eyJx.y.'.repeat(140_000),
      'sk-ant-'.repeat(140_000),
      'sk-_'.repeat(250_000),
      'key_sk-1'.repeat(120_000),
    ];
    for (const s of adversarial) {
      const result = redactString(s, on);
      expect(result.value.length).toBeGreaterThan(0);
    }
  });
});

describe('redactString: counts and idempotence', () => {
  it('counts every replacement', () => {
    const text = `a ${SECRETS.github_token} b ${SECRETS.aws_access_key_id} c ${SECRETS.github_token} d jane@example.com`;

    expect(redactString(text, on).count).toBe(4);
    expect(redactString(text, off).count).toBe(3);
  });

  it('redacting twice gives the same output and counts nothing the second time', () => {
    const text = [
      ...Object.values(SECRETS),
      `aws_secret_access_key=${AWS_SECRET}`,
      'postgres://admin:s3cr3t@db/app',
      'Bearer abc123DEF456ghi789',
      RSA_KEY,
      'jane@example.com',
    ].join('\n');

    const first = redactString(text, on);
    const second = redactString(first.value, on);

    expect(first.count).toBe(13);
    expect(second).toEqual({ value: first.value, count: 0 });
  });
});

describe('redactDeep', () => {
  it('redacts values nested deep in arrays and objects and leaves non-strings as they are', () => {
    const at = new Date(0);
    const input = {
      n: 1,
      ok: true,
      nothing: null,
      at,
      steps: [{ output: { lines: ['fine', `token ${SECRETS.gitlab_token}`] } }, 42],
    };

    const result = redactDeep(input, off);

    expect(result).toEqual({
      value: {
        n: 1,
        ok: true,
        nothing: null,
        at,
        steps: [{ output: { lines: ['fine', 'token [REDACTED:gitlab_token]'] } }, 42],
      },
      count: 1,
    });
    expect(result.value.at).toBe(at);
  });

  it('returns a new value and leaves the input untouched', () => {
    const input = { prompt: `key ${SECRETS.openai_key}` };

    const result = redactDeep(input, off);

    expect(result.value).not.toBe(input);
    expect(input.prompt).toContain(SECRETS.openai_key);
  });

  it.each(Object.entries(SECRETS))('redacts a %s used as an object key', (kind, secret) => {
    const result = redactDeep({ headers: { [secret]: 'v' } }, off);

    expect(result).toEqual({ value: { headers: { [`[REDACTED:${kind}]`]: 'v' } }, count: 1 });
  });

  it('keeps both values when two keys redact to the same name', () => {
    const result = redactDeep({ 'a@example.com': 1, 'b@example.com': 2, '[REDACTED:email]#2': 3, plain: 4 }, on);

    expect(result.value).toEqual({
      '[REDACTED:email]': 1,
      '[REDACTED:email]#3': 2,
      '[REDACTED:email]#2': 3,
      plain: 4,
    });
    expect(result.count).toBe(2);
  });

  it('treats the whole value of a secret-access-key field as the secret', () => {
    const result = redactDeep({ Credentials: { AccessKeyId: SECRETS.aws_access_key_id, SecretAccessKey: 'anything-at-all' } }, off);

    expect(result).toEqual({
      value: {
        Credentials: { AccessKeyId: '[REDACTED:aws_access_key_id]', SecretAccessKey: '[REDACTED:aws_secret_access_key]' },
      },
      count: 2,
    });
  });

  it('treats the value of an OTLP attribute named like a secret key as the secret, at any depth', () => {
    const attribute = (key: string, value: unknown) => ({ key, value });
    const input = {
      attributes: [
        attribute('aws_secret_access_key', { stringValue: AWS_SECRET }),
        attribute('creds', { kvlistValue: { values: [attribute('SecretAccessKey', { stringValue: 'plain-looking' })] } }),
        attribute('region', { stringValue: 'eu-west-1' }),
      ],
    };

    expect(redactDeep(input, off)).toEqual({
      value: {
        attributes: [
          attribute('aws_secret_access_key', { stringValue: '[REDACTED:aws_secret_access_key]' }),
          attribute('creds', { kvlistValue: { values: [attribute('SecretAccessKey', { stringValue: '[REDACTED:aws_secret_access_key]' })] } }),
          attribute('region', { stringValue: 'eu-west-1' }),
        ],
      },
      count: 2,
    });
  });

  it('is idempotent on structures too', () => {
    const input = {
      [SECRETS.slack_token]: [{ aws_secret_access_key: AWS_SECRET, 'x@example.com': 'y@example.com' }],
      'z@example.com': 1,
      'w@example.com': 2,
    };

    const first = redactDeep(input, on);
    const second = redactDeep(first.value, on);

    expect(first.count).toBe(6);
    expect(second).toEqual({ value: first.value, count: 0 });
  });

  it('keeps a "__proto__" key as data', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "jane@example.com"}}') as Record<string, unknown>;

    const result = redactDeep(input, on);

    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(Object.keys(result.value)).toEqual(['__proto__']);
    expect(result.count).toBe(1);
  });
});

// One sample of every kind, as it appears in text; with the replacement it leaves.
const EVERY_KIND: readonly (readonly [string, string, string])[] = [
  ...Object.entries(SECRETS).map(([kind, secret]) => [kind, secret, `[REDACTED:${kind}]`] as const),
  ['private_key', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yoGc\n-----END EC PRIVATE KEY-----', '[REDACTED:private_key]'],
  ['aws_secret_access_key', `aws_secret_access_key=${AWS_SECRET}`, 'aws_secret_access_key=[REDACTED:aws_secret_access_key]'],
  ['url_password', 'mysql://root:t0psecret@db:3306', 'mysql://root:[REDACTED:url_password]@db:3306'],
  ['bearer_token', 'Bearer abc123DEF456ghi789', 'Bearer [REDACTED:bearer_token]'],
  ['email', 'ops.team@example.org', '[REDACTED:email]'],
];

describe('redactDeep: every kind, wherever it is', () => {
  it.each(EVERY_KIND)('redacts a %s in an attribute name', (_kind, secret, redacted) => {
    expect(redactDeep({ attrs: { [secret]: 1 } }, on)).toEqual({ value: { attrs: { [redacted]: 1 } }, count: 1 });
  });

  it.each(EVERY_KIND)('redacts a %s in values of nested arrays', (_kind, secret, redacted) => {
    const result = redactDeep({ a: [[`x ${secret} y`], { b: [secret] }] }, on);

    expect(result).toEqual({ value: { a: [[`x ${redacted} y`], { b: [redacted] }] }, count: 2 });
  });

  it('redacts e-mail addresses in keys and values at any depth only when the switch is on', () => {
    const input = { owner: 'jane@example.com', team: ['a@b.io', { 'x@y.dev': 'ok' }] };

    expect(redactDeep(input, on)).toEqual({
      value: { owner: '[REDACTED:email]', team: ['[REDACTED:email]', { '[REDACTED:email]': 'ok' }] },
      count: 3,
    });
    expect(redactDeep(input, off)).toEqual({ value: input, count: 0 });
  });

  it('counts every replacement in keys, values and whole-secret fields', () => {
    const input = {
      prompt: `use ${SECRETS.openai_key} or ${SECRETS.anthropic_key}`,
      [SECRETS.aws_access_key_id]: { SecretAccessKey: AWS_SECRET },
      list: [RSA_KEY, 'Bearer abc123DEF456ghi789', 'fine', 7],
      who: 'jane@example.com',
    };
    const expected = {
      prompt: 'use [REDACTED:openai_key] or [REDACTED:anthropic_key]',
      '[REDACTED:aws_access_key_id]': { SecretAccessKey: '[REDACTED:aws_secret_access_key]' },
      list: ['[REDACTED:private_key]', 'Bearer [REDACTED:bearer_token]', 'fine', 7],
      who: '[REDACTED:email]',
    };

    expect(redactDeep(input, on)).toEqual({ value: expected, count: 7 });
    expect(redactDeep(input, off)).toEqual({ value: { ...expected, who: 'jane@example.com' }, count: 6 });
  });

  it('numbers keys that redact to the same name in their order', () => {
    const other = SECRETS.jwt.replace('12', '34');

    const result = redactDeep({ [SECRETS.jwt]: 'a', [other]: 'b', '[REDACTED:jwt]': 'c' }, on);

    expect(result.value).toEqual({ '[REDACTED:jwt]#2': 'a', '[REDACTED:jwt]#3': 'b', '[REDACTED:jwt]': 'c' });
    expect(Object.keys(result.value)).toEqual(['[REDACTED:jwt]#2', '[REDACTED:jwt]#3', '[REDACTED:jwt]']);
    expect(result.count).toBe(2);
  });

  it('leaves markers of an earlier redaction as they are, and counts nothing', () => {
    const input = {
      SecretAccessKey: '[REDACTED:aws_secret_access_key]',
      '[REDACTED:email]': '[REDACTED:email]',
      empty: { aws_secret_access_key: '' },
      lines: [
        'aws_secret_access_key=[REDACTED:aws_secret_access_key]',
        'postgres://u:[REDACTED:url_password]@h/db',
        'Authorization: Bearer [REDACTED:bearer_token]',
        '[REDACTED:private_key] and [REDACTED:jwt]',
      ],
    };

    expect(redactDeep(input, on)).toEqual({ value: input, count: 0 });
  });

  it('returns the input itself when nothing in it is a secret, and leaves a redacted input untouched', () => {
    const clean = { runId: 'r1', step: { name: 'Bash', attributes: { cwd: '/home/dev/app', 'task-list': ['https://example.com'] } } };
    const dirty = { a: { b: [`k ${SECRETS.slack_token}`] }, c: { d: 'fine' } };
    const before = JSON.stringify(dirty);

    const cleanResult = redactDeep(clean, on);
    const dirtyResult = redactDeep(dirty, on);

    expect(cleanResult).toEqual({ value: clean, count: 0 });
    expect(cleanResult.value).toBe(clean);
    expect(dirtyResult.value).toEqual({ a: { b: ['k [REDACTED:slack_token]'] }, c: { d: 'fine' } });
    expect(JSON.stringify(dirty)).toBe(before);
  });

  it('gives plain objects for objects without a prototype', () => {
    const input = Object.assign(Object.create(null) as Record<string, unknown>, { a: 'x', b: { c: 1 } });

    const result = redactDeep(input, on);

    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(result).toEqual({ value: { a: 'x', b: { c: 1 } }, count: 0 });
  });
});

describe('redactString: trigger words without a secret', () => {
  it.each([
    'npm i @types/node',
    'see https://example.com/a?b=c',
    'the secret sauce',
    'the bearer of bad news',
    'ASIA pacific region',
    'a task-list and disk-ant-volume',
    'xoxo hugs',
    'AIzaShort',
    'eyJhbGciOi only one part',
    'ghp_short github_pat_x glpat-short',
    '-----BEGIN PUBLIC KEY-----',
    'AWS_SECRET_ACCESS_KEY=${{ secrets.AWS }}',
    'mailto: @channel please',
    'user@localhost',
    'git@gitlab.com:a/b.git',
    'icon@3x.png',
    'ftp://anonymous@host/pub',
  ])('leaves %j unchanged', (text) => {
    expect(redactString(text, on)).toEqual({ value: text, count: 0 });
    expect(redactString(text, off)).toEqual({ value: text, count: 0 });
  });
});

describe('redactString: two secrets in one string', () => {
  it.each([
    ['of one kind', `${SECRETS.github_token} and ${SECRETS.github_token}`, '[REDACTED:github_token] and [REDACTED:github_token]'],
    ['of two kinds', `${SECRETS.slack_token} ${SECRETS.google_api_key}`, '[REDACTED:slack_token] [REDACTED:google_api_key]'],
    ['on adjacent lines', `${SECRETS.jwt}\n${SECRETS.aws_access_key_id}`, '[REDACTED:jwt]\n[REDACTED:aws_access_key_id]'],
    ['in two URLs', 'a://u:p1@h b://v:p2@k', 'a://u:[REDACTED:url_password]@h b://v:[REDACTED:url_password]@k'],
  ])('replaces both %s', (_label, text, redacted) => {
    expect(redactString(text, off)).toEqual({ value: redacted, count: 2 });
  });

  it('replaces two e-mail addresses only when the switch is on', () => {
    expect(redactString('a@example.com,b@example.com', on)).toEqual({ value: '[REDACTED:email],[REDACTED:email]', count: 2 });
    expect(redactString('a@example.com,b@example.com', off)).toEqual({ value: 'a@example.com,b@example.com', count: 0 });
  });

  it('replaces a Bearer token and an e-mail address side by side', () => {
    expect(redactString('Bearer abc123DEF456ghi789 for jane@example.com', on)).toEqual({
      value: 'Bearer [REDACTED:bearer_token] for [REDACTED:email]',
      count: 2,
    });
  });
});
