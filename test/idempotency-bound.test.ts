// The idempotency table has a bound: a client sending a fresh key with every strike cannot grow a
// covenant object's storage without limit. The oldest finished records go first; running ones stay.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { IdempotencyBook } from "../src/covenant/idempotency";
import type { StrikeInput, StrikeOutcome } from "../src/covenant/types";

const input = (key: string, prompt: string) =>
  ({ tenant: "t", covenantId: "c", strikeId: `s-${key}`, promptText: prompt, maxTokens: 4, temperature: 0, latencySensitive: false, idempotencyKey: key }) as unknown as StrikeInput & { idempotencyKey: string };

const answered = (i: StrikeInput): Promise<StrikeOutcome> => Promise.resolve({ ok: false, status: 400, error: { type: "answered", message: i.strikeId } });

describe("IdempotencyBook bound", () => {
  it("keeps at most its bound, evicting the oldest finished records and never one still running", async () => {
    const stub = env.COVENANT.getByName(`idem-bound-${crypto.randomUUID()}`);
    await runInDurableObject(stub, async (_o, state) => {
      const book = new IdempotencyBook(state.storage.sql, 5);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      // k0 is still running while ten more keys arrive.
      const running = book.run(input("k0", "slow"), async (i) => {
        await gate;
        return answered(i);
      });
      for (let n = 1; n <= 10; n++) await book.run(input(`k${n}`, `p${n}`), answered);
      const rows = state.storage.sql.exec<{ key: string }>(`SELECT key FROM idempotency ORDER BY created_at, key`).toArray().map((r) => r.key);
      expect(rows.length).toBe(5);
      expect(book.size).toBe(5);
      expect(rows).toContain("k0");
      expect(rows).toEqual(expect.arrayContaining(["k7", "k8", "k9", "k10"]));
      // An evicted key runs again (it is no longer known); a kept one replays.
      let ran = 0;
      const count = (i: StrikeInput) => (ran++, answered(i));
      await book.run(input("k1", "p1"), count);
      expect(ran).toBe(1);
      expect((await book.run(input("k10", "p10"), count)).replayed).toBe(true);
      expect(ran).toBe(1);
      release();
      await running;
      // A fresh book over the same table reads its size back.
      expect(new IdempotencyBook(state.storage.sql, 5).size).toBe(book.size);
      book.forget();
      expect(state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM idempotency`).one().n).toBe(0);
    });
  });
});
