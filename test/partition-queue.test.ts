import { env, runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { covenantObjectName } from "../src/covenant";
import { PartitionQueue } from "../src/covenant/partition-queue";

it("resumes waiting strikes highest priority first, oldest first within a priority", async () => {
  const stub = env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", `pq-${crypto.randomUUID()}`)));
  const order = await runInDurableObject(stub, async (_obj, state) => {
    const q = new PartitionQueue(state.storage.sql);
    const resumed: string[] = [];
    const waits = [
      ["low-1", 0],
      ["high-1", 2],
      ["normal-1", 1],
      ["high-2", 2],
    ].map(([id, rank]) => q.wait(id as string, rank as number, Date.now() + 60_000, 60_000).then(() => resumed.push(id as string)));
    expect(q.depth).toBe(4);
    expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM partition_queue`).one().n).toBe(4);
    q.wakeAll();
    await Promise.all(waits);
    expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM partition_queue`).one().n).toBe(0);
    return resumed;
  });
  expect(order).toEqual(["high-1", "high-2", "normal-1", "low-1"]);
});
