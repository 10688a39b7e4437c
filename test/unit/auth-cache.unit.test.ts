import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Authenticator } from '../../shared/auth/principal.ts';
import { issueSecret } from '../../shared/auth/secrets.ts';
import { ControlTable } from '../../shared/store/control-table.ts';
import { parseConfig } from '../../shared/config.ts';
import { LidlessError } from '../../shared/errors.ts';

/**
 * The revocation bound: a look-up is cached for cacheMs, so a revoked key, token or grant stops working
 * at most cacheMs after it was revoked. The control table is mocked and the clock injected.
 */
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);
const control = new ControlTable({
  ddb,
  s3: new S3Client({ region: 'us-east-1' }),
  tables: { control: 'lidless-control', runs: 'lidless-runs', rollups: 'lidless-rollups', metrics: 'lidless-metrics', alerts: 'lidless-alerts' },
  bucket: 'lidless-raw',
});
const OPERATOR = 'ldo_unit_test_operator_token';
const CACHE_MS = 2000;

let clock = 0;
const authenticator = (cacheMs = CACHE_MS) => new Authenticator(control, async () => OPERATOR, cacheMs, () => clock);

/** The code of the error an authentication fails with, or the principal's kind. */
async function outcome(auth: Authenticator, secret: string | undefined): Promise<string> {
  try {
    return (await auth.authenticate(secret)).kind;
  } catch (err) {
    if (err instanceof LidlessError) return err.code;
    throw err;
  }
}

function tenantKeyItem(secret: { id: string; hash: string }, revokedAt?: string) {
  return { pk: `KEY#${secret.id}`, sk: 'KEY', keyId: secret.id, tenantId: 'tn_a', scopes: ['ingest', 'read'], hash: secret.hash, createdAt: '2026-01-01T00:00:00Z', revokedAt };
}

beforeEach(() => {
  ddbMock.reset();
  clock = 1_000_000;
});

describe('Authenticator cache bound', () => {
  it('a revoked tenant key keeps working only until cacheMs after its last look-up', async () => {
    // Prepare
    const key = issueSecret('tenantKey');
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key) });
    const auth = authenticator();
    expect(await auth.authenticate(key.secret)).toEqual({ kind: 'tenantKey', keyId: key.id, tenantId: 'tn_a', scopes: ['ingest', 'read'] });

    // Act: revoke in storage
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key, '2026-01-01T00:00:01Z') });

    // Assess: still cached just inside the bound, refused once it is reached
    clock += CACHE_MS - 1;
    expect(await outcome(auth, key.secret)).toBe('tenantKey');
    clock += 1;
    expect(await outcome(auth, key.secret)).toBe('UNAUTHORIZED');
    expect(ddbMock.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('a revoked grant disappears from a consultant within cacheMs', async () => {
    // Prepare
    const token = issueSecret('consultant');
    const item = (tenantIds: string[]) => ({ pk: `CONSULTANT#${token.id}`, sk: 'CONSULTANT', consultantId: token.id, name: 'auditor', hash: token.hash, tenantIds, createdAt: '2026-01-01T00:00:00Z' });
    ddbMock.on(GetCommand).resolves({ Item: item(['tn_a', 'tn_b']) });
    const auth = authenticator();
    await auth.authenticate(token.secret);

    // Act
    ddbMock.on(GetCommand).resolves({ Item: item(['tn_b']) });
    clock += CACHE_MS;

    // Assess
    expect(await auth.authenticate(token.secret)).toEqual({ kind: 'consultant', consultantId: token.id, tenantIds: ['tn_b'] });
  });

  it('an unknown secret is refused, and that refusal is remembered no longer than cacheMs', async () => {
    // Prepare: the key's id is looked up while the table does not hold it
    const key = issueSecret('tenantKey');
    ddbMock.on(GetCommand).resolves({});
    const auth = authenticator();
    expect(await outcome(auth, key.secret)).toBe('UNAUTHORIZED');

    // Act
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key) });
    clock += CACHE_MS;

    // Assess
    expect(await outcome(auth, key.secret)).toBe('tenantKey');
  });

  it('a secret whose hash does not match the stored one is refused even with a known key id', async () => {
    // Prepare: someone who knows a key id guesses the rest
    const key = issueSecret('tenantKey');
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key) });
    const forged = key.secret.replace(/_[^_]+$/, '_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');

    // Act / Assess
    expect(await outcome(authenticator(), forged)).toBe('UNAUTHORIZED');
  });

  it('with cacheMs 0 every request looks the key up again, so a revocation applies at once', async () => {
    // Prepare
    const key = issueSecret('tenantKey');
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key) });
    const auth = authenticator(0);
    await auth.authenticate(key.secret);

    // Act
    ddbMock.on(GetCommand).resolves({ Item: tenantKeyItem(key, '2026-01-01T00:00:01Z') });

    // Assess
    expect(await outcome(auth, key.secret)).toBe('UNAUTHORIZED');
  });

  it('the operator token is recognised without a table read; no secret at all is UNAUTHORIZED', async () => {
    const auth = authenticator();
    expect(await outcome(auth, OPERATOR)).toBe('operator');
    expect(await outcome(auth, `${OPERATOR}x`)).toBe('UNAUTHORIZED');
    expect(await outcome(auth, undefined)).toBe('UNAUTHORIZED');
    expect(ddbMock.commandCalls(GetCommand)).toHaveLength(0);
  });
});

describe('LIDLESS_AUTH_CACHE_MS', () => {
  it('defaults to 2000 ms and may not exceed 5 s', () => {
    expect(parseConfig({}).LIDLESS_AUTH_CACHE_MS).toBe(2000);
    expect(parseConfig({ LIDLESS_AUTH_CACHE_MS: '5000' }).LIDLESS_AUTH_CACHE_MS).toBe(5000);
    expect(() => parseConfig({ LIDLESS_AUTH_CACHE_MS: '5001' })).toThrow(/LIDLESS_AUTH_CACHE_MS/);
  });
});
