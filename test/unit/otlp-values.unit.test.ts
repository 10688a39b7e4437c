import { describe, expect, it } from 'vitest';
import { anyValueToJs, attributesToObject, readBoolean, readNumber, toHexId } from '../../shared/formats/otlp/index.ts';
import { nanosToMs } from '../../shared/formats/otlp/time.ts';

describe('OTLP ids', () => {
  it('reads hex and base64 ids as lowercase hex', () => {
    expect(toHexId('5B8EFFF798038103D269B633813FC60C', 16)).toBe('5b8efff798038103d269b633813fc60c');
    expect(toHexId('W47/95gDgQPSabYzgT/GDA==', 16)).toBe('5b8efff798038103d269b633813fc60c');
    expect(toHexId('7uGbfsPBsXQ=', 8)).toBe('eee19b7ec3c1b174');
  });

  it('treats empty and all-zero ids as absent, and refuses ids of the wrong size', () => {
    expect(toHexId('', 8)).toBeUndefined();
    expect(toHexId(undefined, 8)).toBeUndefined();
    expect(toHexId('0000000000000000', 8)).toBeUndefined();
    expect(toHexId('AAAAAAAAAAA=', 8)).toBeUndefined();
    expect(() => toHexId('abc', 8)).toThrow('must be 8 bytes as hex or base64');
    expect(() => toHexId(42, 8)).toThrow('must be a hex or base64 string');
  });
});

describe('OTLP attribute values', () => {
  it('turns every AnyValue kind into a plain value, keeping 64-bit integers exact', () => {
    const attrs = attributesToObject([
      { key: 's', value: { stringValue: 'x' } },
      { key: 'i', value: { intValue: '42' } },
      { key: 'n', value: { intValue: 7 } },
      { key: 'big', value: { intValue: '9007199254740993' } },
      { key: 'd', value: { doubleValue: 1.5 } },
      { key: 'b', value: { boolValue: false } },
      { key: 'a', value: { arrayValue: { values: [{ stringValue: 'p' }, { intValue: '1' }] } } },
      { key: 'm', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } } },
      { key: 'bytes', value: { bytesValue: 'AQI=' } },
      { key: 'empty', value: {} },
    ]);
    expect(attrs).toEqual({
      s: 'x',
      i: 42,
      n: 7,
      big: '9007199254740993',
      d: 1.5,
      b: false,
      a: ['p', 1],
      m: { k: true },
      bytes: 'AQI=',
      empty: null,
    });
    expect(anyValueToJs(undefined)).toBeNull();
  });

  it('reads numbers and booleans sent as strings', () => {
    const attrs = { cost: '0.0123', n: 3, blank: '', word: 'abc', yes: 'true', no: 'FALSE', flag: true };
    expect(readNumber(attrs, 'cost')).toBe(0.0123);
    expect(readNumber(attrs, 'n')).toBe(3);
    expect(readNumber(attrs, 'blank')).toBeUndefined();
    expect(readNumber(attrs, 'word')).toBeUndefined();
    expect(readBoolean(attrs, 'yes')).toBe(true);
    expect(readBoolean(attrs, 'no')).toBe(false);
    expect(readBoolean(attrs, 'flag')).toBe(true);
    expect(readBoolean(attrs, 'word')).toBeUndefined();
  });
});

describe('OTLP times', () => {
  it('converts nanosecond strings past 2^53 to milliseconds without float error', () => {
    expect(nanosToMs('1768471200123999999')).toBe(1768471200123);
    expect(nanosToMs(1768471200123000000)).toBe(1768471200123);
    expect(nanosToMs('0')).toBeUndefined();
    expect(() => nanosToMs('12ab')).toThrow('must be unsigned nanoseconds since the epoch');
    expect(() => nanosToMs('1000')).toThrow('between the years 2000 and 2200');
  });
});
