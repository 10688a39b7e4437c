import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventHashes, eventHash } from '../../shared/store/run-item.ts';

// the stored format, written out by hand: the first 6 bytes of each event id's SHA-256, concatenated
const storedBytes = (ids: string[]) => Buffer.concat(ids.map((id) => createHash('sha256').update(id).digest().subarray(0, 6)));

describe("a run's event hashes", () => {
  it('reads the stored bytes back as the hashes of the events they name', () => {
    const hashes = EventHashes.fromBytes(storedBytes(['e1', 'e2', 'e3']));
    expect(hashes.size).toBe(3);
    for (const id of ['e1', 'e2', 'e3']) expect(hashes.has(eventHash(id))).toBe(true);
    expect(hashes.has(eventHash('e4'))).toBe(false);
  });

  it('stores a run grown over many requests exactly as if its hashes were written at once', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `event-${i}`);
    let grown = EventHashes.none;
    for (let i = 0; i < ids.length; i += 7) grown = grown.with(ids.slice(i, i + 7).map(eventHash));
    expect(Buffer.from(grown.bytes())).toEqual(storedBytes(ids));
    expect(grown.size).toBe(50);
    // and what is read back goes on growing the same way
    const reread = EventHashes.fromBytes(grown.bytes()).with([eventHash('event-50')]);
    expect(Buffer.from(reread.bytes())).toEqual(storedBytes([...ids, 'event-50']));
  });

  it('finds every hash of a run grown one event at a time over a hundred requests, and no other', () => {
    let grown = EventHashes.none;
    const versions: EventHashes[] = [];
    for (let i = 0; i < 100; i++) {
      grown = grown.with([eventHash(`e${i}`)]);
      versions.push(grown);
    }
    expect(grown.size).toBe(100);
    for (let i = 0; i < 100; i++) expect(grown.has(eventHash(`e${i}`))).toBe(true);
    expect(grown.has(eventHash('e100'))).toBe(false);
    // every earlier value still holds exactly what it held
    expect(versions[41]!.has(eventHash('e41'))).toBe(true);
    expect(versions[41]!.has(eventHash('e42'))).toBe(false);
    expect(Buffer.from(grown.bytes())).toEqual(storedBytes(Array.from({ length: 100 }, (_, i) => `e${i}`)));
  });

  it('leaves the value it grows from as it was, so a plan that is never written changes nothing', () => {
    const before = EventHashes.fromBytes(storedBytes(['e1']));
    const after = before.with([eventHash('e2')]);
    expect(after.has(eventHash('e2'))).toBe(true);
    expect(before.has(eventHash('e2'))).toBe(false);
    expect(Buffer.from(before.bytes())).toEqual(storedBytes(['e1']));
  });

  it('seals its open hashes into a page and goes on finding them, the item keeping only newer ones', () => {
    const { page, hashes } = EventHashes.none.with(['e1', 'e2'].map(eventHash)).sealed();
    expect(Buffer.from(page)).toEqual(storedBytes(['e1', 'e2']));
    expect(hashes.openCount).toBe(0);
    expect(hashes.has(eventHash('e1'))).toBe(true);
    const later = hashes.with([eventHash('e3')]);
    expect(Buffer.from(later.bytes())).toEqual(storedBytes(['e3']));
    expect(later.size).toBe(3);
  });

  it('is read back from the run item and its sealed pages', () => {
    const hashes = EventHashes.fromBytes(storedBytes(['e5'])).withSealed([storedBytes(['e1', 'e2']), storedBytes(['e3', 'e4'])]);
    expect(hashes.size).toBe(5);
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5']) expect(hashes.has(eventHash(id))).toBe(true);
    expect(hashes.openCount).toBe(1);
    expect(Buffer.from(hashes.bytes())).toEqual(storedBytes(['e5']));
  });

  it('reads nothing from no bytes, and ignores a trailing partial hash', () => {
    expect(EventHashes.fromBytes(undefined).size).toBe(0);
    const torn = Buffer.concat([storedBytes(['e1', 'e2']), Buffer.from([1, 2, 3])]);
    const hashes = EventHashes.fromBytes(torn);
    expect(hashes.size).toBe(2);
    expect(Buffer.from(hashes.with([eventHash('e3')]).bytes())).toEqual(storedBytes(['e1', 'e2', 'e3']));
  });
});
